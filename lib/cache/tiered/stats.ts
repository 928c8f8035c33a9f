/**
 * The counters behind `stats()`. They live in one mutable record shared by the read, batch, write
 * and invalidation modules, so each path bumps its own counters where the event happens and
 * `stats()` only takes a snapshot.
 */
import { hitRatio } from '../../core/validate.js';
import type { TieredCacheStats, TieredSource } from './types.js';

/** The mutable counts of one tiered cache (`breakerOpens` is kept by the breaker itself). */
export interface Counters {
  l1Hits: number;
  l2Hits: number;
  misses: number;
  staleServes: number;
  loaderCalls: number;
  loaderErrors: number;
  l2Errors: number;
  l2Skipped: number;
  budgetTimeouts: number;
  refreshes: number;
  leaseWaits: number;
  leaseTimeouts: number;
  invalidationsSent: number;
  invalidationsReceived: number;
  busReconnects: number;
  busErrors: number;
  trackingInvalidations: number;
  trackingLosses: number;
  trackingMoves: number;
  l1Clears: number;
  backgroundWrites: number;
}

export function createCounters(): Counters {
  return {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    staleServes: 0,
    loaderCalls: 0,
    loaderErrors: 0,
    l2Errors: 0,
    l2Skipped: 0,
    budgetTimeouts: 0,
    refreshes: 0,
    leaseWaits: 0,
    leaseTimeouts: 0,
    invalidationsSent: 0,
    invalidationsReceived: 0,
    busReconnects: 0,
    busErrors: 0,
    trackingInvalidations: 0,
    trackingLosses: 0,
    trackingMoves: 0,
    l1Clears: 0,
    backgroundWrites: 0,
  };
}

/** Counts a read by where its value came from: a level hit, else a miss (a stale serve is one too). */
export function countSource(c: Counters, source: TieredSource): void {
  if (source === 'l1') c.l1Hits++;
  else if (source === 'l2') c.l2Hits++;
  else {
    c.misses++;
    if (source === 'stale') c.staleServes++;
  }
}

/** The public view of the counters: `hits` = L1 + L2 fresh hits, `errors` = L2 errors. */
export function snapshot(
  c: Counters,
  breakerOpens: number,
  tracking: { confirmedAgo: number; confirmed: number } = { confirmedAgo: -1, confirmed: 1 },
): TieredCacheStats {
  const hits = c.l1Hits + c.l2Hits;
  return {
    hits,
    misses: c.misses,
    hitRatio: hitRatio(hits, c.misses),
    errors: c.l2Errors,
    l1Hits: c.l1Hits,
    l2Hits: c.l2Hits,
    staleServes: c.staleServes,
    loaderCalls: c.loaderCalls,
    loaderErrors: c.loaderErrors,
    breakerOpens,
    l2Errors: c.l2Errors,
    l2Skipped: c.l2Skipped,
    budgetTimeouts: c.budgetTimeouts,
    refreshes: c.refreshes,
    leaseWaits: c.leaseWaits,
    leaseTimeouts: c.leaseTimeouts,
    invalidationsSent: c.invalidationsSent,
    invalidationsReceived: c.invalidationsReceived,
    busReconnects: c.busReconnects,
    busErrors: c.busErrors,
    trackingInvalidations: c.trackingInvalidations,
    trackingLosses: c.trackingLosses,
    trackingMoves: c.trackingMoves,
    l1Clears: c.l1Clears,
    trackingConfirmedAgo: tracking.confirmedAgo,
    trackingConfirmed: tracking.confirmed,
    backgroundWrites: c.backgroundWrites,
  };
}
