/**
 * Test doubles for the tiered cache's own logic: a Map-backed byte cache with a controllable clock,
 * failure switch, a read hook and a call log; an in-process invalidation bus; a fake lease. Real-server
 * behaviour is covered by redis.test.ts.
 */

import type {
  Bytes,
  Cache,
  CacheEntry,
  Invalidation,
  InvalidationBus,
  LoaderLease,
} from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';

export interface FakeCache extends Cache {
  /** Every call as `op key` (getMany/setMany list their keys joined by `,`). */
  readonly calls: string[];
  /** TTL passed with the last write of each key. */
  readonly ttls: Map<string, number | undefined>;
  readonly store: Map<string, { value: Bytes; expiresAt: number }>;
  /** `'error'`: every call rejects with CacheError('unavailable'); `'hang'`: never settles. */
  mode: 'ok' | 'error' | 'hang';
  /** Called before each read settles (lets a test interleave an invalidation). */
  beforeRead?: (key: string) => Promise<void> | void;
}

export function fakeCache(name: string, now: () => number = Date.now): FakeCache {
  const store = new Map<string, { value: Bytes; expiresAt: number }>();
  const calls: string[] = [];
  const ttls = new Map<string, number | undefined>();
  const self: FakeCache = {
    name,
    calls,
    ttls,
    store,
    mode: 'ok',
    async get(key) {
      await gate(`get ${key}`);
      await self.beforeRead?.(key);
      return read(key);
    },
    async set(key, value, ttl) {
      await gate(`set ${key}`);
      write(key, value, ttl);
      return true;
    },
    async delete(key) {
      await gate(`delete ${key}`);
      return store.delete(key);
    },
    async deleteMany(keys) {
      await gate(`deleteMany ${keys.join(',')}`);
      let n = 0;
      for (const k of keys) if (store.delete(k)) n++;
      return n;
    },
    async has(key) {
      await gate(`has ${key}`);
      return read(key) !== undefined;
    },
    async getMany(keys) {
      await gate(`getMany ${keys.join(',')}`);
      return keys.map(read);
    },
    async setMany(entries: readonly CacheEntry[]) {
      await gate(`setMany ${entries.map((e) => e.key).join(',')}`);
      for (const e of entries) write(e.key, e.value, e.ttl);
    },
    async clear() {
      await gate('clear');
      store.clear();
    },
    async getOrSet() {
      throw new Error('not used by the tiered cache');
    },
  };
  function read(key: string): Bytes | undefined {
    const e = store.get(key);
    if (!e) return undefined;
    if (now() >= e.expiresAt) {
      store.delete(key);
      return undefined;
    }
    return e.value;
  }
  function write(key: string, value: Bytes, ttl: number | undefined) {
    ttls.set(key, ttl);
    store.set(key, { value, expiresAt: ttl === undefined ? Number.POSITIVE_INFINITY : now() + ttl });
  }
  async function gate(call: string) {
    calls.push(call);
    if (self.mode === 'error') throw new CacheError('unavailable', `${name} is down`);
    if (self.mode === 'hang') await new Promise(() => {});
  }
  return self;
}

/** A manual clock. */
export function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** An in-process bus hub: every endpoint receives what any endpoint publishes. */
export function busHub() {
  const endpoints = new Set<{ onInvalidation: (m: Invalidation) => void; onReconnect: () => void }>();
  const published: Invalidation[] = [];
  return {
    published,
    endpoints,
    bus(): InvalidationBus {
      const mine = new Set<{ onInvalidation: (m: Invalidation) => void; onReconnect: () => void }>();
      return {
        async publish(m) {
          published.push(m);
          for (const e of endpoints) e.onInvalidation(m);
        },
        async subscribe(onInvalidation, onReconnect) {
          const e = { onInvalidation, onReconnect };
          endpoints.add(e);
          mine.add(e);
          return () => {
            endpoints.delete(e);
            mine.delete(e);
          };
        },
        async close() {
          for (const e of mine) endpoints.delete(e);
        },
      };
    },
    /** Simulates every subscriber reconnecting (messages may have been lost). */
    reconnectAll() {
      for (const e of endpoints) e.onReconnect();
    },
  };
}

/** A process-local lease table shared by several caches (stands in for Redis SET NX). */
export function fakeLeases() {
  const held = new Set<string>();
  let acquired = 0;
  let refused = 0;
  const lease: LoaderLease = {
    async acquire(key) {
      if (held.has(key)) {
        refused++;
        return undefined;
      }
      held.add(key);
      acquired++;
      return async () => {
        held.delete(key);
      };
    },
  };
  return {
    lease,
    held,
    get acquired() {
      return acquired;
    },
    get refused() {
      return refused;
    },
  };
}

export const bytes = (s: string): Bytes => new TextEncoder().encode(s);
export const text = (b: Bytes | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** Resolves after every queued microtask and pending I/O callback of this turn. */
export const tick = () => new Promise((r) => setImmediate(r));
