/** The cache's live counters: one mutable record shared by the parts that count, read by `stats()`. */
import type { Bytes } from '../../core/contracts.js';
import { hitRatio } from '../../core/validate.js';
import type { RedisCacheStats } from './types.js';

export interface Counters {
  hits: number;
  misses: number;
  /** Failed backend operations (bad input and `closed` are not counted). */
  errors: number;
  /** Commands sent and not yet answered. */
  inflight: number;
}

export function createCounters(): Counters {
  return { hits: 0, misses: 0, errors: 0, inflight: 0 };
}

/** Counts a GET reply as a hit or a miss; a missing key (`null`) becomes `undefined`. */
export function countReply(counters: Counters, value: Buffer | null | undefined): Bytes | undefined {
  if (value == null) {
    counters.misses++;
    return undefined;
  }
  counters.hits++;
  return value;
}

export function snapshot(c: Counters): RedisCacheStats {
  return {
    hits: c.hits,
    misses: c.misses,
    hitRatio: hitRatio(c.hits, c.misses),
    errors: c.errors,
    inflight: c.inflight,
  };
}
