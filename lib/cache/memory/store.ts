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
 * Layout: an entry is a slot number. The key table (table.ts) maps key → slot by the key's
 * hash; the slot's key and value sit in two plain arrays, hash, window links or main index
 * and cost in 4 int32 side by side in one Int32Array, and the frequency/region word and the last
 * access in one Int32Array each. A hit therefore touches no per-entry object: 10,000 entry objects
 * scattered over the heap cost a cache miss each, dense typed arrays do not. Freed slots are
 * reused (free list); the arrays grow by doubling, never beyond the most entries `maxCost` can
 * hold. Heap per entry at 1M entries: 69 bytes (77 with a `Map` for the keys; 32-byte records,
 * a Float64Array of costs and push-grown arrays made it 98).
 *
 * Every step is O(1): list splices, swap-removal from the main array, a fixed number of samples.
 * Total cost never exceeds `maxCost` when `insert`/`recost` return.
 */

import type { Admission } from './admission/policy.js';
import { grown } from './grow.js';
import { sketchIncrement } from './sketch.js';
import { KeyTable } from './table.js';

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
  samples?: number | undefined;
  /** Initial window size as a share of `maxCost`. Default 0.01. */
  windowFraction?: number | undefined;
  /** Entries of the ghost table (a power of two). Default 1,024. */
  ghosts?: number | undefined;
  /** Seed of the sampling PRNG (deterministic replays). */
  seed?: number | undefined;
  /**
   * Called after an entry left the store (for stats, expiry unlinking and onEvict); its key,
   * value and cost are still readable, the slot is reused only after the call returns.
   */
  onRemove(slot: number, reason: RemoveReason): void;
  /**
   * Asked when a newcomer lost admission: a test for entries whose TTL has passed (not swept
   * yet), or `undefined` when none can have (no TTL, none due): the only clock read of eviction.
   */
  expiredTest?(): ((slot: number) => boolean) | undefined;
}

/** Slots of a new store (grown by doubling). */
const INITIAL_SLOTS = 64;

// Per slot, 4 int32 side by side in `info`; the meta word and the access stamp have an array of
// their own (`ms`): sampling reads only those two for each of its 8 victims, 8 bytes per slot in
// one dense array instead of a 24-byte record each (bench:memory --quick, medians of 3
// alternating runs: set at capacity 5.64× → 4.60× lru-cache with two arrays). Plain module
// constants: V8 folds them into the hot functions (a TypeScript const enum is inlined by esbuild
// but emitted by tsc as an object).
/** The key's hash (so a hit never rehashes). */
const HASH = 0;
/** Window: previous slot (slot 0 is the sentinel). Main: index in the main array. */
const PREV = 1;
/** Window: next slot. A free slot: the next free one. */
const NEXT = 2;
/** Cost when it is an integer < 2^31, else -1 and the cost is in `bigCosts`. */
const COST = 3;
const STRIDE = 4;
const POS = PREV;

// `ms[2 × slot]`, the meta word: bits 0–4: the frequency estimate at the last access or sampling
// (0..16); bit 5 (SEEN): the key was recorded in this epoch, so its doorkeeper bits are set; bits
// 6–7: the region; bits 8–31: the aging epoch those were read in. Valid while the epoch is
// current. `ms[2 × slot + 1]`: logical time of the last access (int32 that may wrap: compared by
// difference). Side by side, so a hit and each sampled victim touch one cache line for both.
const FREQ_BITS = 0x1f;
const SEEN = 0x20;
const REGION_SHIFT = 6;
const REGION_BITS = 0xc0;
const TAG_SHIFT = 8;
/** Ghost types (the low two bits of a ghost; the rest is the key's hash). */
const GHOST_WINDOW = 1;
const GHOST_MAIN = 2;
/** A ghost whose key came back: its second word is then the time from its last access to its return. */
const GHOST_RETURNED = 3;
/** Most residents and ghost slots looked at by one LRU-shadow checkpoint (see `shadow`). */
const SHADOW_SAMPLE = 256;
/** The frequency of a key whose four sketch counters are saturated (15 + the doorkeeper's 1). */
const SATURATED = 16;

