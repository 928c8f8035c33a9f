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
  /**
   * Logical time of the last access while in the window (ties between equally frequent victims
   * go to the oldest); main entries keep theirs in the store's per-slot arrays.
   */
  stamp: number;
  /** Index in the main array (and its per-slot arrays). */
  slot: number;
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
  // The main region as parallel arrays indexed by slot. Sampling reads only the typed arrays
  // (a few KB, cache-resident): dereferencing 8 randomly placed entry objects per eviction
  // cost a cache miss each and dominated a set at capacity.
  const main: Entry<V>[] = [];
  // Per slot, 4 int32 side by side (one cache line for the 3 written on a hit): the key's hash,
  // the frequency estimate at the last access tagged with the aging epoch it was read in
  // (epoch × 32 + frequency; valid while the epoch is current) and the logical time of the last
  // access (int32 that may wrap: compared by difference).
  let meta = new Int32Array(64);
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

  const grow = () => {
    const bigger = new Int32Array(meta.length * 2);
    bigger.set(meta);
    meta = bigger;
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
  const addMain = (e: Entry<V>, freq: number) => {
    const s = main.length;
    const m = s << 2;
    if (m === meta.length) grow();
    e.slot = s;
    main.push(e);
    meta[m] = e.hash;
    meta[m + 1] = (admission.epoch << 5) | freq;
    meta[m + 2] = e.stamp;
    e.region = MAIN;
  };
  const removeMain = (e: Entry<V>) => {
    const last = main.pop()!;
    if (last !== e) {
      const s = e.slot;
      main[s] = last;
      last.slot = s;
      const to = s << 2;
      const from = main.length << 2;
      meta[to] = meta[from]!;
      meta[to + 1] = meta[from + 1]!;
      meta[to + 2] = meta[from + 2]!;
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

  // Frequencies are remembered per slot at each access and re-read from the sketch only after
  // an aging: sampling then costs no sketch lookups (9 per eviction would dominate a set).
  const frequencyAt = (m: number, tag: number): number => {
    const v = meta[m + 1]!;
    if (v >>> 5 === tag) return v & 31;
    const f = admission.frequency(meta[m]!);
    meta[m + 1] = (tag << 5) | f;
    return f;
  };

  /** Slot of the least frequent of `samples` sampled main entries (the oldest on ties); -1 if none. */
  const sampleSlot = (): number => {
    const n = main.length;
    if (n === 0) return -1;
    const tag = admission.epoch & 0x7ffffff;
    let best = (random() % n) << 2;
    let bestF = frequencyAt(best, tag);
    for (let i = 1; i < samples; i++) {
      const m = (random() % n) << 2;
      const f = frequencyAt(m, tag);
      if (f < bestF || (f === bestF && ((meta[m + 2]! - meta[best + 2]!) | 0) < 0)) {
        best = m;
        bestF = f;
      }
    }
    victimFrequency = bestF;
    return best >>> 2;
  };

  const sampleVictim = (): Entry<V> | undefined => {
    const s = sampleSlot();
    return s < 0 ? undefined : main[s];
  };

  /** The candidate left the window (or skipped it): it enters main if it wins against victims. */
  const promote = (c: Entry<V>, cf: number): boolean => {
    while (total > maxCost) {
      const s = sampleSlot();
      if (s < 0) break;
      if (admission.admit(cf, victimFrequency)) remove(main[s]!, 'capacity');
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
      const c = head.prev!;
      unlinkWindow(c);
      promote(c, admission.frequency(c.hash));
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
      const f = admission.record(e.hash);
      tick = (tick + 1) | 0;
      const t = tick;
      if (e.region === MAIN) {
        const m = e.slot << 2;
        meta[m + 1] = (admission.epoch << 5) | f;
        meta[m + 2] = t;
        return;
      }
      e.stamp = t;
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
      const f = admission.record(e.hash);
      map.set(e.key, e);
      total += e.cost;
      tick = (tick + 1) | 0;
      e.stamp = tick;
      let kept = true;
      if (e.cost <= windowMax) {
        linkHead(e);
        drainWindow();
      } else {
        e.region = MOVING;
        kept = promote(e, f);
      }
      if (total > maxCost) shrink();
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
        e.slot = -1;
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
