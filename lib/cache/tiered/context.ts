/**
 * The state every part of one tiered cache shares, built once by `createTieredCache`: resolved
 * options, counters, the breaker and the guarded L2 access, the fence, the local side and the
 * publisher. Passing it as one record keeps each path module's signature short.
 */
import { CacheError } from '../../core/errors.js';
import { type Breaker, createBreaker, NEVER_OPEN } from './breaker.js';
import { createFence, type Fence } from './coherence.js';
import { createPublisher, type Publish } from './invalidation.js';
import { createGuard, type Guard } from './l2.js';
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
  readonly guarded: Guard;
  readonly local: Local;
  /** May L1 be filled now (server-assisted tracking; always open without it). */
  readonly gate: FillGate;
  readonly publish: Publish;
  /** `closed` is set by `close()`; background work (refreshes, lease waits, bus messages) checks it. */
  readonly state: { closed: boolean };
  /** Throws `CacheError('closed')` once the cache is closed. */
  assertOpen(): void;
}

function randomId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function createContext(o: ResolvedOptions): Context {
  const fence = createFence();
  // With tracking, L1 stays unfilled until the tracker first confirms (./tracking.ts).
  const gate: FillGate = { trusted: o.tracking === undefined, writeFills: o.tracking === undefined };
  const local = createLocal(o, fence, gate);
  const instanceId = o.instanceId ?? randomId();
  const counters = createCounters();
  const breaker: Breaker = o.breaker
    ? createBreaker(o.breaker.failures, o.breaker.cooldown, o.now)
    : NEVER_OPEN;
  const guarded = createGuard({ breaker, l2Timeout: o.l2Timeout, counters, logger: o.logger, instanceId });
  const state = { closed: false };
  return {
    o,
    instanceId,
    counters,
    breaker,
    fence,
    guarded,
    local,
    gate,
    publish: createPublisher({ o, instanceId, counters }),
    state,
    assertOpen() {
      if (state.closed) throw new CacheError('closed', 'tiered cache is closed');
    },
  };
}
