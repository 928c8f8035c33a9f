/**
 * TTL buckets. Entries with an expiry are grouped by the coarse time slot in which they expire;
 * a timer (unref'd, so it never keeps the process alive) walks the slots that have passed and
 * removes their entries, a bounded number per run so that a mass expiry never blocks the event
 * loop. Reads check the expiry themselves (`at`), so an expired entry is never returned even
 * before the sweep reaches it; the sweep only gives the memory back.
 *
 * Entries are the store's slot numbers. This module keeps their expiry times and bucket links in
 * its own typed arrays, allocated on the first TTL: a cache that never uses TTLs never touches
 * them. Adding and removing are O(1) (intrusive lists, no allocation per entry). The timer exists
 * only while some entry has a TTL.
 */

import { grown } from './grow.js';
import { thrownMessage } from './thrown.js';

export interface Expiry {
  /** Absolute expiry time in ms of the entry in `slot`; 0 = never. */
  at(slot: number): number;
  /**
   * False until the first `add` (and again after `clear`): a cache without TTLs then checks no
   * expiry on a hit. A data property, read on every hit.
   */
  readonly used: boolean;
  /**
   * Files the entry under `expireAt`: a finite time other than 0 (negative with an injected clock
   * below zero; the cache passes a time of exactly 0 as the tiniest time before it).
   */
  add(slot: number, expireAt: number): void;
  /** Takes the entry out of its bucket and forgets its expiry (no-op if it has none). */
  remove(slot: number): void;
  /**
   * False if no entry can have expired by time `t` (the earliest bucket's slot has not begun); a
   * heap peek, so a caller may ask before looking for expired entries.
   */
  mayHaveExpired(t: number): boolean;
  /** Removes the expired entries of every passed bucket, at most `budget` of them. Returns how many. */
  sweep(budget?: number): number;
  /** Forgets every bucket and expiry (entries are dropped by the caller). */
  clear(): void;
  /** Stops the timer for good. */
  close(): void;
  /** Number of non-empty buckets (for tests). */
  readonly buckets: number;
  /** Buckets the sweeps have looked at so far (for tests: only due ones are). */
  readonly visits: number;
  /** True while the sweep timer exists (for tests). */
  readonly scheduled: boolean;
}

export interface ExpiryOptions {
  /** Current time in ms. */
  now(): number;
  /** Width of a bucket and period of the sweep timer, in ms. */
  resolution: number;
  /** Entries removed per timer run before yielding to the event loop. */
  budget: number;
  /** Removes an expired entry from the cache (the caller's store). */
  expire(slot: number): void;
  /** Called after each timer run, once its removals are done (the cache reports them then). */
  swept?(): void;
}

const NONE = -1;

/**
 * Bucket numbers in due order (a binary min-heap), each at most once, so that a sweep visits only
 * the buckets that are due: it used to walk every bucket on every run, which with TTLs spread over
 * months (up to ~1M buckets) blocked the event loop 20–45 ms each second with nothing to remove.
 * A bucket emptied by deletes stays queued until it is due or the queue is compacted.
 */
class DueQueue {
  private heap: number[] = [];
  private readonly queued = new Set<number>();

  get size(): number {
    return this.heap.length;
  }

  /** Queues bucket `b` unless it is queued already. */
  add(b: number): void {
    if (this.queued.has(b)) return;
    this.queued.add(b);
    const h = this.heap;
    let i = h.length;
    h.push(b);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= b) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = b;
  }

  /** The earliest queued bucket, or `Infinity`. */
  peek(): number {
    return this.heap.length === 0 ? Number.POSITIVE_INFINITY : this.heap[0]!;
  }

  /** Removes the earliest queued bucket. */
  pop(): void {
    const h = this.heap;
    const top = h[0]!;
    this.queued.delete(top);
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }

  /** Keeps exactly `buckets` (the non-empty ones), dropping emptied buckets. */
  reset(buckets: Iterable<number>): void {
    this.heap = [];
    this.queued.clear();
    for (const b of buckets) this.add(b);
  }
}

