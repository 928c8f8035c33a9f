/**
 * This cache's end of server-assisted invalidation (an `InvalidationTracker`, e.g. Redis
 * `CLIENT TRACKING`): every reported key is dropped from L1 (and fenced, so a read of it already on
 * its way to L2 does not put its reply into L1); a `null` report clears L1. While the tracker
 * cannot vouch for L1 (`onLost` until `onConfirmed`) L1 is cleared and no fill is allowed, so
 * every read goes to L2; on confirmation L1 is cleared once more (what was filled before may have
 * missed an invalidation) and fills resume. A read that began before either clear never fills L1
 * (`FillGate.since`); a load among them still stores its value in L2 (the clears are no writes). When only some keys may have missed invalidations (`onMoved`: cluster slots
 * that changed owner between tracked nodes), only those leave L1 and L1 stays trusted.
 */

import type { TrackingHandlers } from '../../core/contracts.js';
import type { Breaker } from './breaker.js';
import { type FillGate, ignore, type Local } from './local.js';
import type { ResolvedOptions } from './options.js';
import type { Counters } from './stats.js';

/** The part of the shared context (context.ts) tracking uses. */
export interface TrackingSide {
  readonly o: ResolvedOptions;
  /** Told when Redis is seen answering again, so an open breaker probes L2 at once. */
  readonly breaker: Pick<Breaker, 'probeNow'>;
  readonly counters: Counters;
  readonly local: Local;
  readonly gate: FillGate;
  readonly state: { readonly closed: boolean };
}

export interface TrackingEnd {
  /** Resolves at the tracker's first confirmation (at once without a tracker). */
  readonly ready: Promise<void>;
  /** `trackingConfirmedAgo` / `trackingConfirmed` (1 while L1 is in use) for `stats()`. */
  status(): { confirmedAgo: number; confirmed: number };
  stop(): void;
}

export function attachTracking(ctx: TrackingSide): TrackingEnd {
  const { o, counters, local, gate, state } = ctx;
  const tracker = o.tracking;
  // `confirmed` tells whether L1 is in use: tracking confirmed *and*, with a bus, its subscription
  // live (until then, or once the bus was closed under this cache, L1 is not filled either).
  // Before, it said 1 in mode `both` while the bus was not subscribed yet and L1 was bypassed.
  // Not once the cache is closed: L1 is closed with it. Before, a closed cache with a bus or with
  // neither bus nor tracking said 1 for good (one with tracking said 0, its tracker stopped).
  const inUse = () => (!state.closed && gate.trusted && gate.subscribed ? 1 : 0);
  if (!tracker)
    return { ready: Promise.resolve(), status: () => ({ confirmedAgo: -1, confirmed: inUse() }), stop() {} };

  const clear = () => {
    counters.l1Clears++;
    local.dropAll();
  };
  // A loss or a confirmation is no write: loads in flight still store their values in L2.
  const reset = () => {
    counters.l1Clears++;
    local.clearFills();
  };
  const handlers: TrackingHandlers = {
    onInvalidate(keys) {
      if (state.closed) return;
      if (keys === null) {
        counters.trackingInvalidations++;
        clear();
        return;
      }
      counters.trackingInvalidations += keys.length;
      for (const key of keys) local.drop(key);
    },
    onLost(reason) {
      if (state.closed) return;
      gate.trusted = false;
      counters.trackingLosses++;
      reset(); // before logging: a logger that throws must not leave L1 copies being served
      o.logger?.warn('tiered cache: tracking lost, L1 bypassed until confirmed', { cache: 'tiered', reason });
    },
    onMoved(affected) {
      if (state.closed) return;
      counters.trackingMoves++;
      if (!local.dropWhere(affected)) counters.l1Clears++;
    },
    onConfirmed() {
      if (state.closed) return;
      reset();
      gate.trusted = true;
      // Tracking is confirmed on every connection, so Redis answers: with tracking, L1 is filled
      // only from L2 reads, and an open breaker left every read to the loader for the rest of
      // its cool-down (first L1 hit 5.1 s after Redis returned).
      ctx.breaker.probeNow();
    },
  };

  let remove: (() => void) | undefined;
  const ready = tracker.start(handlers).then((unsubscribe) => {
    if (state.closed) unsubscribe();
    else remove = unsubscribe;
  });
  ready.catch(ignore);
  return {
    ready,
    status() {
      // The tracker's own monotonic age when it has one (the Redis tracker does): from the wall
      // clock, a step of it showed as the age (+1 h: 3,600 s) until the next confirmation.
      const ago = tracker.confirmedAgo;
      if (typeof ago === 'number') return { confirmedAgo: ago, confirmed: inUse() };
      const at = tracker.confirmedAt;
      return { confirmedAgo: at > 0 ? Math.max(0, Date.now() - at) : -1, confirmed: inUse() };
    },
    stop() {
      gate.trusted = false;
      remove?.();
    },
  };
}
