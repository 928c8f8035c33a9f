/**
 * Count-min sketch of 4-bit counters: an approximate access count per key in a fixed amount of
 * memory. Each key has four counters (one per "row"), and the estimate is the smallest of them,
 * so it can over-count (collisions) but never under-count, until `halve()` ages every counter by
 * half. Counters saturate at 15: TinyLFU only needs to tell "rare" from "popular", and aging
 * keeps popular counts from piling up.
 *
 * Layout: the four counters of a key live in one 64-byte block (16 words of 8 nibbles), each in
 * a different group of four words, so an update or estimate touches one cache line instead of
 * four. Int32Array, not Uint32Array: V8 keeps int32 loads as small integers, while uint32 values
 * above 2^31 become heap numbers on the hot path.
 */

const MAX = 15;
const BLOCK_WORDS = 16;

export interface Sketch {
  /** Adds one to the key's counters (those below 15); returns the key's new estimate. */
  increment(hash: number): number;
  /** Upper bound of the key's count since the last halving (0..15). */
  estimate(hash: number): number;
  /** Halves every counter (aging). */
  halve(): void;
  /** Zeroes every counter. */
  clear(): void;
  /** Total number of counters (a power of two, ≥ 4 × `counters` asked). */
  readonly size: number;
  /** The counters (8 nibbles a word, 16-word blocks), for {@link sketchIncrement}. */
  readonly table: Int32Array;
  /** Number of blocks − 1. */
  readonly blockMask: number;
}

/** Smallest power of two ≥ `n` (at least 16, at most 2^28). */
export function nextPowerOfTwo(n: number): number {
  let p = 16;
  while (p < n && p < 1 << 28) p *= 2;
  return p;
}

/** A sketch of `counters` counters per row, 4 rows (memory: 2 bytes × `counters`, rounded up). */
/**
 * Adds one to the four counters of `hash` (those below 15) in a sketch table of
 * `blockMask + 1` blocks; returns the new estimate. A module-level function rather than a
 * method so that the store's hit path calls a constant target that TurboFan inlines (a method
 * reached through the admission object was a separate, non-inlined frame on every hit).
 */
export function sketchIncrement(table: Int32Array, blockMask: number, hash: number): number {
  // The block comes from the low bits, the four counters inside it from a second mix: row r
  // uses word base + 4r + (2 bits) and nibble (3 bits) from byte r of the mix. Unrolled: this
  // runs on every hit.
  const base = (hash & blockMask) << 4;
  const h = Math.imul(hash, 0x27d4eb2f) ^ (hash >>> 15);
  const a = bump(table, base + (h & 3), ((h >>> 2) & 7) << 2);
  const b = bump(table, base + 4 + ((h >>> 8) & 3), ((h >>> 10) & 7) << 2);
  const c = bump(table, base + 8 + ((h >>> 16) & 3), ((h >>> 18) & 7) << 2);
  const d = bump(table, base + 12 + ((h >>> 24) & 3), ((h >>> 26) & 7) << 2);
  return Math.min(a, b, c, d);
}

/** Increments one counter unless saturated; returns its new value. */
function bump(table: Int32Array, word: number, shift: number): number {
  const w = table[word]!;
  const v = (w >>> shift) & 0xf;
  if (v === MAX) return MAX;
  table[word] = w + (1 << shift);
  return v + 1;
}

/** Upper bound of the count of `hash` since the last halving (0..15). */
export function sketchEstimate(table: Int32Array, blockMask: number, hash: number): number {
  const base = (hash & blockMask) << 4;
  const h = Math.imul(hash, 0x27d4eb2f) ^ (hash >>> 15);
  const a = (table[base + (h & 3)]! >>> (((h >>> 2) & 7) << 2)) & 0xf;
  const b = (table[base + 4 + ((h >>> 8) & 3)]! >>> (((h >>> 10) & 7) << 2)) & 0xf;
  const c = (table[base + 8 + ((h >>> 16) & 3)]! >>> (((h >>> 18) & 7) << 2)) & 0xf;
  const d = (table[base + 12 + ((h >>> 24) & 3)]! >>> (((h >>> 26) & 7) << 2)) & 0xf;
  return Math.min(a, b, c, d);
}

/** A sketch of `counters` counters per row, 4 rows (memory: 2 bytes × `counters`, rounded up). */
export function createSketch(counters: number): Sketch {
  const words = Math.max(BLOCK_WORDS, nextPowerOfTwo(counters) >>> 1);
  const blockMask = words / BLOCK_WORDS - 1;
  const table = new Int32Array(words);
  return {
    size: words * 8,
    table,
    blockMask,
    increment: (hash) => sketchIncrement(table, blockMask, hash),
    estimate: (hash) => sketchEstimate(table, blockMask, hash),
    halve() {
      // Shift every nibble right by one at once; the mask drops the bit that crossed into the
      // neighbouring nibble.
      for (let w = 0; w < table.length; w++) table[w] = (table[w]! >>> 1) & 0x77777777;
    },
    clear() {
      table.fill(0);
    },
  };
}