export function createExpiry(options: ExpiryOptions): Expiry {
  const { now, resolution, budget, expire, swept } = options;
  const heads = new Map<number, number>();
  const due = new DueQueue();
  // Per slot: expiry time (0 = none), bucket (0 = in none) and links within the bucket.
  let expireAt = new Float64Array(0);
  let bucketOf = new Float64Array(0);
  let tPrev = new Int32Array(0);
  let tNext = new Int32Array(0);
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  let visits = 0;

  // A bucket's number is the slot after the one its entries expire in, so it is due once the
  // sweep's slot has reached it. 0 means "in no bucket" (bucketOf): the slot [−resolution, 0),
  // reached only by an injected clock below zero, is numbered −1 instead, and every earlier one
  // one lower again, which keeps the order (its entries used to be filed under 0 and never
  // unlinked, so the reused slot's links broke and a sweep could remove another, live entry).
  const slotOf = (t: number) => {
    const b = Math.floor(t / resolution) + 1;
    return b > 0 ? b : b - 1;
  };
  /** The sweep's slot from which bucket `b` is due (the inverse of slotOf's shift). */
  const dueFrom = (b: number) => (b > 0 ? b : b + 1);

  const ensure = (slot: number) => {
    if (slot < expireAt.length) return;
    let n = Math.max(64, expireAt.length * 2);
    while (n <= slot) n *= 2;
    expireAt = grown(expireAt, n);
    bucketOf = grown(bucketOf, n);
    tPrev = grown(tPrev, n);
    tNext = grown(tNext, n);
  };

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
  let warned = false;
  const run = () => {
    try {
      sweep(budget);
    } catch (err) {
      // An injected clock that throws (a test clock used after its test) threw out of this timer
      // callback: an uncaught exception that ended the process. The sweep is retried on the next
      // run; reads still check each expiry themselves.
      if (!warned) {
        warned = true;
        process.emitWarning(`memory cache: the TTL sweep failed and will be retried: ${thrownMessage(err)}`, {
          code: 'HYPERION_MEMORY_SWEEP',
        });
      }
    }
    if (heads.size === 0) stop();
    swept?.();
  };

  const add = (s: number, at: number) => {
    ensure(s);
    self.used = true;
    const b = slotOf(at);
    const first = heads.get(b) ?? NONE;
    if (first === NONE) {
      due.add(b);
      // Buckets emptied by deletes wait in the queue until due: compact when they dominate.
      if (due.size > 2 * heads.size + 1024) due.reset(heads.keys());
    }
    expireAt[s] = at;
    bucketOf[s] = b;
    tPrev[s] = NONE;
    tNext[s] = first;
    if (first !== NONE) tPrev[first] = s;
    heads.set(b, s);
    start();
  };

  const remove = (s: number) => {
    if (s >= expireAt.length) return;
    expireAt[s] = 0;
    const b = bucketOf[s]!;
    if (b === 0) return;
    const p = tPrev[s]!;
    const n = tNext[s]!;
    if (p !== NONE) tNext[p] = n;
    else if (n !== NONE) heads.set(b, n);
    else heads.delete(b);
    if (n !== NONE) tPrev[n] = p;
    bucketOf[s] = 0;
  };

  const sweep = (limit = Number.POSITIVE_INFINITY) => {
    const t = now();
    // A bucket is due once its whole slot has passed: every entry in it expires before its end.
    const last = Math.floor(t / resolution);
    let removed = 0;
    while (dueFrom(due.peek()) <= last) {
      const b = due.peek();
      visits++;
      let s = heads.get(b) ?? NONE;
      while (s !== NONE && removed < limit) {
        const n = tNext[s]!;
        if (expireAt[s]! <= t) {
          remove(s);
          expire(s);
          removed++;
        }
        s = n;
      }
      // Budget spent with entries left: the rest of this bucket waits for the next run.
      if (removed >= limit && heads.has(b)) break;
      due.pop();
    }
    return removed;
  };

  const forget = () => {
    self.used = false;
    heads.clear();
    due.reset([]);
    expireAt.fill(0);
    bucketOf.fill(0);
    stop();
  };

  const self: Expiry & { used: boolean } = {
    used: false,
    at: (s) => (s < expireAt.length ? expireAt[s]! : 0),
    add,
    remove,
    // Entries of bucket b expire from the start of its slot, one resolution before it is due.
    mayHaveExpired: (t) => (dueFrom(due.peek()) - 1) * resolution <= t,
    sweep,
    clear: forget,
    close() {
      closed = true;
      forget();
    },
    get buckets() {
      return heads.size;
    },
    get visits() {
      return visits;
    },
    get scheduled() {
      return timer !== undefined;
    },
  };
  return self;
}
