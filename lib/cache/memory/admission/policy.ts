/**
 * TinyLFU admission: a doorkeeper and a count-min sketch together estimate how often each key was
 * requested recently, and a newcomer may replace a resident only if it was requested strictly
 * more often. Rejecting ties matters: on a looping workload every key has the same count, and
 * admitting on ties would churn the whole cache on every pass (LRU's failure mode).
 *
 * Aging: every `period` recorded accesses the sketch halves its counters and the doorkeeper
 * rotates its two generations, so a key seen once in the last period still counts (a single filter cleared at once
 * forgot every newcomer and cost up to 3 points of hit ratio on the recency-heavy traces).
 *
 * The store's hit path records most accesses itself (see `touch` in store.ts): it reads `epoch`,
 * `counters`, `blockMask`, bumps `recorded` and calls `age()`. These are plain data properties
 * of one object shape: an `epoch` getter cost 8.5 % of a hit (20 ns) and kept the hit path from
 * being inlined.
 */

import { createDoorkeeper } from '../doorkeeper.js';
import { createSketch, sketchIncrement } from '../sketch.js';

/** Agings are counted modulo 2^24, so that an epoch fits beside other fields in one int32. */
export const EPOCH_MASK = 0xffffff;

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
  /** Halves the counts and rotates the doorkeeper (what `record` does every `period` accesses). */
  age(): void;
  /** Forgets every count. */
  clear(): void;
  /** Accesses between two agings. */
  readonly period: number;
  /** Accesses recorded since the last aging (the store's hit path counts them here too). */
  recorded: number;
  /**
   * Number of agings (and clears) so far, modulo 2^24. A frequency remembered with the epoch it
   * was read in stays a good estimate until the epoch changes (later collisions may only have
   * raised the true reading); a key recorded in the current epoch has its doorkeeper bits set.
   */
  readonly epoch: number;
  /** The sketch's counters and block mask, for the store's inlined `sketchIncrement`. */
  readonly counters: Int32Array;
  readonly blockMask: number;
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
  const { table, blockMask } = sketch;
  const a: Admission = {
    period: Math.max(16, Math.floor(options.period ?? options.numCounters * 3)),
    recorded: 0,
    epoch: 0,
    counters: table,
    blockMask,
    record(hash) {
      // First sighting only sets doorkeeper bits; later ones count in the sketch.
      const f = door.add(hash) ? sketchIncrement(table, blockMask, hash) + 1 : sketch.estimate(hash) + 1;
      if (++a.recorded >= a.period) a.age();
      return f;
    },
    frequency(hash) {
      return sketch.estimate(hash) + (door.has(hash) ? 1 : 0);
    },
    admit(candidateFrequency, victimFrequency) {
      return candidateFrequency > victimFrequency;
    },
    age() {
      sketch.halve();
      door.rotate();
      a.recorded = 0;
      (a as { epoch: number }).epoch = (a.epoch + 1) & EPOCH_MASK;
    },
    clear() {
      sketch.clear();
      door.clear();
      a.recorded = 0;
      // Remembered frequencies and doorkeeper marks are void.
      (a as { epoch: number }).epoch = (a.epoch + 1) & EPOCH_MASK;
    },
  };
  return a;
}
