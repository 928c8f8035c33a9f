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
 * The store counts the accesses and calls `age()` every `period` of them; its hit path records
 * most accesses itself (see `record` in store.ts): it reads `epoch`, `counters` and `blockMask`. These are plain data properties of one object shape: an `epoch` getter cost
 * 8.5 % of a hit (20 ns) and kept the hit path from being inlined.
 *
 * A class, like the store (and the doorkeeper): the store's methods are shared by every cache, so
 * their calls into the policy (`record`, `frequency` on every set) reach one prototype method
 * whatever the number of caches, instead of one closure per cache (a polymorphic call that
 * TurboFan does not inline).
 */

import { createDoorkeeper, type Doorkeeper } from '../doorkeeper.js';
import { createSketch, type Sketch, sketchEstimate, sketchIncrement } from '../sketch.js';

/** Agings are counted modulo 2^24, so that an epoch fits beside other fields in one int32. */
export const EPOCH_MASK = 0xffffff;

export interface AdmissionOptions {
  /** Counters per sketch row, ≈ 10 × the number of entries the cache holds. */
  numCounters: number;
  /**
   * Accesses between two agings. Default: 3 × `numCounters` (≈ 30 × the entries; shorter
   * periods forget too fast: measured −1 to −2 points on every shared trace at 1 ×).
   */
  period?: number | undefined;
}

export class Admission {
  /** Accesses between two agings (counted by the store). */
  readonly period: number;
  /**
   * Number of agings (and clears) so far, modulo 2^24 (read-only outside). A frequency
   * remembered with the epoch it was read in stays a good estimate until the epoch changes (later
   * collisions may only have raised the true reading); a key recorded in the current epoch has
   * its doorkeeper bits set.
   */
  epoch = 0;
  /** The sketch's counters and block mask, for the store's inlined `sketchIncrement`. */
  readonly counters: Int32Array;
  readonly blockMask: number;
  private readonly sketch: Sketch;
  private readonly door: Doorkeeper;

  constructor(options: AdmissionOptions) {
    this.sketch = createSketch(options.numCounters);
    // 4 bits per counter keeps false positives low for the keys first seen within a period.
    this.door = createDoorkeeper(options.numCounters * 4);
    this.counters = this.sketch.table;
    this.blockMask = this.sketch.blockMask;
    this.period = Math.max(16, Math.floor(options.period ?? options.numCounters * 3));
  }

  /**
   * Records one access of the key and returns its new frequency (as `frequency()` would). The
   * caller counts the accesses and calls `age()` every `period` of them.
   */
  record(hash: number): number {
    // First sighting only sets doorkeeper bits; later ones count in the sketch.
    return this.door.add(hash)
      ? sketchIncrement(this.counters, this.blockMask, hash) + 1
      : sketchEstimate(this.counters, this.blockMask, hash) + 1;
  }

  /** Estimated recent access count of the key (0..16). */
  frequency(hash: number): number {
    return sketchEstimate(this.counters, this.blockMask, hash) + (this.door.has(hash) ? 1 : 0);
  }

  /** True if a candidate with `candidateFrequency` may replace a victim with `victimFrequency`. */
  admit(candidateFrequency: number, victimFrequency: number): boolean {
    return candidateFrequency > victimFrequency;
  }

  /** Halves the counts and rotates the doorkeeper (what `record` does every `period` accesses). */
  age(): void {
    this.sketch.halve();
    this.door.rotate();
    this.epoch = (this.epoch + 1) & EPOCH_MASK;
  }

  /** Forgets every count. */
  clear(): void {
    this.sketch.clear();
    this.door.clear();
    // Remembered frequencies and doorkeeper marks are void.
    this.epoch = (this.epoch + 1) & EPOCH_MASK;
  }
}

export function createAdmission(options: AdmissionOptions): Admission {
  return new Admission(options);
}
