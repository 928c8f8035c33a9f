/**
 * The doorkeeper: a Bloom filter in front of the sketch. A key's first access only sets its bits
 * here; the sketch is touched from the second access on. Most keys of a long-tail workload are
 * seen once, so they never dilute the sketch's counters.
 *
 * It keeps two generations: `rotate()` (called when the sketch ages) turns the current filter
 * into the previous one and starts a cleared one, so a key seen once shortly before aging is not
 * forgotten at once. Both generations of a word sit side by side and a key's three bits share
 * one 32-bit word (a blocked Bloom filter), so a lookup touches one cache line.
 */

import { nextPowerOfTwo } from './sketch.js';

export interface Doorkeeper {
  /** True if the key may have been added in this or the previous generation (no false negatives). */
  has(hash: number): boolean;
  /** Adds the key to the current generation; returns true when it was (probably) already seen. */
  add(hash: number): boolean;
  /** Starts a new generation; the current one becomes the previous one, the oldest is dropped. */
  rotate(): void;
  clear(): void;
  /** Bits per generation (a power of two). */
  readonly bits: number;
}

/** A filter of about `bitsWanted` bits per generation (rounded up to a power of two, at least 64). */
export function createDoorkeeper(bitsWanted: number): Doorkeeper {
  const bits = Math.max(nextPowerOfTwo(bitsWanted), 64);
  const wordMask = (bits >>> 5) - 1;
  // words[2i] = current generation, words[2i + 1] = previous generation.
  const words = new Int32Array((bits >>> 5) * 2);
  // Which word, and three bit positions inside it, from independent parts of a remixed hash.
  const mix = (h: number) => Math.imul(h ^ (h >>> 16), 0x45d9f3b) ^ (h >>> 7);
  const pattern = (m: number) => (1 << (m & 31)) | (1 << ((m >>> 5) & 31)) | (1 << ((m >>> 10) & 31));
  return {
    bits,
    has(hash) {
      const m = mix(hash);
      const i = ((m >>> 15) & wordMask) << 1;
      const p = pattern(m);
      return (words[i]! & p) === p || (words[i + 1]! & p) === p;
    },
    add(hash) {
      const m = mix(hash);
      const i = ((m >>> 15) & wordMask) << 1;
      const p = pattern(m);
      const cur = words[i]!;
      if ((cur & p) === p) return true;
      words[i] = cur | p;
      return (words[i + 1]! & p) === p;
    },
    rotate() {
      for (let i = 0; i < words.length; i += 2) {
        words[i + 1] = words[i]!;
        words[i] = 0;
      }
    },
    clear() {
      words.fill(0);
    },
  };
}
