/**
 * The state every part of one tiered cache shares, built once by `createTieredCache`: resolved
 * options, counters, the breaker and the guarded L2 access, the fence, the local side and the
 * publisher. Passing it as one record keeps each path module's signature short.
 */
import type { Invalidation, WriteOptions } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { withTimeout } from '../../core/timeout.js';
import { type Behind, createBehind } from './behind.js';
import { type Breaker, createBreaker, NEVER_OPEN } from './breaker.js';
import { createFence, type Fence } from './coherence.js';
import { createPublisher, type Publish } from './invalidation.js';
import { createGuard, type Guard } from './l2.js';
import { createL2Reader, type L2Reader } from './l2-read.js';
import { createLeases, type Leases } from './leases.js';
import { createLocal, type FillGate, type Local } from './local.js';
import type { ResolvedOptions } from './options.js';
import { type Counters, createCounters } from './stats.js';

export interface Context {
  readonly o: ResolvedOptions;
  /** This instance's id in invalidation messages. */
  readonly instanceId: string;
  readonly counters: Counters;
  readonly breaker: Breaker;
  readonly fence: Fence;
  /** Keys whose L2 value may be older than a value loaded here while L2 did not answer (./behind.ts). */
  readonly behind: Behind;
  readonly guarded: Guard;
  /** L2 reads that may fill L1 (guarded; with tracking they carry L2's remaining TTL). */
  readonly l2Read: L2Reader;
  readonly local: Local;
  /** May L1 be filled now (server-assisted tracking; always open without it). */
  readonly gate: FillGate;
  readonly publish: Publish;
  /** `closed` is set by `close()`; background work (refreshes, lease waits, bus messages) checks it. */
  readonly state: { closed: boolean };
  /** Throws `CacheError('closed')` once the cache is closed. */
  assertOpen(): void;
  /**
   * Whether a load about to call its loader must leave the key's flight first (`Local.flight`'s
   * `leave`): with tracking, when its L2 read got no answer (`answered` false; `default` mode
   * only) or tracking is not trusted now. Redis then may not track the key for this process (default mode tracks only keys
   * a connection read), so a write another client makes during the load may send no invalidation,
   * and a caller arriving after that write would join the load and get a value older than it.
   */
  untracked(answered: boolean): boolean;
  /**
   * The loader leases this cache holds or is taking (./leases.ts): `close()` releases them before
   * it closes L2, so other instances need not wait out the lease's TTL.
   */
  readonly leases: Leases;
  /**
   * The options of every L2 write: its budget is `l2Timeout`, so that an L2 that can land a write
   * late (Redis) refuses it once this cache has reported it as failed.
   */
  readonly l2Write: WriteOptions;
  /**
   * Publishes `message`, waiting for it at most what is left of the budget (`budget`, default
   * `l2Timeout`) of a call that started at `started` (performance.now()); the rest of the publish
   * runs in the background.
   */
  publishWithin(message: Omit<Invalidation, 'origin'>, started: number, budget?: number): Promise<void>;
}

function randomId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function createContext(o: ResolvedOptions): Context {
  const fence = createFence();
  // With tracking, L1 stays unfilled until the tracker first confirms (./tracking.ts).
  // With a bus, L1 stays unfilled until its first subscription is live (./invalidation.ts).
  const gate: FillGate = {
    trusted: o.tracking === undefined,
    writeFills: o.tracking === undefined,
    subscribed: o.bus === undefined,
    since: 0,
  };
  const local = createLocal(o, fence, gate);
  const instanceId = o.instanceId ?? randomId();
  const counters = createCounters();
  // The cool-down on the monotonic clock: on `Date.now`, a wall clock stepped back 1 h during it
  // kept the breaker open (L2 skipped, every write refused) for that hour.
  const breaker: Breaker = o.breaker
    ? createBreaker(o.breaker.failures, o.breaker.cooldown, o.steady)
    : NEVER_OPEN;
  const guarded = createGuard({ breaker, l2Timeout: o.l2Timeout, counters, logger: o.logger, instanceId });
  const state = { closed: false };
  const publish = createPublisher({ o, instanceId, counters });
  const finite = o.l2Timeout !== Number.POSITIVE_INFINITY;
  return {
    o,
    instanceId,
    counters,
    breaker,
    fence,
    behind: createBehind(),
    guarded,
    l2Read: createL2Reader(o, guarded),
    local,
    gate,
    publish,
    state,
    l2Write: finite ? { timeout: o.l2Timeout } : {},
    publishWithin(message, started, budget = o.l2Timeout) {
      const sent = publish(message);
      const bound = Math.min(budget, o.l2Timeout);
      if (bound === Number.POSITIVE_INFINITY) return sent;
      const left = Math.max(0, bound - (performance.now() - started));
      return withTimeout(sent, left, () => new Error('budget spent'), { unref: true }).catch(() => {});
    },
    assertOpen() {
      if (state.closed) throw new CacheError('closed', 'tiered cache is closed');
    },
    // In `bcast` mode every write under the prefix is reported, read or not: only trust matters.
    untracked: (answered) =>
      o.tracking !== undefined && (!gate.trusted || (!answered && o.tracking.mode !== 'bcast')),
    leases: createLeases(o.l2Timeout),
  };
}