/** Log-spaced age buckets, 4 per power of two: bucket of an age (≥ 0) and an age of a bucket. */
function ageBucket(age: number): number {
  if (age < 4) return Math.max(age, 0);
  const e = 31 - Math.clz32(age);
  return Math.min(127, 4 * (e - 1) + ((age >>> (e - 2)) & 3));
}

/** The largest age of bucket `b` (ageBucket(bucketAge(b)) === b). */
function bucketAge(b: number): number {
  if (b < 4) return b;
  const e = (b >> 2) + 1;
  return ((4 + (b & 3) + 1) << (e - 2)) - 1;
}

/**
 * The store is a class, not a closure-built object: its methods live on one prototype, so every
 * call site sees one target whatever the number of caches, and TurboFan inlines the hit path
 * through it. Closures of several caches shared feedback and each cache brought its own call
 * targets; `npm run bench:memory -- --quick`, which runs several cache instances, medians of 3
 * alternating runs: get-hit 1.92× → 1.50× lru-cache, set at capacity 6.18× → 4.66×, Zipf 0.99
 * get-or-set 2.31× → 1.88×, with every hit ratio bit for bit the same.
 */
export class Store<V> {
  /** Key → slot of every resident entry (table.ts). */
  readonly table: KeyTable;
  /** Total cost of the resident entries (read-only outside). */
  totalCost = 0;
  /** Cost of the window's entries (read-only outside). */
  windowCost = 0;
  /** The window's budget (read-only outside: see `setWindowFraction`). */
  windowMax: number;
  /** Entries of the main region (read-only outside). */
  mainCount = 0;
  /**
   * Ghost counts so far: candidates refused at the window's exit and main victims evicted
   * (`windowGhosts`, `mainGhosts`), and how many of each were set again while still remembered
   * (`windowGhostHits`, `mainGhostHits`). The climber compares the two hit rates. Read-only outside.
   */
  windowGhosts = 0;
  mainGhosts = 0;
  windowGhostHits = 0;
  mainGhostHits = 0;
  /**
   * LRU shadow (see `shadow`): returns of flagged ghosts that a plain LRU of the same size would
   * still have held (their last access less than `shadowAge` ago). Read-only outside.
   */
  shadowReturns = 0;
  /** The LRU's characteristic age estimated at the last checkpoint, in ticks (-1: none). */
  shadowAge = -1;
  /** The variance of the last `shadow()` result (counting noise). Read-only outside. */
  shadowVariance = 0;

  private readonly maxCost: number;
  private readonly admission: Admission;
  private readonly onRemove: (slot: number, reason: RemoveReason) => void;
  private readonly expiredTest: () => ((slot: number) => boolean) | undefined;
  private readonly samples: number;
  /** Most slots ever needed: each entry costs at least 1. */
  private readonly bound: number;
  private slots: number;
  // Plain arrays for the key and value, pre-extended with the typed arrays (holey but fast):
  // grown by push they carried 1.5× growth slack, 5 bytes per entry at 1M entries.
  private readonly keys: string[] = [''];
  private readonly values: (V | undefined)[] = [undefined];
  private info: Int32Array;
  /** Per slot, the meta word and the access stamp (see above). */
  private ms: Int32Array;
  /** Per slot, the key's `tableHash` (to find its bucket when it leaves). */
  private tableHashes: Int32Array;
  /** Costs that do not fit an int32 field (fractions, ≥ 2^31); allocated on first use. */
  private bigCosts: Float64Array | undefined = undefined;
  /** First never-used slot. */
  private fresh = 1;
  /** Head of the free list. */
  private free = -1;
  /** The main region: slots in no order. Sampling picks random indexes of it. */
  private main: Int32Array;
  /**
   * Ghosts: the hashes of recently refused candidates and evicted victims, in a direct-mapped
   * table (a newer ghost overwrites an older one, so only recent losses are remembered). A new
   * key found here was lost by one region: which one tells the climber where room would have hit.
   */
  private readonly ghosts: Int32Array;
  /** Residents at the last checkpoint that a plain LRU would not hold: slot, hash pairs. */
  private readonly shadowSlots: Int32Array = new Int32Array(SHADOW_SAMPLE * 2);
  private shadowSlotCount = 0;
  /** Scratch of a checkpoint: (slot or ghost index, age) pairs. */
  private readonly shadowScratch: Int32Array = new Int32Array(SHADOW_SAMPLE * 4);
  /** Ghost indexes flagged at the last checkpoint. */
  private readonly shadowGhosts: Int32Array = new Int32Array(SHADOW_SAMPLE);
  private shadowGhostCount = 0;
  /** The tick of the last checkpoint, and the scale factors of its samples. */
  private shadowAt = 0;
  private shadowSeed = 0x1b873593;
  private shadowSlotScale = 1;
  private shadowGhostScale = 1;
  /** Histogram of the checkpoint's ages (log-spaced buckets, residents + ghosts, weighted). */
  private readonly shadowHist = new Float64Array(128);
  private readonly ghostMask: number;
  /** Logical time: one tick per recorded access (a hit or an insert); stamps are ticks. */
  private tick = 0;
  /** The tick of the last aging: the policy ages every `period` ticks. */
  private agedAt = 0;
  private readonly period: number;
  private seed: number;
  private victimFrequency = 0;

