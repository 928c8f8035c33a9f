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
 * unboxed); the slot's key and value sit in two plain arrays, and everything else (hash, region,
 * frequency, last access, window links or main index, cost) in 6 int32 side by side in one
 * Int32Array. A hit therefore touches no per-entry object: 10,000 entry objects scattered over
 * the heap cost a cache miss each, 24-byte records in one dense array do not. Freed slots are
 * reused (free list); the arrays grow by doubling, never beyond the most entries `maxCost` can
 * hold. Heap per entry at 1M entries: 76 bytes (32-byte records, a Float64Array of costs and
 * push-grown arrays made it 98).
 *
 * Every step is O(1): list splices, swap-removal from the main array, a fixed number of samples.
 * Total cost never exceeds `maxCost` when `insert`/`recost` return.
 */

import type { Admission } from './admission/policy.js';
import { grown } from './grow.js';
import { sketchIncrement } from './sketch.js';

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
  /** Entries of the ghost table (a power of two). Default 1,024. */
  ghosts?: number;
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
  /**
   * Ghost counts so far: candidates refused at the window's exit and main victims evicted
   * (`windowGhosts`, `mainGhosts`), and how many of each were set again while still remembered
   * (`windowGhostHits`, `mainGhostHits`). The climber compares the two hit rates.
   */
  readonly windowGhosts: number;
  readonly mainGhosts: number;
  readonly windowGhostHits: number;
  readonly mainGhostHits: number;
}

/** Slots of a new store (grown by doubling). */
const INITIAL_SLOTS = 64;

// Per slot, 6 int32 side by side. Plain module constants: V8 folds them into the hot functions
// (a TypeScript const enum is inlined by esbuild but emitted by tsc as an object).
/** The key's hash (so a hit never rehashes). */
const HASH = 0;
/**
 * Bits 0–4: the frequency estimate at the last access or sampling (0..16); bit 5 (SEEN): the key
 * was recorded in this epoch, so its doorkeeper bits are set; bits 6–7: the region; bits 8–31:
 * the aging epoch those were read in. Valid while the epoch is current.
 */
const META = 1;
/** Logical time of the last access (int32 that may wrap: compared by difference). */
const STAMP = 2;
/** Window: previous slot (slot 0 is the sentinel). Main: index in the main array. */
const PREV = 3;
/** Window: next slot. A free slot: the next free one. */
const NEXT = 4;
/** Cost when it is an integer < 2^31, else -1 and the cost is in `bigCosts`. */
const COST = 5;
const STRIDE = 6;
const POS = PREV;

const FREQ_BITS = 0x1f;
const SEEN = 0x20;
const REGION_SHIFT = 6;
const REGION_BITS = 0xc0;
const TAG_SHIFT = 8;
/** Ghost types (the low two bits of a ghost; the rest is the key's hash). */
const GHOST_WINDOW = 1;
const GHOST_MAIN = 2;
/** The frequency of a key whose four sketch counters are saturated (15 + the doorkeeper's 1). */
const SATURATED = 16;

