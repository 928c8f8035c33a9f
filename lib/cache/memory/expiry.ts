/**
 * TTL buckets. Entries with an expiry are grouped by the coarse time slot in which they expire;
 * a timer (unref'd, so it never keeps the process alive) walks the slots that have passed and
 * removes their entries, a bounded number per run so that a mass expiry never blocks the event
 * loop. Reads check `expireAt` themselves, so an expired entry is never returned even before the
 * sweep reaches it; the sweep only gives the memory back.
 *
 * Adding and removing are O(1) (intrusive lists, no allocation per entry). The timer exists only
 * while some entry has a TTL.
 */

import type { Entry } from './store.js';

export interface Expiry<V> {
  /** Files the entry under its `expireAt` (must be > 0). */
  add(entry: Entry<V>): void;
  /** Takes the entry out of its bucket (no-op if it has none). */
  remove(entry: Entry<V>): void;
  /** Removes the expired entries of every passed bucket, at most `budget` of them. Returns how many. */
  sweep(budget?: number): number;
  /** Forgets every bucket (entries are dropped by the caller). */
  clear(): void;
  /** Stops the timer for good. */
  close(): void;
  /** Number of non-empty buckets (for tests). */
  readonly buckets: number;
  /** True while the sweep timer exists (for tests). */
  readonly scheduled: boolean;
}

export interface ExpiryOptions<V> {
  /** Current time in ms. */
  now(): number;
  /** Width of a bucket and period of the sweep timer, in ms. */
  resolution: number;
  /** Entries removed per timer run before yielding to the event loop. */
  budget: number;
  /** Removes an expired entry from the cache (the caller's store). */
  expire(entry: Entry<V>): void;
}

export function createExpiry<V>(options: ExpiryOptions<V>): Expiry<V> {
  const { now, resolution, budget, expire } = options;
  const heads = new Map<number, Entry<V>>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const slotOf = (expireAt: number) => Math.floor(expireAt / resolution) + 1;

  const start = () => {
    if (timer !== undefined || closed) return;
    timer = setInterval(run, resolution);
    timer.unref();
  };
  const stop = () => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
  };
  const run = () => {
    sweep(budget);
    if (heads.size === 0) stop();
  };

  const add = (e: Entry<V>) => {
    const slot = slotOf(e.expireAt);
    const first = heads.get(slot);
    e.bucket = slot;
    e.tPrev = null;
    e.tNext = first ?? null;
    if (first) first.tPrev = e;
    heads.set(slot, e);
    start();
  };

  const remove = (e: Entry<V>) => {
    if (e.bucket === 0) return;
    if (e.tPrev) e.tPrev.tNext = e.tNext;
    else if (e.tNext) heads.set(e.bucket, e.tNext);
    else heads.delete(e.bucket);
    if (e.tNext) e.tNext.tPrev = e.tPrev;
    e.tPrev = null;
    e.tNext = null;
    e.bucket = 0;
  };

  const sweep = (limit = Number.POSITIVE_INFINITY) => {
    const t = now();
    // A bucket is due once its whole slot has passed: every entry in it has expireAt < slot end.
    const due = Math.floor(t / resolution);
    let removed = 0;
    for (const [slot, first] of heads) {
      if (slot > due) continue;
      let e: Entry<V> | null = first;
      while (e !== null && removed < limit) {
        const next: Entry<V> | null = e.tNext;
        if (e.expireAt <= t) {
          remove(e);
          expire(e);
          removed++;
        }
        e = next;
      }
      if (removed >= limit) break;
    }
    return removed;
  };

  return {
    add,
    remove,
    sweep,
    clear() {
      heads.clear();
      stop();
    },
    close() {
      closed = true;
      heads.clear();
      stop();
    },
    get buckets() {
      return heads.size;
    },
    get scheduled() {
      return timer !== undefined;
    },
  };
}