  constructor(options: StoreOptions) {
    this.maxCost = options.maxCost;
    this.admission = options.admission;
    this.onRemove = options.onRemove;
    this.expiredTest = options.expiredTest ?? (() => undefined);
    this.samples = options.samples ?? 8;
    this.period = options.admission.period;
    // Each entry costs at least 1, so at most ⌊maxCost⌋ are resident, plus the one being
    // admitted and the window sentinel (slot 0).
    this.bound = Math.min(2 ** 26, Math.floor(options.maxCost) + 2);
    this.slots = Math.min(INITIAL_SLOTS, this.bound);
    this.keys.length = this.slots;
    this.values.length = this.slots;
    this.table = new KeyTable(this.keys);
    this.info = new Int32Array(this.slots * STRIDE);
    this.ms = new Int32Array(this.slots * 2);
    this.tableHashes = new Int32Array(this.slots);
    this.main = new Int32Array(this.slots);
    this.ghostMask = (options.ghosts ?? 1024) - 1;
    // Two words per ghost: the hash and type, and the key's last access tick (its low bit: the
    // ghost was flagged by the last LRU-shadow checkpoint).
    this.ghosts = new Int32Array((this.ghostMask + 1) * 2);
    this.windowMax = Math.floor((options.windowFraction ?? 0.01) * options.maxCost);
    this.seed = (options.seed ?? 0x2545f491) | 0 || 1;
  }

  private ghostAt(h: number): number {
    return (h ^ (h >>> 15)) & this.ghostMask;
  }

  /** Remembers the slot's key as lost by the window (a refused candidate) or by main (a victim). */
  private addGhost(s: number, type: number): void {
    if (type === GHOST_WINDOW) this.windowGhosts++;
    else this.mainGhosts++;
    const h = this.info[s * STRIDE + HASH]!;
    const ghosts = this.ghosts;
    const i = this.ghostAt(h) << 1;
    // A key of the last checkpoint's flagged ghosts that came back and is lost again stays
    // flagged: a plain LRU still holds it, so each of its returns is again a hit LRU would have.
    const flag = ghosts[i] === ((h & ~3) | GHOST_RETURNED) ? ghosts[i + 1]! & 1 : 0;
    ghosts[i] = (h & ~3) | type;
    ghosts[i + 1] = (this.ms[(s << 1) + 1]! & ~1) | flag;
  }

  /** Counts a new key that was lost recently (and forgets the ghost). */
  private checkGhost(h: number): void {
    const ghosts = this.ghosts;
    const i = this.ghostAt(h) << 1;
    const g = ghosts[i]!;
    if (g === 0 || (g & ~3) !== (h & ~3) || (g & 3) === GHOST_RETURNED) return;
    if ((g & 3) === GHOST_WINDOW) this.windowGhostHits++;
    else this.mainGhostHits++;
    // Kept as returned (never counted twice), with the time since the key's last access.
    const t = ghosts[i + 1]!;
    const gap = (this.tick - (t & ~1)) | 0;
    ghosts[i] = g | GHOST_RETURNED;
    ghosts[i + 1] = (gap & ~1) | (t & 1);
    if ((t & 1) !== 0 && gap < this.shadowAge) this.shadowReturns++;
  }

