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
 * Every step is O(1): list splices, swap-removal from the array, a fixed number of samples.
 * Total cost never exceeds `maxCost` when `insert`/`update` return.
 */

import type { Admission } from './admission/policy.js';

/** Where an entry is: the window list, the main array, in transit between them, or removed. */
export const WINDOW = 0;
export const MAIN = 1;
export const MOVING = 2;
export const GONE = 3;

/** One cached value and its bookkeeping. The key's hash is kept so a hit never rehashes. */
export interface Entry<V> {
  key: string;
  value: V;
  hash: number;
  cost: number;
  /** Absolute expiry time in ms of the cache clock; 0 = never. */
  expireAt: number;
  region: number;
  /** Logical time of the last access (ties between equally frequent victims go to the oldest). */
  stamp: number;
  /** Index in the main array. */
  slot: number;
  /** Frequency estimate at the last access, valid while `epoch` equals the admission's epoch. */
  freq: number;
  epoch: number;
  prev: Entry<V> | null;
  next: Entry<V> | null;
  /** Expiry bucket links (see expiry.ts); bucket 0 = not in any bucket. */
  tPrev: Entry<V> | null;
  tNext: Entry<V> | null;
  bucket: number;
}

/** Creates an entry with every field set, always in the same order (one hidden class). */
export function newEntry<V>(key: string, value: V, hash: number, cost: number, expireAt: number): Entry<V> {
  return {
    key,
    value,
    hash,
    cost,
    expireAt,
    region: GONE,
    stamp: 0,
    slot: -1,
    freq: 0,
    epoch: -1,
    prev: null,
    next: null,
    tPrev: null,
    tNext: null,
    bucket: 0,
  };
}

/** Why an entry left: `capacity` (victim), `rejected` (lost admission), `expired`, `deleted`. */
export type RemoveReason = 'capacity' | 'rejected' | 'expired' | 'deleted';

export interface StoreOptions<V> {
  maxCost: number;
  admission: Admission;
  /** Main entries sampled per eviction. Default 8 (5 measured up to 0.7 points worse). */
  samples?: number;
  /** Initial window size as a share of `maxCost`. Default 0.01. */
  windowFraction?: number;
  /** Seed of the sampling PRNG (deterministic replays). */
  seed?: number;
  /** Called after an entry left the store (for stats, expiry unlinking and onEvict). */
  onRemove(entry: Entry<V>, reason: RemoveReason): void;
}

export interface Store<V> {
  readonly map: Map<string, Entry<V>>;
  /** Records an access: frequency (in the admission sketch) and recency. */
  touch(entry: Entry<V>): void;
  /** Adds a new entry. Returns false if admission rejected it (it is then already removed). */
  insert(entry: Entry<V>): boolean;
  /** Applies a changed cost of a resident entry and restores the bound. Returns false if it was evicted. */
  recost(entry: Entry<V>, cost: number): boolean;
  remove(entry: Entry<V>, reason: RemoveReason): void;
  /** Sets the window's share of `maxCost` (0..1); takes effect on the next inserts. */
  setWindowFraction(fraction: number): void;
  /** Drops every entry without callbacks. */
  clear(): void;
  /** The least frequent of a few sampled main entries (exposed for tests). */
  sampleVictim(): Entry<V> | undefined;
  readonly totalCost: number;
  readonly windowCost: number;
  readonly windowMax: number;
  readonly mainCount: number;
}