export function createStore<V>(options: StoreOptions): Store<V> {
  const { maxCost, admission, onRemove } = options;
  const samples = options.samples ?? 8;
  const map = new Map<string, number>();
  // Each entry costs at least 1, so at most ⌊maxCost⌋ are resident, plus the one being
  // admitted and the window sentinel (slot 0).
  const bound = Math.min(2 ** 26, Math.floor(maxCost) + 2);
  let slots = Math.min(INITIAL_SLOTS, bound);
  // Plain arrays for the key and value, pre-extended with the typed arrays (holey but fast):
  // grown by push they carried 1.5× growth slack, 5 bytes per entry at 1M entries.
  const keys: string[] = [''];
  const values: (V | undefined)[] = [undefined];
  keys.length = slots;
  values.length = slots;
  let info = new Int32Array(slots * STRIDE);
  // Costs that do not fit an int32 field (fractions, ≥ 2^31); allocated on first use.
  let bigCosts: Float64Array | undefined;
  let fresh = 1; // first never-used slot
  let free = -1; // head of the free list
  // The main region: slots in no order. Sampling picks random indexes of it.
  let main = new Int32Array(slots);
  let mainCount = 0;

  // Ghosts: the hashes of recently refused candidates and evicted victims, in a direct-mapped
  // table (a newer ghost overwrites an older one, so only recent losses are remembered). A new key
  // found here was lost by one region: which one tells the climber where room would have hit.
  const ghostMask = (options.ghosts ?? 1024) - 1;
  const ghosts = new Int32Array(ghostMask + 1);
  let windowGhosts = 0;
  let mainGhosts = 0;
  let windowGhostHits = 0;
  let mainGhostHits = 0;
  const ghostAt = (h: number) => (h ^ (h >>> 15)) & ghostMask;
  /** Remembers the slot's key as lost by the window (a refused candidate) or by main (a victim). */
  const addGhost = (s: number, type: number) => {
    if (type === GHOST_WINDOW) windowGhosts++;
    else mainGhosts++;
    const h = info[s * STRIDE + HASH]!;
    ghosts[ghostAt(h)] = (h & ~3) | type;
  };
  /** Counts a new key that was lost recently (and forgets the ghost). */
  const checkGhost = (h: number) => {
    const i = ghostAt(h);
    const g = ghosts[i]!;
    if (g === 0 || (g & ~3) !== (h & ~3)) return;
    if ((g & 3) === GHOST_WINDOW) windowGhostHits++;
    else mainGhostHits++;
    ghosts[i] = 0;
  };

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
    info = grown(info, n * STRIDE);
    main = grown(main, n);
    if (bigCosts !== undefined) bigCosts = grown(bigCosts, n);
    keys.length = n;
    values.length = n;
    slots = n;
  };

  const costOf = (s: number): number => {
    const c = info[s * STRIDE + COST]!;
    return c >= 0 ? c : bigCosts![s]!;
  };
  const setCost = (s: number, cost: number) => {
    if ((cost | 0) === cost) info[s * STRIDE + COST] = cost;
    else {
      bigCosts ??= new Float64Array(slots);
      bigCosts[s] = cost;
      info[s * STRIDE + COST] = -1;
    }
  };

  const setRegion = (b: number, region: number) => {
    info[b + META] = (info[b + META]! & ~REGION_BITS) | (region << REGION_SHIFT);
  };
  const regionAt = (b: number) => (info[b + META]! & REGION_BITS) >>> REGION_SHIFT;

  const alloc = (key: string, value: V, hash: number, cost: number): number => {
    let s = free;
    if (s > 0) free = info[s * STRIDE + NEXT]!;
    else {
      s = fresh++;
      if (s === slots) grow();
    }
    keys[s] = key;
    values[s] = value;
    const b = s * STRIDE;
    info[b + HASH] = hash;
    info[b + META] = GONE << REGION_SHIFT;
    setCost(s, cost);
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
    setRegion(b, WINDOW);
    windowCost += costOf(s);
  };
  const unlinkWindow = (s: number) => {
    const b = s * STRIDE;
    const p = info[b + PREV]!;
    const n = info[b + NEXT]!;
    info[p * STRIDE + NEXT] = n;
    info[n * STRIDE + PREV] = p;
    // Fractional costs leave rounding residue in a float sum: an empty window holds exactly 0
    // (a residue above a 0 windowMax would make drainWindow unlink the sentinel).
    windowCost = info[NEXT] === 0 ? 0 : windowCost - costOf(s);
    setRegion(b, MOVING);
  };
  const addMain = (s: number, freq: number) => {
    const b = s * STRIDE;
    const i = mainCount++;
    main[i] = s;
    info[b + POS] = i;
    const m = info[b + META]!;
    const tag = admission.epoch;
    // The doorkeeper mark stays valid within the epoch; the frequency is the one just read.
    const seen = m >>> TAG_SHIFT === tag ? m & SEEN : 0;
    info[b + META] = (tag << TAG_SHIFT) | (MAIN << REGION_SHIFT) | seen | freq;
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
    const r = regionAt(b);
    if (r === GONE) return;
    if (r === WINDOW) unlinkWindow(s);
    else if (r === MAIN) removeMain(s);
    setRegion(b, GONE);
    map.delete(keys[s]!);
    // Likewise an empty store holds exactly 0 (integer costs sum exactly anyway).
    total = map.size === 0 ? 0 : total - costOf(s);
    onRemove(s, reason);
    release(s);
  };

  /**
   * Records an access of the slot's key in the admission policy and returns its frequency. When
   * the slot already recorded its key in this epoch, the doorkeeper would only confirm it: go
   * straight to the sketch, and skip even that once all four counters are saturated (only an
   * aging, which ends the epoch, lowers them). Same counts as `admission.record`, without the
   * doorkeeper lookup and the calls on a hit.
   */
  const record = (b: number): number => {
    const a = admission;
    const tag = a.epoch;
    const m = info[b + META]!;
    let f: number;
    if (m >>> TAG_SHIFT === tag && (m & SEEN) !== 0) {
      f = m & FREQ_BITS;
      if (f !== SATURATED) f = sketchIncrement(a.counters, a.blockMask, info[b + HASH]!) + 1;
      if (++a.recorded >= a.period) a.age();
    } else f = a.record(info[b + HASH]!);
    // After an aging the doorkeeper mark is void, but the count read just before it is kept for
    // the new epoch (re-reading the halved count instead measured −0.12 points on arc-oltp at 250).
    const now = a.epoch;
    info[b + META] = (now << TAG_SHIFT) | (m & REGION_BITS) | (now === tag ? SEEN : 0) | f;
    return f;
  };

  // Frequencies are remembered per slot at each access and re-read from the sketch only after
  // an aging: sampling then costs no sketch lookups (9 per eviction would dominate a set).
  const frequencyAt = (b: number, tag: number): number => {
    const v = info[b + META]!;
    if (v >>> TAG_SHIFT === tag) return v & FREQ_BITS;
    const f = admission.frequency(info[b + HASH]!);
    // Read, not recorded: no doorkeeper mark.
    info[b + META] = (tag << TAG_SHIFT) | (v & REGION_BITS) | f;
    return f;
  };

  /** Slot of the least frequent of `samples` sampled main entries (the oldest on ties); -1 if none. */
  const sampleVictim = (): number => {
    const n = mainCount;
    if (n === 0) return -1;
    const tag = admission.epoch;
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
    return best / STRIDE;
  };

  /** The candidate left the window (or skipped it): it enters main if it wins against victims. */
  const promote = (c: number, cf: number): boolean => {
    while (total > maxCost) {
      const v = sampleVictim();
      if (v < 0) break;
      if (admission.admit(cf, victimFrequency)) {
        addGhost(v, GHOST_MAIN);
        remove(v, 'capacity');
      } else {
        addGhost(c, GHOST_WINDOW);
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

  // Its own function, not written out in `touch`: touch's bytecode was 345 bytes, which left the
  // chain get → touch → record → sketchIncrement over TurboFan's cumulative inlining budget.
  /** Moves a window entry to the head of the window's LRU list. */
  const toWindowHead = (s: number, b: number) => {
    const p = info[b + PREV]!;
    const n = info[b + NEXT]!;
    info[p * STRIDE + NEXT] = n;
    info[n * STRIDE + PREV] = p;
    const first = info[NEXT]!;
    info[b + PREV] = 0;
    info[b + NEXT] = first;
    info[first * STRIDE + PREV] = s;
    info[NEXT] = s;
  };

  return {
    map,
    alloc,
    touch(s) {
      const b = s * STRIDE;
      record(b);
      tick = (tick + 1) | 0;
      info[b + STAMP] = tick;
      // A main entry needs nothing more (its frequency is remembered by `record`); a window
      // entry moves to the head of the window's LRU list.
      if ((info[b + META]! & REGION_BITS) === WINDOW << REGION_SHIFT && info[NEXT] !== s) toWindowHead(s, b);
      return values[s] as V;
    },
    insert(s) {
      const b = s * STRIDE;
      checkGhost(info[b + HASH]!);
      const f = record(b);
      map.set(keys[s]!, s);
      const cost = costOf(s);
      total += cost;
      tick = (tick + 1) | 0;
      info[b + STAMP] = tick;
      let kept = true;
      if (cost <= windowMax) {
        linkHead(s);
        drainWindow();
      } else {
        setRegion(b, MOVING);
        kept = promote(s, f);
      }
      if (total > maxCost) shrink();
      return kept && regionAt(b) !== GONE;
    },
    recost(s, cost) {
      const delta = cost - costOf(s);
      setCost(s, cost);
      total += delta;
      if (regionAt(s * STRIDE) === WINDOW) {
        windowCost += delta;
        drainWindow();
      }
      shrink();
      return regionAt(s * STRIDE) !== GONE;
    },
    remove,
    key: (s) => keys[s]!,
    value: (s) => values[s] as V,
    setValue(s, value) {
      values[s] = value;
    },
    cost: costOf,
    region: (s) => regionAt(s * STRIDE),
    setWindowFraction(fraction) {
      windowMax = Math.floor(fraction * maxCost);
    },
    clear() {
      map.clear();
      keys.fill('');
      values.fill(undefined);
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
    get windowGhosts() {
      return windowGhosts;
    },
    get mainGhosts() {
      return mainGhosts;
    },
    get windowGhostHits() {
      return windowGhostHits;
    },
    get mainGhostHits() {
      return mainGhostHits;
    },
    get mainCount() {
      return mainCount;
    },
  };
}