  /**
   * One checkpoint of the LRU shadow: an estimate, without any work on the hit path, of how many
   * more hits a plain LRU of the same size would have had than this cache since the previous
   * checkpoint. A plain LRU holds the keys accessed within its characteristic age (the age of
   * the maxCost-th most recent key, Che's approximation), estimated here from the last-access
   * stamps of the residents and of the ghosts (recently lost keys). At each checkpoint:
   *
   * - residents older than that age (kept for their frequency; an LRU would not hold them):
   *   each one accessed before the next checkpoint is a hit that LRU would have missed (`lruMisses`);
   * - ghosts younger than that age (an LRU would still hold them) are flagged: each one that
   *   comes back while still within that age is a hit that LRU would have had (`lruHits`). A
   *   flagged key that comes back and is lost again stays flagged until the next checkpoint: LRU
   *   holds it all along, so every return is such a hit (a loop whose keys this cache keeps
   *   refusing: recency-loop-like traces at 5,000 entries were 4.3 points below LRU without it).
   *
   * Both sets are taken at the same moment and followed over the same interval (a quarter of
   * the age apart: the sets turn over within an age), so the comparison is even-handed. At most
   * SHADOW_SAMPLE residents and ghost slots are looked at, a block at a random offset, and the
   * counts scaled up. Returns lruHits − lruMisses since the previous checkpoint (0 when none).
   */
  shadow(): number {
    const ms = this.ms;
    const info = this.info;
    const ghosts = this.ghosts;
    const now = this.tick;
    let delta = 0;
    if (this.shadowAge >= 0) {
      let lost = 0;
      const slots = this.shadowSlots;
      for (let j = 0; j < this.shadowSlotCount; j += 2) {
        const s = slots[j]!;
        const m = ms[s << 1]!;
        const r = (m & REGION_BITS) >>> REGION_SHIFT;
        if (
          (r === WINDOW || r === MAIN) &&
          info[s * STRIDE + HASH] === slots[j + 1] &&
          ((ms[(s << 1) + 1]! - this.shadowAt) | 0) > 0
        )
          lost++;
      }
      delta = this.shadowReturns * this.shadowGhostScale - lost * this.shadowSlotScale;
      // Both counts are Poisson-like: the variance of the scaled difference.
      // One event more on each side: a checkpoint that saw none is not certain of 0.
      this.shadowVariance =
        (this.shadowReturns + 1) * this.shadowGhostScale * this.shadowGhostScale +
        (lost + 1) * this.shadowSlotScale * this.shadowSlotScale;
    } else this.shadowVariance = 0;
    {
      // Unflag the previous checkpoint's ghosts.
      const flagged = this.shadowGhosts;
      for (let j = 0; j < this.shadowGhostCount; j++) {
        const i = flagged[j]! + 1;
        ghosts[i] = ghosts[i]! & ~1;
      }
    }
    this.shadowReturns = 0;
    this.shadowSlotCount = 0;
    this.shadowGhostCount = 0;
    this.shadowAt = now;
    // The block offsets come from a PRNG of their own: the victims' sampling stays as it was.
    const seed = this.shadowSeed;
    this.shadowSeed = (Math.imul(seed, 1103515245) + 12345) | 0;
    const held = this.table.size;
    // No estimate before the cache has lost as many keys as it holds: until then the ghosts
    // and the residents' ages describe the warm-up, not the workload.
    if (held === 0 || this.windowGhosts + this.mainGhosts < held) {
      this.shadowAge = -1;
      return delta;
    }
    // Ages of a block of residents and of a block of ghost slots, weighted by the block's share;
    // one pass over each, the ages kept in `shadowScratch` for the selection below.
    const hist = this.shadowHist;
    hist.fill(0);
    const scratch = this.shadowScratch;
    const used = this.fresh - 1;
    const slotN = Math.min(used, SHADOW_SAMPLE);
    const slotFrom = used > slotN ? (seed >>> 1) % used : 0;
    const ghostSlots = this.ghostMask + 1;
    const ghostN = Math.min(ghostSlots, SHADOW_SAMPLE);
    const ghostFrom = ghostSlots > ghostN ? (this.shadowSeed >>> 7) & this.ghostMask : 0;
    const slotScale = used / Math.max(1, slotN);
    const ghostScale = ghostSlots / ghostN;
    this.shadowSlotScale = slotScale;
    this.shadowGhostScale = ghostScale;
    let total = 0;
    let n = 0;
    for (let j = 0, s = slotFrom + 1; j < slotN; j++, s++) {
      if (s > used) s = 1;
      const r = (ms[s << 1]! & REGION_BITS) >>> REGION_SHIFT;
      if (r !== WINDOW && r !== MAIN) continue;
      const age = (now - ms[(s << 1) + 1]!) | 0;
      scratch[n++] = s;
      scratch[n++] = age;
      const k = ageBucket(age);
      hist[k] = hist[k]! + slotScale;
      total += slotScale;
    }
    const residents = n;
    const mask = this.ghostMask;
    for (let j = 0; j < ghostN; j++) {
      const i = ((ghostFrom + j) & mask) << 1;
      const g = ghosts[i]!;
      if (g === 0 || (g & 3) === GHOST_RETURNED) continue;
      const age = (now - (ghosts[i + 1]! & ~1)) | 0;
      scratch[n++] = i;
      scratch[n++] = age;
      const k = ageBucket(age);
      hist[k] = hist[k]! + ghostScale;
      total += ghostScale;
    }
    // The LRU's age: where the count of keys accessed more recently reaches the resident count.
    if (total <= held) {
      this.shadowAge = -1;
      return delta;
    }
    let sum = 0;
    let b = 0;
    while (b < 127 && sum + hist[b]! < held) sum += hist[b++]!;
    const age = bucketAge(b);
    this.shadowAge = age;
    const slots = this.shadowSlots;
    let count = 0;
    for (let j = 0; j < residents; j += 2) {
      if (scratch[j + 1]! > age) {
        const s = scratch[j]!;
        slots[count++] = s;
        slots[count++] = info[s * STRIDE + HASH]!;
      }
    }
    this.shadowSlotCount = count;
    const flagged = this.shadowGhosts;
    count = 0;
    for (let j = residents; j < n; j += 2) {
      if (scratch[j + 1]! <= age) {
        const i = scratch[j]!;
        ghosts[i + 1] = ghosts[i + 1]! | 1;
        flagged[count++] = i;
      }
    }
    this.shadowGhostCount = count;
    return delta;
  }