export function createStore<V>(options: StoreOptions<V>): Store<V> {
  const { maxCost, admission, onRemove } = options;
  const samples = options.samples ?? 8;
  const map = new Map<string, Entry<V>>();
  const main: Entry<V>[] = [];
  // Circular list with a sentinel: head.next is the most recent, head.prev the least recent.
  const head = newEntry<V>('', undefined as V, 0, 0, 0);
  head.prev = head;
  head.next = head;
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

  const linkHead = (e: Entry<V>) => {
    const first = head.next!;
    e.prev = head;
    e.next = first;
    first.prev = e;
    head.next = e;
    e.region = WINDOW;
    windowCost += e.cost;
  };
  const unlinkWindow = (e: Entry<V>) => {
    e.prev!.next = e.next;
    e.next!.prev = e.prev;
    e.prev = null;
    e.next = null;
    windowCost -= e.cost;
    e.region = MOVING;
  };
  const addMain = (e: Entry<V>) => {
    e.slot = main.length;
    main.push(e);
    e.region = MAIN;
  };
  const removeMain = (e: Entry<V>) => {
    const last = main.pop()!;
    if (last !== e) {
      main[e.slot] = last;
      last.slot = e.slot;
    }
    e.slot = -1;
  };

  const remove = (e: Entry<V>, reason: RemoveReason) => {
    if (e.region === GONE) return;
    if (e.region === WINDOW) unlinkWindow(e);
    else if (e.region === MAIN) removeMain(e);
    e.region = GONE;
    total -= e.cost;
    map.delete(e.key);
    onRemove(e, reason);
  };

  // Frequencies are remembered per entry at each access and re-read from the sketch only after
  // an aging: sampling then costs no sketch lookups (9 per eviction would dominate a set).
  const frequencyOf = (e: Entry<V>): number => {
    if (e.epoch === admission.epoch) return e.freq;
    e.epoch = admission.epoch;
    e.freq = admission.frequency(e.hash);
    return e.freq;
  };

  const sampleVictim = (): Entry<V> | undefined => {
    const n = main.length;
    if (n === 0) return undefined;
    let best = main[random() % n]!;
    let bestF = frequencyOf(best);
    for (let i = 1; i < samples; i++) {
      const e = main[random() % n]!;
      const f = frequencyOf(e);
      if (f < bestF || (f === bestF && e.stamp < best.stamp)) {
        best = e;
        bestF = f;
      }
    }
    victimFrequency = bestF;
    return best;
  };

  /** The candidate left the window (or skipped it): it enters main if it wins against victims. */
  const promote = (c: Entry<V>): boolean => {
    if (total > maxCost) {
      const cf = frequencyOf(c);
      while (total > maxCost) {
        const v = sampleVictim();
        if (v === undefined) break;
        if (admission.admit(cf, victimFrequency)) remove(v, 'capacity');
        else {
          remove(c, 'rejected');
          return false;
        }
      }
    }
    addMain(c);
    return true;
  };

  const drainWindow = () => {
    while (windowCost > windowMax) {
      const c = head.prev!;
      unlinkWindow(c);
      promote(c);
    }
  };

  /** Restores total ≤ maxCost when the window grew or an entry got costlier. */
  const shrink = () => {
    while (total > maxCost) {
      const v = sampleVictim() ?? (head.prev !== head ? head.prev! : undefined);
      if (v === undefined) break;
      remove(v, 'capacity');
    }
  };

  return {
    map,
    touch(e) {
      e.freq = admission.record(e.hash);
      e.epoch = admission.epoch;
      e.stamp = ++tick;
      if (e.region === WINDOW && head.next !== e) {
        e.prev!.next = e.next;
        e.next!.prev = e.prev;
        const first = head.next!;
        e.prev = head;
        e.next = first;
        first.prev = e;
        head.next = e;
      }
    },
    insert(e) {
      e.freq = admission.record(e.hash);
      e.epoch = admission.epoch;
      map.set(e.key, e);
      total += e.cost;
      e.stamp = ++tick;
      let kept = true;
      if (e.cost <= windowMax) {
        linkHead(e);
        drainWindow();
      } else {
        e.region = MOVING;
        kept = promote(e);
      }
      shrink();
      return kept && e.region !== GONE;
    },
    recost(e, cost) {
      const delta = cost - e.cost;
      e.cost = cost;
      total += delta;
      if (e.region === WINDOW) {
        windowCost += delta;
        drainWindow();
      }
      shrink();
      return e.region !== GONE;
    },
    remove,
    setWindowFraction(fraction) {
      windowMax = Math.floor(fraction * maxCost);
    },
    clear() {
      for (const e of map.values()) {
        e.region = GONE;
        e.prev = null;
        e.next = null;
      }
      map.clear();
      main.length = 0;
      head.prev = head;
      head.next = head;
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
      return main.length;
    },
  };
}
