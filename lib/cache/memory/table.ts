/**
 * The key index of the memory cache: key → slot, by open addressing with linear probing over one
 * Int32Array of (hash, slot) pairs. It replaces a `Map<string, number>`. A `Map` lookup compares
 * the key with each key of its bucket chain, and each comparison reads that key's string header:
 * on a set at capacity (a new key, so a whole chain walked) `perf` put the `Map` lookup at
 * ≈ 170 ns of a ≈ 600 ns set, because the keys a frequency-based cache keeps are scattered over
 * the heap (lru-cache's recent keys were allocated together: ≈ 65 ns for the same lookup). Here
 * the stored 32-bit hashes are compared first, inside the table's own cache line, and a key
 * string is read only when the hashes match: on a hit, or a one-in-2^32 collision.
 *
 * Deletion shifts the entries that follow back into the hole (no tombstones), so a table under
 * constant churn neither degrades nor needs rehashing. Slot 0 (the store's window sentinel) is
 * never an entry, so 0 marks an empty bucket and a miss.
 */

/** Smallest table: 128 buckets (64 entries at the ½ load bound). */
const MIN_BUCKETS = 128;

export class KeyTable {
  /** Number of keys held. */
  size = 0;
  /** Buckets − 1 (a power of two − 1). */
  private mask: number;
  /** pairs[2i] = the key's hash, pairs[2i + 1] = its slot (0: empty bucket). */
  private pairs: Int32Array;

  /**
   * @param keys the store's key of each slot: read to confirm a hash match. The store grows it
   * in place (same array), so the table keeps the reference.
   */
  constructor(private readonly keys: readonly string[]) {
    this.mask = MIN_BUCKETS - 1;
    this.pairs = new Int32Array(MIN_BUCKETS * 2);
  }

  /** Slot of `key` (whose `hashKey` is `hash`), or 0 when it is not held. */
  find(key: string, hash: number): number {
    const pairs = this.pairs;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const s = pairs[(i << 1) + 1]!;
      if (s === 0) return 0;
      if (pairs[i << 1] === hash && this.keys[s] === key) return s;
      i = (i + 1) & mask;
    }
  }

  /** Adds a key known to be absent. At most half of the buckets are used (short probe runs). */
  add(hash: number, slot: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    this.size++;
    this.place(hash, slot);
  }

  private place(hash: number, slot: number): void {
    const pairs = this.pairs;
    const mask = this.mask;
    let i = hash & mask;
    while (pairs[(i << 1) + 1] !== 0) i = (i + 1) & mask;
    pairs[i << 1] = hash;
    pairs[(i << 1) + 1] = slot;
  }

  /** Removes the entry of `slot` (whose key's hash is `hash`); no string is read. */
  remove(hash: number, slot: number): void {
    const pairs = this.pairs;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const s = pairs[(i << 1) + 1]!;
      if (s === slot) break;
      if (s === 0) return; // not held
      i = (i + 1) & mask;
    }
    this.size--;
    // Backward shift: an entry further on moves into the hole when the hole lies between its
    // home bucket and where it sits, so every entry stays reachable from its home without
    // crossing an empty bucket.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = pairs[(j << 1) + 1]!;
      if (s === 0) break;
      const home = pairs[j << 1]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        pairs[i << 1] = pairs[j << 1]!;
        pairs[(i << 1) + 1] = s;
        i = j;
      }
    }
    pairs[i << 1] = 0;
    pairs[(i << 1) + 1] = 0;
  }

  private resize(buckets: number): void {
    const old = this.pairs;
    this.pairs = new Int32Array(buckets * 2);
    this.mask = buckets - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }

  /** Drops every entry (keeps the current size of the table: the cache will fill again). */
  clear(): void {
    this.pairs.fill(0);
    this.size = 0;
  }
}