  private random(): number {
    // xorshift32: enough for picking samples, and no allocation.
    let seed = this.seed;
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    this.seed = seed;
    // Non-negative int32: keeps the modulo in integer arithmetic.
    return seed & 0x7fffffff;
  }

  private grow(): void {
    let n = Math.min(this.slots * 2, this.bound);
    // Only a re-entrant set from onEvict can need more than the bound; never refuse it.
    if (n <= this.slots) n = this.slots * 2;
    this.info = grown(this.info, n * STRIDE);
    this.ms = grown(this.ms, n * 2);
    this.tableHashes = grown(this.tableHashes, n);
    this.main = grown(this.main, n);
    if (this.bigCosts !== undefined) this.bigCosts = grown(this.bigCosts, n);
    this.keys.length = n;
    this.values.length = n;
    this.slots = n;
  }

  cost(s: number): number {
    const c = this.info[s * STRIDE + COST]!;
    return c >= 0 ? c : this.bigCosts![s]!;
  }

  private setCost(s: number, cost: number): void {
    if ((cost | 0) === cost) this.info[s * STRIDE + COST] = cost;
    else {
      this.bigCosts ??= new Float64Array(this.slots);
      this.bigCosts[s] = cost;
      this.info[s * STRIDE + COST] = -1;
    }
  }

  private setRegion(s: number, region: number): void {
    this.ms[s << 1] = (this.ms[s << 1]! & ~REGION_BITS) | (region << REGION_SHIFT);
  }

