/**
 * Where the entries live and how capacity is kept. Two regions share `maxCost`:
 *
 * - the window, a small LRU list that every newcomer enters first, so a key gets a chance to be
 *   requested again before it must prove its frequency (this is what keeps bursts and recency-heavy
 *   workloads hitting);
 * - the main region, an unordered array of entries. When the cache is full, the entry leaving the
 *   window faces a victim chosen by sampling a few main entries and taking the least frequent
 *   (the oldest on equal counts). The candidate is admitted only if it is strictly more frequent.
 *
 * Layout: an entry is a slot number. The `Map` holds key → slot (a small integer, stored
 * unboxed); the slot's key and value sit in two plain arrays, its cost in a Float64Array, and
 * everything a hit reads or writes (hash, region, frequency, last access, window links, main
 * index) in 8 int32 side by side in one Int32Array. A hit therefore touches no per-entry
 * object: 10,000 entry objects scattered over the heap cost a cache miss each, 32-byte records
 * in one dense array do not. Freed slots are reused (free list); the arrays grow by doubling,
 * never beyond the most entries `maxCost` can hold.
 *
 * Every step is O(1): list splices, swap-removal from the main array, a fixed number of samples.
 * Total cost never exceeds `maxCost` when `insert`/`recost` return.
 */

import type { Admission } from './admission/policy.js';

/** Where an entry is: the window list, the main array, in transit between them, or removed. */
export const WINDOW = 0;
export const MAIN = 1;
export const MOVING = 2;
export const GONE = 3;

/** Why an entry left: `capacity` (victim), `rejected` (lost admission), `expired`, `deleted`. */
export type RemoveReason = 'capacity' | 'rejected' | 'expired' | 'deleted';

export interface StoreOptions {
  maxCost: number;
  admission: Admission;
  /** Main entries sampled per eviction. Default 8 (5 measured up to 0.7 points worse). */
  samples?: number;
  /** Initial window size as a share of `maxCost`. Default 0.01. */
  windowFraction?: number;
  /** Seed of the sampling PRNG (deterministic replays). */
  seed?: number;
  /**
   * Called after an entry left the store (for stats, expiry unlinking and onEvict); its key,
   * value and cost are still readable, the slot is reused only after the call returns.
   */
  onRemove(slot: number, reason: RemoveReason): void;
}

export interface Store<V> {
  /** Key → slot of every resident entry. */
  readonly map: Map<string, number>;
  /** Takes a free slot for a new entry (not yet resident: `insert` makes it so). */
  alloc(key: string, value: V, hash: number, cost: number): number;
  /** Adds an allocated entry. Returns false if admission rejected it (it is then already removed). */
  insert(slot: number): boolean;
  /** Records an access (frequency in the admission sketch, and recency); returns the value. */
  touch(slot: number): V;
  /** Applies a changed cost of a resident entry and restores the bound. Returns false if it was evicted. */
  recost(slot: number, cost: number): boolean;
  remove(slot: number, reason: RemoveReason): void;
  key(slot: number): string;
  value(slot: number): V;
  setValue(slot: number, value: V): void;
  cost(slot: number): number;
  /** WINDOW, MAIN, MOVING or GONE. */
  region(slot: number): number;
  /** Sets the window's share of `maxCost` (0..1); takes effect on the next inserts. */
  setWindowFraction(fraction: number): void;
  /** Drops every entry without callbacks. */
  clear(): void;
  /** Slot of the least frequent of a few sampled main entries, -1 if main is empty (for tests). */
  sampleVictim(): number;
  readonly totalCost: number;
  readonly windowCost: number;
  readonly windowMax: number;
  readonly mainCount: number;
}

/** Slots of a new store (grown by doubling). */
const INITIAL_SLOTS = 64;

// Per slot, 8 int32 side by side (32 bytes: a hit reads and writes one cache line):
/** The key's hash (so a hit never rehashes). */
const HASH = 0;
/** WINDOW, MAIN, MOVING or GONE. */
const REGION = 1;
/**
 * The frequency estimate at the last access, tagged with the aging epoch it was read in
 * (epoch × 32 + frequency; valid while the epoch is current, kept for main entries).
 */
const FREQ = 2;
/** Logical time of the last access (int32 that may wrap: compared by difference). */
const STAMP = 3;
/** Window links (slot 0 is the sentinel); a free slot's NEXT links the free list. */
const PREV = 4;
const NEXT = 5;
/** Index in the main array, while in main. */
const POS = 6;
const STRIDE = 8;

