/**
 * This instance's end of the invalidation bus: it publishes the keys it wrote (never their values)
 * and drops from L1 the keys other instances wrote. A reconnect may have lost messages, so it
 * clears L1. Bus failures are counted, never thrown at a reader or writer.
 */

import type { Invalidation } from '../../core/contracts.js';
import type { Breaker } from './breaker.js';
import { type FillGate, ignore, type Local } from './local.js';
import type { ResolvedOptions } from './options.js';
import type { Counters } from './stats.js';
import { withTimeout } from './timing.js';

/**
 * The part of the shared context (context.ts) this end of the bus uses, spelled out rather than
 * taken from there: context.ts builds the publisher, so importing it back would be a cycle.
 */
export interface BusSide {
  readonly o: ResolvedOptions;
  /** Told when Redis is seen answering again, so an open breaker probes L2 at once. */
  readonly breaker: Pick<Breaker, 'probeNow'>;
  readonly instanceId: string;
  readonly counters: Counters;
  readonly local: Local;
  readonly gate: FillGate;
  readonly state: { readonly closed: boolean };
}

/**
 * The keyspace of `l2` as invalidations name it: a Redis cache's database and key prefix, else
 * `undefined` (messages then carry no scope, and every message is applied). Two tiered caches of
 * different key prefixes on one channel (the default channel, which every config-built cache
 * uses) dropped each other's L1 copies: every write of one cost the other an L2 read of the key
 * of that name, and a `clear()` of one emptied the other's whole L1.
 */
export function keyspaceOf(l2: unknown): string | undefined {
  const c = l2 as { keyPrefix?: unknown; client?: { options?: { db?: unknown } } } | null | undefined;
  if (typeof c?.keyPrefix !== 'string') return undefined;
  const db = c.client?.options?.db;
  return `${typeof db === 'number' ? db : 0}:${c.keyPrefix}`;
}

/**
 * `message` as it applies to the keyspace `ours` (see {@link keyspaceOf}), or `undefined` when it
 * names none of our keys. A message of another keyspace of the same database still reaches ours
 * where the two overlap (one prefix starts with the other; an empty prefix is the whole database):
 * a `clear()` of either empties keys of both (every Redis key of a cache without a prefix is one
 * of `users:`'s, every `users:` key one of its), so it clears our L1, and a key it names is ours
 * when its Redis key starts with our prefix (`users:1` written without a prefix is `users:`'s
 * `1`). Ignoring every other keyspace's message kept L1 copies of keys such a clear() had deleted.
 */
export function forKeyspace(message: Invalidation, ours: string | undefined): Invalidation | undefined {
  const theirs = message.scope;
  if (ours === undefined || typeof theirs !== 'string' || theirs === ours) return message;
  const split = (scope: string) => {
    const at = scope.indexOf(':');
    return { db: scope.slice(0, at), prefix: scope.slice(at + 1) };
  };
  const a = split(ours);
  const b = split(theirs);
  if (theirs.indexOf(':') < 0 || a.db !== b.db) return undefined;
  if (message.all)
    return a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix) ? message : undefined;
  const keys: string[] = [];
  for (const key of message.keys ?? []) {
    const redisKey = b.prefix + key;
    if (redisKey.startsWith(a.prefix)) keys.push(redisKey.slice(a.prefix.length));
  }
  return keys.length > 0 ? { ...message, keys } : undefined;
}

/** Sends one invalidation, bounded by `l2Timeout`; a no-op without a bus. */
export type Publish = (message: Omit<Invalidation, 'origin'>) => Promise<void>;

export function createPublisher(ctx: Pick<BusSide, 'o' | 'instanceId' | 'counters'>): Publish {
  const { o, instanceId, counters } = ctx;
  const { bus } = o;
  const scope = keyspaceOf(o.l2);
  return async function publish(message) {
    if (!bus) return;
    try {
      const sent =
        scope === undefined ? { origin: instanceId, ...message } : { origin: instanceId, scope, ...message };
      await withTimeout(bus.publish(sent), o.l2Timeout, 'invalidation publish');
      counters.invalidationsSent++;
    } catch {
      counters.busErrors++;
    }
  };
}

/**
 * Subscribes to the other instances' invalidations. `ready` settles with the subscription (at once
 * without a bus); until then L1 is not filled, and it is cleared once the subscription is live.
 * `unsubscribe` removes the handlers once it is live.
 */
export function listen(ctx: BusSide): { ready: Promise<void>; unsubscribe(): void } {
  const { o, instanceId, counters, local, gate, state } = ctx;
  const { bus, logger } = o;
  let unsubscribe: (() => void) | undefined;
  const scope = keyspaceOf(o.l2);

  function onInvalidation(received: Invalidation): void {
    if (state.closed || received.origin === instanceId) return;
    // Another keyspace's keys (see keyspaceOf): not ours, whatever their names, unless the two
    // keyspaces overlap (forKeyspace).
    const message = forKeyspace(received, scope);
    if (message === undefined) return;
    counters.invalidationsReceived++;
    if (message.all) {
      counters.l1Clears++;
      local.dropAll();
      return;
    }
    for (const key of message.keys ?? []) local.drop(key);
  }

  function onReconnect(): void {
    if (state.closed) return;
    counters.busReconnects++;
    counters.l1Clears++;
    // Not a write: a load in flight still stores its value in L2 (conditionally), it only may not
    // fill L1 (a dropAll's fence cancelled that store, and another instance loaded the key again).
    // Cleared before the logger runs: a logger that throws left L1 uncleared.
    local.clearFills();
    ctx.breaker.probeNow(); // the bus reached Redis again: L2 is worth a probe now
    logger?.warn('tiered cache: invalidation bus reconnected, L1 cleared', { cache: 'tiered', instanceId });
  }

  let busClosed = false;
  function onClosed(): void {
    busClosed = true;
    if (state.closed) return;
    // The bus was closed under this cache (shared with a cache that closed it): no invalidation
    // will arrive, so L1 is emptied and no longer filled; every read goes to L2.
    gate.subscribed = false;
    counters.l1Clears++;
    // Emptied before the logger runs: a logger that throws left the L1 copies served.
    local.dropAll();
    logger?.warn('tiered cache: invalidation bus closed by another of its users, L1 no longer used', {
      cache: 'tiered',
      instanceId,
    });
  }

  const ready: Promise<void> = bus
    ? bus.subscribe(onInvalidation, onReconnect, onClosed).then(
        (unsub) => {
          if (state.closed) return unsub();
          unsubscribe = unsub;
          // L1 was not filled until now (see FillGate.subscribed); a read that began before
          // the subscription may still be on its way with a value whose invalidation went to no
          // one: it may not fill L1 (FillGate.since). Not an invalidation: a load begun before
          // still stores its value in L2 (the fence of a clear cancelled that store, so the first
          // getOrSet of a cache made a moment before never reached Redis).
          if (!busClosed) local.openFills();
          ctx.breaker.probeNow();
        },
        (err) => {
          counters.busErrors++;
          throw err;
        },
      )
    : Promise.resolve();
  ready.catch(ignore);

  return { ready, unsubscribe: () => unsubscribe?.() };
}