  private regionAt(s: number): number {
    return (this.ms[s << 1]! & REGION_BITS) >>> REGION_SHIFT;
  }

  /** Takes a free slot for a new entry (not yet resident: `insert` makes it so). */
  alloc(key: string, value: V, hash: number, cost: number, keyTableHash: number): number {
    let s = this.free;
    if (s > 0) this.free = this.info[s * STRIDE + NEXT]!;
    else {
      s = this.fresh++;
      if (s === this.slots) this.grow();
    }
    this.keys[s] = key;
    this.values[s] = value;
    const b = s * STRIDE;
    this.info[b + HASH] = hash;
    this.tableHashes[s] = keyTableHash;
    this.ms[s << 1] = GONE << REGION_SHIFT;
    this.setCost(s, cost);
    return s;
  }

  private release(s: number): void {
    this.keys[s] = '';
    this.values[s] = undefined;
    this.info[s * STRIDE + NEXT] = this.free;
    this.free = s;
  }

  private linkHead(s: number): void {
    const info = this.info;
    const b = s * STRIDE;
    const first = info[NEXT]!;
    info[b + PREV] = 0;
    info[b + NEXT] = first;
    info[first * STRIDE + PREV] = s;
    info[NEXT] = s;
    this.setRegion(s, WINDOW);
    this.windowCost += this.cost(s);
  }

  private unlinkWindow(s: number): void {
    const info = this.info;
    const b = s * STRIDE;
    const p = info[b + PREV]!;
    const n = info[b + NEXT]!;
    info[p * STRIDE + NEXT] = n;
    info[n * STRIDE + PREV] = p;
    // Fractional costs leave rounding residue in a float sum: an empty window holds exactly 0
    // (a residue above a 0 windowMax would make drainWindow unlink the sentinel).
    this.windowCost = info[NEXT] === 0 ? 0 : this.windowCost - this.cost(s);
    this.setRegion(s, MOVING);
  }

  private addMain(s: number, freq: number): void {
    const i = this.mainCount++;
    this.main[i] = s;
    this.info[s * STRIDE + POS] = i;
    const m = this.ms[s << 1]!;
    const tag = this.admission.epoch;
    // The doorkeeper mark stays valid within the epoch; the frequency is the one just read.
    const seen = m >>> TAG_SHIFT === tag ? m & SEEN : 0;
    this.ms[s << 1] = (tag << TAG_SHIFT) | (MAIN << REGION_SHIFT) | seen | freq;
  }

  private removeMain(s: number): void {
    const last = --this.mainCount;
    const to = this.info[s * STRIDE + POS]!;
    if (to !== last) {
      const moved = this.main[last]!;
      this.main[to] = moved;
      this.info[moved * STRIDE + POS] = to;
    }
  }

  remove(s: number, reason: RemoveReason): void {
    const r = this.regionAt(s);
    if (r === GONE) return;
    if (r === WINDOW) this.unlinkWindow(s);
    else if (r === MAIN) this.removeMain(s);
    this.setRegion(s, GONE);
    this.table.remove(this.tableHashes[s]!, s);
    // Likewise an empty store holds exactly 0 (integer costs sum exactly anyway).
    this.totalCost = this.table.size === 0 ? 0 : this.totalCost - this.cost(s);
    this.onRemove(s, reason);
    this.release(s);
  }

