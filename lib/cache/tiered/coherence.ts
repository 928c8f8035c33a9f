/**
 * Cross-instance coherence: the fence that keeps a slow read from putting a value back into L1
 * after that key was invalidated. The bus contract (`InvalidationBus`) is in the core.
 */

const SLOTS = 4096;

/**
 * Per-key invalidation sequence numbers in a fixed number of hashed slots (bounded memory: a
 * collision only makes a fill be skipped, which is always safe). A reader notes `mark()` before it
 * reads L2 or calls the loader and asks `stillValid(key, mark)` before filling L1.
 */
export interface Fence {
  mark(): number;
  /**
   * A new mark, later than every mark taken so far, with nothing invalidated: reads begun before
   * it can be told apart (`mark < advance()`) while their stores stay valid.
   */
  advance(): number;
  invalidate(key: string): void;
  invalidateAll(): void;
  stillValid(key: string, mark: number): boolean;
  /**
   * A number for an L2 read about to be sent (or a write about to fill L1), later than every one
   * given before: reads of one connection are answered in the order they were sent, so a later
   * ticket carries the same or a newer value.
   */
  ticket(): number;
  /**
   * Whether a fill of `key` by `ticket` may go into L1, recording it: false once a fill of a later
   * ticket did (a slot shared with another key only skips a fill, which is always safe). Replies
   * arrive in order, but their fills need not: a getOrSet's reply passes through more promise
   * steps than a getMany's, so the older value could land in L1 last and be served, before the
   * invalidation arrived, to a caller that had read the newer one (tracking model, seed
   * 1025232555 path 21: "read b=o4 … older than o8 which that caller already read").
   *
   * `batch`: the ticket is that of a multi-key read, which L2 may send in parts over several
   * turns of the event loop (the Redis cache sends more than 1,000 commands per node in chunks: a
   * cluster `getMany`, every read under tracking). Its ticket says when it was called, not when
   * the part holding `key` went out, so it is ordered against single-key reads only outside its
   * span (its ticket to a ticket taken at its fill): a read called within that span may have been
   * sent before or after that part. Such a pair is `'drop'`: neither value may stay in L1, as
   * either may be the older one that a caller of the other would then read after the newer (a
   * cluster `getMany` of 1,001 slots read v2 for one caller, then `get` read v1 from L1 until the
   * bus invalidation came: batch-fill-order.test.ts). `'skip'`: a newer value is in L1 already.
   */
  newest(key: string, ticket: number, batch?: boolean): 'fill' | 'skip' | 'drop';
}

export function createFence(): Fence {
  const slots = new Float64Array(SLOTS);
  const filled = new Float64Array(SLOTS);
  // For a slot last filled by a multi-key read: a ticket taken at that fill, the end of the
  // read's span (0 otherwise).
  const spanEnd = new Float64Array(SLOTS);
  let seq = 0;
  let allAt = 0;
  let tickets = 0;
  return {
    mark: () => seq,
    advance: () => ++seq,
    invalidate(key) {
      slots[slot(key)] = ++seq;
    },
    invalidateAll() {
      allAt = ++seq;
    },
    ticket: () => ++tickets,
    newest(key, ticket, batch = false) {
      const i = slot(key);
      const end = spanEnd[i]!;
      if (batch ? filled[i]! > ticket : end > ticket && ticket >= filled[i]!) {
        // Within the other's span: order unknown. Later fills must come from reads called after
        // both (ticket since now).
        filled[i] = ++tickets;
        spanEnd[i] = 0;
        return 'drop';
      }
      if (filled[i]! > ticket) return 'skip';
      filled[i] = ticket;
      spanEnd[i] = batch ? ++tickets : 0;
      return 'fill';
    },
    stillValid(key, mark) {
      // Fast path: nothing at all was invalidated since the read began, so no hashing.
      if (seq === mark) return true;
      return allAt <= mark && slots[slot(key)]! <= mark;
    },
  };
}

/** FNV-1a over UTF-16 code units, reduced to a slot index. */
function slot(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & (SLOTS - 1);
}
