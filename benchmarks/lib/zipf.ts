/**
 * Seeded random numbers for benchmarks, so every run replays the same requests: a small PRNG and
 * a Zipf key generator. Shared by the cache benchmarks; import, never copy.
 */

import { createSeededRandom } from '../../lib/core/random.js';

/** A seeded PRNG (the core's mulberry32): returns floats in [0, 1). Same seed, same sequence. */
export function createRng(seed = 0x9e3779b9): () => number {
  return createSeededRandom(seed);
}

/** Options of {@link createZipf}. */
export interface ZipfOptions {
  /** Number of distinct items (ranks 0..n-1). */
  n: number;
  /** Skew exponent s (0.9 and 1.2 are the usual cache figures). */
  skew: number;
  /** PRNG seed. Default 42. */
  seed?: number;
}

/**
 * A Zipf-distributed rank generator: rank r (0-based) is drawn with probability ∝ 1/(r+1)^skew.
 * Builds the cumulative table once (8 bytes per item) and draws by binary search.
 */
export function createZipf(options: ZipfOptions): () => number {
  const { n, skew } = options;
  const rng = createRng(options.seed ?? 42);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** skew;
    cdf[i] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  return () => {
    const u = rng();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** `count` Zipf ranks as an Int32Array (fast to replay). */
export function zipfRanks(options: ZipfOptions & { count: number }): Int32Array {
  const next = createZipf(options);
  const out = new Int32Array(options.count);
  for (let i = 0; i < out.length; i++) out[i] = next();
  return out;
}

/**
 * Ranks are scrambled before they become keys, so that popular keys are not also numerically
 * adjacent (a cache must not benefit from key order).
 */
export function zipfKeys(options: ZipfOptions & { count: number; prefix?: string }): string[] {
  const ranks = zipfRanks(options);
  const prefix = options.prefix ?? 'k';
  const keys = new Array<string>(ranks.length);
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i]!;
    keys[i] = prefix + (Math.imul(r + 1, 0x9e3779b1) >>> 0).toString(36);
  }
  return keys;
}