export function createStore<V>(options: StoreOptions): Store<V> {
  const { maxCost, admission, onRemove } = options;
  const samples = options.samples ?? 8;
  const map = new Map<string, number>();
  // Each entry costs at least 1, so at most ⌊maxCost⌋ are resident, plus the one being
  // admitted and the window sentinel (slot 0).
  const bound = Math.min(2 ** 26, Math.floor(maxCost) + 2);
  let slots = Math.min(INITIAL_SLOTS, bound);
  // Plain arrays for the key and value (grown by push: fresh slots are handed out in order).
  const keys: string[] = [''];
  const values: (V | undefined)[] = [undefined];
  let info = new Int32Array(slots * STRIDE);
  let costs = new Float64Array(slots);
  let fresh = 1; // first never-used slot
  let free = -1; // head of the free list
  // The main region: slots in no order. Sampling picks random indexes of it.
  let main = new Int32Array(slots);
  let mainCount = 0;

  let windowMax = Math.floor((options.windowFraction ?? 0.01) * maxCost);
  let windowCost = 0;
  let total = 0;
  let tick = 0;
  let seed = (options.seed ?? 0x2545f491) | 0 || 1;
  let victimFrequency = 0;

  const random = () => {
    // xorshift32: enough for picking samples, and no allocation.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    // Non-negative int32: keeps the modulo in integer arithmetic.
    return seed & 0x7fffffff;
  };

  const grow = () => {
    let n = Math.min(slots * 2, bound);
    // Only a re-entrant set from onEvict can need more than the bound; never refuse it.
    if (n <= slots) n = slots * 2;
    const i = new Int32Array(n * STRIDE);
    i.set(info);
    info = i;
    const c = new Float64Array(n);
    c.set(costs);
    costs = c;
    const m = new Int32Array(n);
    m.set(main);
    main = m;
    slots = n;
  };

  const alloc = (key: string, value: V, hash: number, cost: number): number => {
    let s = free;
    if (s > 0) {
      free = info[s * STRIDE + NEXT]!;
      keys[s] = key;
      values[s] = value;
    } else {
      s = fresh++;
      if (s === slots) grow();
      keys.push(key);
      values.push(value);
    }
    const b = s * STRIDE;
    info[b + HASH] = hash;
    info[b + REGION] = GONE;
    costs[s] = cost;
    return s;
  };

  const release = (s: number) => {
    keys[s] = '';
    values[s] = undefined;
    info[s * STRIDE + NEXT] = free;
    free = s;
  };

  const linkHead = (s: number) => {
    const b = s * STRIDE;
    const first = info[NEXT]!;
    info[b + PREV] = 0;
    info[b + NEXT] = first;
    info[first * STRIDE + PREV] = s;
    info[NEXT] = s;
    info[b + REGION] = WINDOW;
    windowCost += costs[s]!;
  };
  const unlinkWindow = (s: number) => {
    const b = s * STRIDE;
    const p = info[b + PREV]!;
    const n = info[b + NEXT]!;
    info[p * STRIDE + NEXT] = n;
    info[n * STRIDE + PREV] = p;
    windowCost -= costs[s]!;
    info[b + REGION] = MOVING;
  };
  const addMain = (s: number, freq: number) => {
    const b = s * STRIDE;
    const i = mainCount++;
    main[i] = s;
    info[b + POS] = i;
    info[b + FREQ] = (admission.epoch << 5) | freq;
    info[b + REGION] = MAIN;
  };
  const removeMain = (s: number) => {
    const last = --mainCount;
    const to = info[s * STRIDE + POS]!;
    if (to !== last) {
      const moved = main[last]!;
      main[to] = moved;
      info[moved * STRIDE + POS] = to;
    }
  };

  const remove = (s: number, reason: RemoveReason) => {
    const b = s * STRIDE;
    const r = info[b + REGION];
    if (r === GONE) return;
    if (r === WINDOW) unlinkWindow(s);
    else if (r === MAIN) removeMain(s);
    info[b + REGION] = GONE;
    total -= costs[s]!;
    map.delete(keys[s]!);
    onRemove(s, reason);
    release(s);
  };

  // Frequencies are remembered per slot at each access and re-read from the sketch only after
  // an aging: sampling then costs no sketch lookups (9 per eviction would dominate a set).
  const frequencyAt = (b: number, tag: number): number => {
    const v = info[b + FREQ]!;
    if (v >>> 5 === tag) return v & 31;
    const f = admission.frequency(info[b + HASH]!);
    info[b + FREQ] = (tag << 5) | f;
    return f;
  };

  /** Slot of the least frequent of `samples` sampled main entries (the oldest on ties); -1 if none. */
  const sampleVictim = (): number => {
    const n = mainCount;
    if (n === 0) return -1;
    const tag = admission.epoch & 0x7ffffff;
    let best = main[random() % n]! * STRIDE;
    let bestF = frequencyAt(best, tag);
    for (let i = 1; i < samples; i++) {
      const b = main[random() % n]! * STRIDE;
      const f = frequencyAt(b, tag);
      if (f < bestF || (f === bestF && ((info[b + STAMP]! - info[best + STAMP]!) | 0) < 0)) {
        best = b;
        bestF = f;
      }
    }
    victimFrequency = bestF;
    return best >> 3; // ÷ STRIDE
  };

  /** The candidate left the window (or skipped it): it enters main if it wins against victims. */
  const promote = (c: number, cf: number): boolean => {
    while (total > maxCost) {
      const v = sampleVictim();
      if (v < 0) break;
      if (admission.admit(cf, victimFrequency)) remove(v, 'capacity');
      else {
        remove(c, 'rejected');
        return false;
      }
    }
    addMain(c, cf);
    return true;
  };

  const drainWindow = () => {
    while (windowCost > windowMax) {
      const c = info[PREV]!;
      unlinkWindow(c);
      promote(c, admission.frequency(info[c * STRIDE + HASH]!));
    }
  };

  /** Restores total ≤ maxCost when the window grew or an entry got costlier. */
  const shrink = () => {
    while (total > maxCost) {
      let v = sampleVictim();
      if (v < 0) v = info[PREV]!;
      if (v === 0) break;
      remove(v, 'capacity');
    }
  };

  return {
    map,
    alloc,
    touch(s) {
      const b = s * STRIDE;
      const f = admission.record(info[b + HASH]!);
      tick = (tick + 1) | 0;
      info[b + STAMP] = tick;
      const r = info[b + REGION];
      if (r === MAIN) info[b + FREQ] = (admission.epoch << 5) | f;
      else if (r === WINDOW && info[NEXT] !== s) {
        const p = info[b + PREV]!;
        const n = info[b + NEXT]!;
        info[p * STRIDE + NEXT] = n;
        info[n * STRIDE + PREV] = p;
        const first = info[NEXT]!;
        info[b + PREV] = 0;
        info[b + NEXT] = first;
        info[first * STRIDE + PREV] = s;
        info[NEXT] = s;
      }
      return values[s] as V;
    },
    insert(s) {
      const b = s * STRIDE;
      const f = admission.record(info[b + HASH]!);
      map.set(keys[s]!, s);
      const cost = costs[s]!;
      total += cost;
      tick = (tick + 1) | 0;
      info[b + STAMP] = tick;
      let kept = true;
      if (cost <= windowMax) {
        linkHead(s);
        drainWindow();
      } else {
        info[b + REGION] = MOVING;
        kept = promote(s, f);
      }
      if (total > maxCost) shrink();
      return kept && info[b + REGION] !== GONE;
    },
    recost(s, cost) {
      const delta = cost - costs[s]!;
      costs[s] = cost;
      total += delta;
      if (info[s * STRIDE + REGION] === WINDOW) {
        windowCost += delta;
        drainWindow();
      }
      shrink();
      return info[s * STRIDE + REGION] !== GONE;
    },
    remove,
    key: (s) => keys[s]!,
    value: (s) => values[s] as V,
    setValue(s, value) {
      values[s] = value;
    },
    cost: (s) => costs[s]!,
    region: (s) => info[s * STRIDE + REGION]!,
    setWindowFraction(fraction) {
      windowMax = Math.floor(fraction * maxCost);
    },
    clear() {
      map.clear();
      keys.length = 1;
      values.length = 1;
      info.fill(0);
      fresh = 1;
      free = -1;
      mainCount = 0;
      windowCost = 0;
      total = 0;
    },
    sampleVictim,
    get totalCost() {
      return total;
    },
    get windowCost() {
      return windowCost;
    },
    get windowMax() {
      return windowMax;
    },
    get mainCount() {
      return mainCount;
    },
  };
}
