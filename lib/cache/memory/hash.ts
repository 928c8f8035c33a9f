/**
 * A fast 32-bit string hash for the frequency sketch. It only has to spread keys well: equality
 * is still decided by the `Map`, so a collision costs a little accuracy, never correctness. The
 * whole key is hashed: sampling 32 characters of long keys made keys that differ in the middle
 * (`tenant:acme:user:000123:profile:v2`) share sketch counters, and cost 7.6 points of hit ratio
 * on a Zipf workload. The hash is stored per slot, so only a set pays for it.
 */

/**
 * Hashes `key` to a signed 32-bit integer (a small integer to V8: stored in an entry without
 * boxing). Deterministic across runs and processes.
 */
export function hashKey(key: string): number {
  const n = key.length;
  let h = n ^ 0x811c9dc5;
  // MurmurHash3's 32-bit block step over pairs of UTF-16 units (a block of two chars).
  const pairs = n & ~1;
  let i = 0;
  for (; i < pairs; i += 2) {
    h ^= mixBlock(key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) h ^= mixBlock(key.charCodeAt(i));
  // Final avalanche so that the low bits (used as table indexes) depend on every input char.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function mixBlock(block: number): number {
  const k = Math.imul(block, 0xcc9e2d51);
  return Math.imul((k << 15) | (k >>> 17), 0x1b873593);
}
