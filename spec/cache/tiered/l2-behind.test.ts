/**
 * A value the tiered cache loaded while L2 did not answer lives in L1 only; L2 may still hold an
 * older value of the key. Once the L1 copy is gone (`l1Ttl`, a failed write's drop), that older
 * value must not be served again to callers who already had the newer one: reads never go back in
 * time. Before, `get` served it (found by the faulted model test: "read a=v1 … older than L5
 * which that caller already read"). Real Redis behind the loopback fault proxy, whose `delay`
 * holds commands past `l2Timeout`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createBehind } from '../../../lib/cache/tiered/behind.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

// Every call outside `slowL2` and the dropping windows must be answered within L2_TIMEOUT: at
// 100 ms one event-loop stall of a loaded machine (GC pause, descheduled process) timed out the
// first plain `set` ("no reply within the caller's 100 ms budget"). 400 ms leaves room for one;
// DELAY stays well past it.
const L2_TIMEOUT = 400;
const DELAY = 1200;
const L1_TTL = 300;
const enc = (s: string) => Buffer.from(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('behind marks (unit)', () => {
  it('settle keeps a mark noted after the read began; the oldest marks go beyond the bound', () => {
    const b = createBehind(3);
    assert.equal(b.has('a'), false);
    const since = b.mark();
    b.note('a');
    b.settle('a', since); // a read begun before the note may have reached L2 before the older value
    assert.equal(b.has('a'), true);
    b.settle('a', b.mark());
    assert.equal(b.has('a'), false);
    for (const k of ['a', 'b', 'c']) b.note(k);
    b.note('a'); // moves to the end
    b.note('d'); // over the bound: the oldest ('b') goes
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].filter((k) => b.has(k)),
      ['a', 'c', 'd'],
    );
    b.settle('c');
    assert.equal(b.has('c'), false);
    b.settleAll();
    assert.equal(b.size, 0);
  });
});

describeWithServers('tiered: values loaded while L2 did not answer', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  let n = 0;
  const open = (extra: { grace?: number } = {}): { cache: TieredCache; prefix: string } => {
    const prefix = `behind-${++n}:`;
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({
        addresses: [`127.0.0.1:${proxy.port}`],
        commandTimeout: 2000,
        keyPrefix: prefix,
      }),
      l2Timeout: L2_TIMEOUT,
      l1Ttl: L1_TTL,
      breaker: false,
      ...extra,
    });
    return { cache, prefix };
  };
  /** Runs `fn` while every command is held past `l2Timeout`, then lets the held ones through. */
  const slowL2 = async <T>(fn: () => Promise<T>): Promise<T> => {
    proxy.delay = DELAY;
    try {
      return await fn();
    } finally {
      proxy.delay = 0;
      await waitFor(() => proxy.held === 0, { timeoutMs: 5000 });
    }
  };
  const raw = async (prefix: string, key: string) =>
    String((await redisCommand(redis.port, ['GET', `${prefix}${key}`])) ?? '');

  it('after the L1 copy expires, get/getMany/has never serve the older L2 value; getOrSet repairs L2', async () => {
    const { cache, prefix } = open();
    try {
      await cache.ready;
      await cache.set('a', enc('v1'), 60_000);
      await sleep(L1_TTL + 50); // L1's copy ended: the next read asks L2
      const loaded = await slowL2(() => cache.getOrSetWithMeta('a', async () => enc('L5'), 60_000));
      assert.deepEqual([dec(loaded.value), loaded.source], ['L5', 'loader']);
      assert.match(await raw(prefix, 'a'), /v1$/, 'L2 still holds the older value');
      await sleep(L1_TTL + 50);
      assert.equal(dec(await cache.get('a')), undefined, 'get after the L1 copy ended');
      assert.deepEqual((await cache.getMany(['a'])).map(dec), [undefined]);
      assert.equal(await cache.has('a'), false);
      // getOrSet loads again and stores over exactly the older bytes: L2 is repaired.
      assert.equal(dec(await cache.getOrSet('a', async () => enc('L6'), 60_000)), 'L6');
      assert.match(await raw(prefix, 'a'), /L6$/);
      await sleep(L1_TTL + 50);
      assert.equal(dec(await cache.get('a')), 'L6', 'served from L2 again once repaired');
    } finally {
      await cache.close();
    }
  });

  it('clear() ends the marks: a value written afterwards (by another instance) is served', async () => {
    const { cache, prefix } = open();
    const other = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix }),
    });
    try {
      await Promise.all([cache.ready, other.ready]);
      await cache.set('a', enc('v1'), 60_000);
      await sleep(L1_TTL + 50);
      assert.equal(dec(await slowL2(() => cache.getOrSet('a', async () => enc('L5'), 60_000))), 'L5');
      await cache.clear(); // L2 holds nothing older of any key now
      await other.set('a', enc('v2'), 60_000);
      assert.equal(dec(await cache.get('a')), 'v2', 'the value written after the clear');
      assert.equal(await cache.has('a'), true);
    } finally {
      await cache.close();
      await other.close();
    }
  });

  it('a failed write dropping the loaded L1 copy does not bring the older value back', async () => {
    const { cache, prefix } = open();
    try {
      await cache.ready;
      await cache.set('a', enc('v1'), 60_000);
      await sleep(L1_TTL + 50);
      assert.equal(dec(await slowL2(() => cache.getOrSet('a', async () => enc('L5'), 60_000))), 'L5');
      proxy.dropping = true; // the write never reaches Redis: it times out
      const failed = await cache.set('a', enc('v7'), 60_000).then(
        () => 'stored',
        (e: { code?: string }) => e.code,
      );
      proxy.dropping = false;
      assert.equal(failed, 'timeout');
      // The cut connection is back once a write of another key goes through.
      await waitFor(
        () =>
          cache.set('probe', enc('p')).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 5000 },
      );
      assert.match(await raw(prefix, 'a'), /v1$/, 'the failed write did not land');
      assert.equal(dec(await cache.get('a')), undefined, 'the older value came back after the failed write');
    } finally {
      await cache.close();
    }
  });

  it('getOrSetMany loaded while L2 did not answer: getMany never serves the older values', async () => {
    const { cache } = open();
    try {
      await cache.ready;
      await cache.setMany([
        { key: 'x', value: enc('v1'), ttl: 60_000 },
        { key: 'y', value: enc('v2'), ttl: 60_000 },
      ]);
      await sleep(L1_TTL + 50);
      const loaded = await slowL2(() =>
        cache.getOrSetMany(['x', 'y'], async (keys) => keys.map((k) => enc(`L-${k}`)), 60_000),
      );
      assert.deepEqual(loaded.map(dec), ['L-x', 'L-y']);
      await sleep(L1_TTL + 50);
      assert.deepEqual((await cache.getMany(['x', 'y'])).map(dec), [undefined, undefined]);
      // A write of one key clears its mark: L2 holds that write's value, newer than the load.
      await cache.set('x', enc('v9'), 60_000);
      await sleep(L1_TTL + 50);
      assert.deepEqual((await cache.getMany(['x', 'y'])).map(dec), ['v9', undefined]);
    } finally {
      await cache.close();
    }
  });

  it('a load whose L2 store never landed: a failing loader later is not answered with the older stale L2 value', async () => {
    // L2 answered (a stale v1) but the store of the loaded value did not land: L1 held L5 alone,
    // and once that copy was dropped a getOrSet whose loader failed served v1 from L2 as stale.
    const { cache, prefix } = open({ grace: 60_000 });
    try {
      await cache.ready;
      await cache.set('a', enc('v1'), 100);
      await sleep(L1_TTL + 50); // v1 is stale in L2 (within grace); L1's copy ended
      const loaded = await cache.getOrSetWithMeta(
        'a',
        async () => {
          proxy.dropping = true; // the read answered; the store of L5 never reaches Redis
          return enc('L5');
        },
        60_000,
      );
      proxy.dropping = false;
      assert.deepEqual([dec(loaded.value), loaded.source], ['L5', 'loader']);
      await waitFor(
        () =>
          cache.set('probe', enc('p')).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 5000 },
      );
      assert.match(await raw(prefix, 'a'), /v1$/, 'the store of L5 did not land');
      // The L1 copy of L5 ends (here a failed write's drop; eviction does the same).
      proxy.dropping = true;
      const failed = await cache.set('a', enc('v7'), 60_000).then(
        () => 'stored',
        (e: { code?: string }) => e.code,
      );
      proxy.dropping = false;
      assert.equal(failed, 'timeout');
      await waitFor(
        () =>
          cache.set('probe', enc('p')).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 5000 },
      );
      assert.match(await raw(prefix, 'a'), /v1$/, 'the failed write did not land');
      const after = await cache
        .getOrSetWithMeta(
          'a',
          async () => {
            throw new Error('source down');
          },
          60_000,
        )
        .then(
          (r) => dec(r.value),
          () => 'rejected',
        );
      assert.notEqual(after, 'v1', 'served the older value this caller had already seen replaced by L5');
      assert.equal(dec(await cache.get('a')), undefined);
    } finally {
      await cache.close();
    }
  });

  it('the same for getOrSetMany: a batch store that never landed leaves the older stale values unserved', async () => {
    const { cache, prefix } = open({ grace: 60_000 });
    try {
      await cache.ready;
      await cache.set('b', enc('v1'), 100);
      await sleep(L1_TTL + 50);
      const loaded = await cache.getOrSetMany(
        ['b'],
        async () => {
          proxy.dropping = true;
          return [enc('L5')];
        },
        60_000,
      );
      proxy.dropping = false;
      assert.deepEqual(loaded.map(dec), ['L5']);
      proxy.dropping = true;
      const failed = await cache.set('b', enc('v7'), 60_000).then(
        () => 'stored',
        (e: { code?: string }) => e.code,
      );
      proxy.dropping = false;
      assert.equal(failed, 'timeout');
      await waitFor(
        () =>
          cache.set('probe', enc('p')).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 5000 },
      );
      assert.match(await raw(prefix, 'b'), /v1$/, 'neither the batch store nor the write landed');
      const after = await cache
        .getOrSetMany(
          ['b'],
          async () => {
            throw new Error('source down');
          },
          60_000,
        )
        .then(
          (r) => r.map(dec)[0],
          () => 'rejected',
        );
      assert.notEqual(after, 'v1', 'served the older value this caller had already seen replaced by L5');
    } finally {
      await cache.close();
    }
  });

  it("bus mode: the repairing store over another instance's fresh value reaches that instance's L1", async () => {
    // A loads L5 while its L2 is slow (L2 keeps v1); B then writes v9 (its L1 holds v9). A's next
    // getOrSet passes over v9 (possibly older than L5), loads L6 and stores it over v9. Before, that
    // store published nothing: B served v9 from L1 for the value's whole TTL while L2 and A said L6.
    const prefix = `behind-bus-${++n}:`;
    const channel = `${prefix}inv`;
    const make = (port: number) => {
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${port}`],
        commandTimeout: 2000,
        keyPrefix: prefix,
      });
      return createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel }),
        l2Timeout: L2_TIMEOUT,
        breaker: false,
      });
    };
    const a = make(proxy.port);
    const b = make(redis.port);
    try {
      await Promise.all([a.ready, b.ready]);
      await b.set('k', enc('v1'), 60_000);
      const loaded = await slowL2(() => a.getOrSetWithMeta('k', async () => enc('L5'), 60_000));
      assert.deepEqual([dec(loaded.value), loaded.source], ['L5', 'loader']);
      const heard = a.stats().invalidationsReceived;
      await b.set('k', enc('v9'), 60_000);
      assert.equal(dec(await b.get('k')), 'v9');
      // A has heard of v9 (else that message, arriving during A's load below, cancels its store).
      await waitFor(() => a.stats().invalidationsReceived > heard, { timeoutMs: 3000 });
      assert.equal(dec(await a.getOrSet('k', async () => enc('L6'), 60_000)), 'L6');
      assert.match(await raw(prefix, 'k'), /L6$/, 'the load replaced v9 in L2');
      // The invalidation travels asynchronously: wait for B's L1 copy of v9 to go (bounded).
      await waitFor(async () => dec(await b.get('k')) === 'L6', {
        timeoutMs: 3000,
        what: "B serves L6 (L2's value) rather than its L1 copy of the replaced v9",
      });
    } finally {
      await a.close();
      await b.close();
    }
  });
});
