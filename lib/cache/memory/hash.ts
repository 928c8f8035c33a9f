/**
 * A fast 32-bit string hash for the frequency sketch. It only has to spread keys well: equality
 * is still decided by the `Map`, so a collision costs a little accuracy, never correctness. Long
 * keys are sampled (head, tail and a stride through the middle) so that hashing stays O(1).
 */

const FULL = 32;

/**
 * Hashes `key` to a signed 32-bit integer (a small integer to V8: stored in an entry without
 * boxing). Deterministic across runs and processes.
 */
export function hashKey(key: string): number {
  const n = key.length;
  let h = Math.imul(n, 0x9e3779b1) ^ 0x811c9dc5;
  if (n <= FULL) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    // 12 from the head, 12 from the tail (where ids usually differ), 8 spread over the middle.
    for (let i = 0; i < 12; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    for (let i = n - 12; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const step = (n - 24) >>> 3 || 1;
    for (let i = 12, k = 0; k < 8; i += step, k++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  // Final avalanche so that the low bits (used as table indexes) depend on every input char.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
