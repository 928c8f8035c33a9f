/**
 * Keys whose newest value this instance served came from the loader while L2 did not answer
 * (timeout, outage, breaker open): that value is in L1 only, and L2 may still hold an older fresh
 * one (say `v1`, set before the load began). Once the L1 copy goes (a failed write's drop, `l1Ttl`,
 * eviction), a read would serve `v1` again to a caller who already had the newer value — reads went
 * back in time (found by the faulted tiered model test: "read a=v1 … older than L5 which that
 * caller already read"; `l1Ttl` 300 ms alone did it: L5 during a 300 ms Redis delay, v1 after).
 *
 * So while a key is behind, an L2 value of it is not served: `get`/`getMany`/`has` miss, and
 * `getOrSet` loads again and stores its value over exactly the bytes it saw (`ifEquals`), which
 * repairs L2. The mark goes once L2 holds nothing older: a write or delete of the key by this
 * instance was acknowledged, a conditional store landed, or L2 was read and had no value.
 * Bounded: beyond `MAX_BEHIND` keys the oldest marks are forgotten (documented in the README).
 */
export const MAX_BEHIND = 65_536;

export interface Behind {
  /** A stamp to pass to `settle` by a read that begins now. */
  mark(): number;
  /** A loaded value was served while L2 did not answer. */
  note(key: string): void;
  /** Whether an L2 value of `key` may be older than what this instance served. */
  has(key: string): boolean;
  /**
   * L2 holds nothing older for `key` any more. `since`: the stamp of the read that found no value
   * (a note made after that read began stays: the read may have reached L2 before the older value).
   */
  settle(key: string, since?: number): void;
  /** L2 was cleared by this instance. */
  settleAll(): void;
  readonly size: number;
}

export function createBehind(max = MAX_BEHIND): Behind {
  // key -> stamp of its note; a Map keeps insertion order, so the first entry is the oldest.
  const keys = new Map<string, number>();
  let stamp = 0;
  return {
    mark: () => stamp,
    note(key) {
      // Re-noting moves the key to the end: the oldest marks are the ones forgotten first.
      keys.delete(key);
      keys.set(key, ++stamp);
      if (keys.size > max) keys.delete(keys.keys().next().value as string);
    },
    // The size check first: outside an outage the map is empty and no key is hashed.
    has: (key) => keys.size !== 0 && keys.has(key),
    settle(key, since = Number.POSITIVE_INFINITY) {
      if (keys.size === 0) return;
      const noted = keys.get(key);
      if (noted !== undefined && noted <= since) keys.delete(key);
    },
    settleAll() {
      keys.clear();
    },
    get size() {
      return keys.size;
    },
  };
}
