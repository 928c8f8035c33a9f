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

/** Which word, and three bit positions inside it, from independent parts of a remixed hash. */
const mix = (h: number) => Math.imul(h ^ (h >>> 16), 0x45d9f3b) ^ (h >>> 7);
const pattern = (m: number) => (1 << (m & 31)) | (1 << ((m >>> 5) & 31)) | (1 << ((m >>> 10) & 31));

/** A class for the reason given in admission/policy.ts: one call target whatever the number of caches. */
export class Doorkeeper {
  /** Bits per generation (a power of two). */
  readonly bits: number;
  private readonly wordMask: number;
  /** words[2i] = current generation, words[2i + 1] = previous generation. */
  private readonly words: Int32Array;

  /** A filter of about `bitsWanted` bits per generation (rounded up to a power of two, at least 64). */
  constructor(bitsWanted: number) {
    this.bits = Math.max(nextPowerOfTwo(bitsWanted), 64);
    this.wordMask = (this.bits >>> 5) - 1;
    this.words = new Int32Array((this.bits >>> 5) * 2);
  }

  /** True if the key may have been added in this or the previous generation (no false negatives). */
  has(hash: number): boolean {
    const m = mix(hash);
    const i = ((m >>> 15) & this.wordMask) << 1;
    const p = pattern(m);
    return (this.words[i]! & p) === p || (this.words[i + 1]! & p) === p;
  }

  /** Adds the key to the current generation; returns true when it was (probably) already seen. */
  add(hash: number): boolean {
    const words = this.words;
    const m = mix(hash);
    const i = ((m >>> 15) & this.wordMask) << 1;
    const p = pattern(m);
    const cur = words[i]!;
    if ((cur & p) === p) return true;
    words[i] = cur | p;
    return (words[i + 1]! & p) === p;
  }

  /** Starts a new generation; the current one becomes the previous one, the oldest is dropped. */
  rotate(): void {
    const words = this.words;
    for (let i = 0; i < words.length; i += 2) {
      words[i + 1] = words[i]!;
      words[i] = 0;
    }
  }

  clear(): void {
    this.words.fill(0);
  }
}

/** A filter of about `bitsWanted` bits per generation (rounded up to a power of two, at least 64). */
export function createDoorkeeper(bitsWanted: number): Doorkeeper {
  return new Doorkeeper(bitsWanted);
}
