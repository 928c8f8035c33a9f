/**
 * TinyLFU admission: a doorkeeper and a count-min sketch together estimate how often each key was
 * requested recently, and a newcomer may replace a resident only if it was requested strictly
 * more often. Rejecting ties matters: on a looping workload every key has the same count, and
 * admitting on ties would churn the whole cache on every pass (LRU's failure mode).
 *
 * Aging: every `period` recorded accesses the sketch halves its counters and the doorkeeper
 * rotates its two generations, so a key seen once in the last period still counts (a single filter cleared at once
 * forgot every newcomer and cost up to 3 points of hit ratio on the recency-heavy traces).
 */

import { createDoorkeeper } from '../doorkeeper.js';
import { createSketch } from '../sketch.js';

export interface Admission {
  /**
   * Records one access of the key and returns its new frequency (as `frequency()` would). Ages
   * every count once `period` accesses have been recorded.
   */
  record(hash: number): number;
  /** Estimated recent access count of the key (0..16). */
  frequency(hash: number): number;
  /** True if a candidate with `candidateFrequency` may replace a victim with `victimFrequency`. */
  admit(candidateFrequency: number, victimFrequency: number): boolean;
  /** Forgets every count. */
  clear(): void;
  /** Accesses between two agings. */
  readonly period: number;
  /**
   * Number of agings so far. A frequency remembered with the epoch it was read in stays a good
   * estimate until the epoch changes (later collisions may only have raised the true reading).
   */
  readonly epoch: number;
}

export interface AdmissionOptions {
  /** Counters per sketch row, ≈ 10 × the number of entries the cache holds. */
  numCounters: number;
  /**
   * Accesses between two agings. Default: 3 × `numCounters` (≈ 30 × the entries; shorter
   * periods forget too fast: measured −1 to −2 points on every shared trace at 1 ×).
   */
  period?: number;
}

export function createAdmission(options: AdmissionOptions): Admission {
  const sketch = createSketch(options.numCounters);
  // 4 bits per counter keeps false positives low for the keys first seen within a period.
  const door = createDoorkeeper(options.numCounters * 4);
  const period = Math.max(16, Math.floor(options.period ?? options.numCounters * 3));
  let recorded = 0;
  let epoch = 0;
  return {
    period,
    get epoch() {
      return epoch;
    },
    record(hash) {
      // First sighting only sets doorkeeper bits; later ones count in the sketch.
      const f = door.add(hash) ? sketch.increment(hash) + 1 : sketch.estimate(hash) + 1;
      if (++recorded >= period) {
        sketch.halve();
        door.rotate();
        recorded = 0;
        epoch++;
      }
      return f;
    },
    frequency(hash) {
      return sketch.estimate(hash) + (door.has(hash) ? 1 : 0);
    },
    admit(candidateFrequency, victimFrequency) {
      return candidateFrequency > victimFrequency;
    },
    clear() {
      sketch.clear();
      door.clear();
      recorded = 0;
    },
  };
}