  /**
   * Records an access of the slot's key in the admission policy and returns its frequency; stamps
   * the slot with the new tick and ages the policy every `period` ticks. When the slot already
   * recorded its key in this epoch, the doorkeeper would only confirm it: go straight to the
   * sketch, and skip even that once all four counters are saturated (only an aging, which ends
   * the epoch, lowers them). Same counts as `admission.record`, without the doorkeeper lookup
   * and the calls on a hit.
   */
  private record(s: number): number {
    const a = this.admission;
    const tag = a.epoch;
    const i = s << 1;
    const m = this.ms[i]!;
    let f: number;
    if (m >>> TAG_SHIFT === tag && (m & SEEN) !== 0) {
      f = m & FREQ_BITS;
      if (f !== SATURATED) f = sketchIncrement(a.counters, a.blockMask, this.info[s * STRIDE + HASH]!) + 1;
    } else f = a.record(this.info[s * STRIDE + HASH]!);
    // One clock for the stamps and the aging (a separate access counter was one more field
    // written per hit). Int32 ticks that may wrap: compared by difference.
    const tick = (this.tick + 1) | 0;
    this.tick = tick;
    this.ms[i + 1] = tick;
    if (((tick - this.agedAt) | 0) >= this.period) {
      this.agedAt = tick;
      a.age();
      // After an aging the doorkeeper mark is void, but the count read just before it is kept for
      // the new epoch (re-reading the halved count instead measured −0.12 points on arc-oltp at 250).
      this.ms[i] = (a.epoch << TAG_SHIFT) | (m & REGION_BITS) | f;
    } else this.ms[i] = (tag << TAG_SHIFT) | (m & REGION_BITS) | SEEN | f;
    return f;
  }

  // Frequencies are remembered per slot at each access and re-read from the sketch only after
  // an aging: sampling then costs no sketch lookups (9 per eviction would dominate a set).
  private frequencyAt(s: number, tag: number): number {
    const v = this.ms[s << 1]!;
    if (v >>> TAG_SHIFT === tag) return v & FREQ_BITS;
    const f = this.admission.frequency(this.info[s * STRIDE + HASH]!);
    // Read, not recorded: no doorkeeper mark.
    this.ms[s << 1] = (tag << TAG_SHIFT) | (v & REGION_BITS) | f;
    return f;
  }

  /** Slot of the least frequent of `samples` sampled main entries (the oldest on ties); -1 if none. */
  sampleVictim(): number {
    const n = this.mainCount;
    if (n === 0) return -1;
    const ms = this.ms;
    const main = this.main;
    const tag = this.admission.epoch;
    let best = main[this.random() % n]!;
    let bestF = this.frequencyAt(best, tag);
    for (let i = 1; i < this.samples; i++) {
      const v = main[this.random() % n]!;
      const f = this.frequencyAt(v, tag);
      if (f < bestF || (f === bestF && ((ms[(v << 1) + 1]! - ms[(best << 1) + 1]!) | 0) < 0)) {
        best = v;
        bestF = f;
      }
    }
    this.victimFrequency = bestF;
    return best;
  }

  /** `v` or another sampled main entry if its TTL has passed, else -1 (only after a refusal). */
  private expiredVictim(v: number): number {
    const expired = this.expiredTest();
    if (expired === undefined) return -1;
    if (expired(v)) return v;
    const n = this.mainCount;
    for (let i = 0; i < this.samples; i++) {
      const s = this.main[this.random() % n]!;
      if (expired(s)) return s;
    }
    return -1;
  }

  /** The candidate left the window (or skipped it): it enters main if it wins against victims. */
  private promote(c: number, cf: number): boolean {
    while (this.totalCost > this.maxCost) {
      const v = this.sampleVictim();
      if (v < 0) break;
      if (this.admission.admit(cf, this.victimFrequency)) {
        this.addGhost(v, GHOST_MAIN);
        this.remove(v, 'capacity');
      } else {
        // Expired entries not swept yet still held their room and their counts: right after
        // 1,000 entries of one TTL expired together, 990 of the next 1,000 new keys were
        // refused until the sweep ran. One found among the victim and a fresh sample gives way.
        const dead = this.expiredVictim(v);
        if (dead > 0) {
          this.remove(dead, 'expired');
          continue;
        }
        this.addGhost(c, GHOST_WINDOW);
        this.remove(c, 'rejected');
        return false;
      }
    }
    this.addMain(c, cf);
    return true;
  }

  private drainWindow(): void {
    while (this.windowCost > this.windowMax) {
      const c = this.info[PREV]!;
      this.unlinkWindow(c);
      this.promote(c, this.admission.frequency(this.info[c * STRIDE + HASH]!));
    }
  }

  /** Restores total ≤ maxCost when the window grew or an entry got costlier. */
  private shrink(): void {
    while (this.totalCost > this.maxCost) {
      let v = this.sampleVictim();
      if (v < 0) v = this.info[PREV]!;
      if (v === 0) break;
      this.remove(v, 'capacity');
    }
  }

  // Its own method, not written out in `touch`: touch's bytecode was 345 bytes, which left the
  // chain get → touch → record → sketchIncrement over TurboFan's cumulative inlining budget.
  /** Moves a window entry to the head of the window's LRU list. */
  private toWindowHead(s: number, b: number): void {
    const info = this.info;
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

  /** Records an access (frequency in the admission sketch, and recency); returns the value. */
  touch(s: number): V {
    this.record(s);
    // A main entry needs nothing more (its frequency is remembered by `record`); a window
    // entry moves to the head of the window's LRU list.
    if ((this.ms[s << 1]! & REGION_BITS) === WINDOW << REGION_SHIFT && this.info[NEXT] !== s)
      this.toWindowHead(s, s * STRIDE);
    return this.values[s] as V;
  }

  /**
   * A newcomer too costly for the window faces main's victims at once. One too costly even for
   * the room the window leaves with main emptied is refused, as admission refuses a newcomer (it
   * used to enter an empty main region and be evicted at once, reported as a `capacity`
   * eviction, and main's entries could be evicted for it first). Out of `insert`, whose common
   * path stays as small as it was.
   */
  private skipWindow(s: number, f: number, cost: number): boolean {
    this.setRegion(s, MOVING);
    if (cost <= this.maxCost - this.windowCost) return this.promote(s, f);
    this.addGhost(s, GHOST_WINDOW);
    this.remove(s, 'rejected');
    return false;
  }

  /** Adds an allocated entry. Returns false if admission rejected it (it is then already removed). */
  insert(s: number): boolean {
    this.checkGhost(this.info[s * STRIDE + HASH]!);
    const f = this.record(s);
    this.table.add(this.tableHashes[s]!, s);
    const cost = this.cost(s);
    this.totalCost += cost;
    let kept = true;
    if (cost <= this.windowMax) {
      this.linkHead(s);
      this.drainWindow();
    } else {
      kept = this.skipWindow(s, f, cost);
    }
    if (this.totalCost > this.maxCost) this.shrink();
    return kept && this.regionAt(s) !== GONE;
  }

  /** Applies a changed cost of a resident entry and restores the bound. Returns false if it was evicted. */
  recost(s: number, cost: number): boolean {
    const delta = cost - this.cost(s);
    this.setCost(s, cost);
    this.totalCost += delta;
    if (this.regionAt(s) === WINDOW) {
      this.windowCost += delta;
      this.drainWindow();
    }
    this.shrink();
    return this.regionAt(s) !== GONE;
  }

  /** Slot of `key` (whose `tableHash` is `hash`), or 0 when it is not held. */
  find(key: string, hash: number): number {
    return this.table.find(key, hash);
  }

  /** Number of resident entries. */
  get count(): number {
    return this.table.size;
  }

  /** The slots of the resident entries, in slot order. */
  residentSlots(): number[] {
    const out: number[] = [];
    for (let s = 1; s < this.fresh; s++) {
      const r = this.regionAt(s);
      if (r === WINDOW || r === MAIN) out.push(s);
    }
    return out;
  }

  key(s: number): string {
    return this.keys[s]!;
  }

  value(s: number): V {
    return this.values[s] as V;
  }

  setValue(s: number, value: V): void {
    this.values[s] = value;
  }

  /** WINDOW, MAIN, MOVING or GONE. */
  region(s: number): number {
    return this.regionAt(s);
  }

  /** Sets the window's share of `maxCost` (0..1); takes effect on the next inserts. */
  setWindowFraction(fraction: number): void {
    this.windowMax = Math.floor(fraction * this.maxCost);
  }

  /** Drops every entry without callbacks. */
  clear(): void {
    this.table.clear();
    this.keys.fill('');
    this.values.fill(undefined);
    this.info.fill(0);
    this.ms.fill(0);
    this.fresh = 1;
    this.free = -1;
    this.mainCount = 0;
    this.windowCost = 0;
    this.totalCost = 0;
  }
}

export function createStore<V>(options: StoreOptions): Store<V> {
  return new Store<V>(options);
}
