/**
 * How the tiered cache reads L2 for a possible L1 fill. With server-assisted tracking, and an L2
 * that offers `getManyWithTtl` (Redis), each read also brings the key's remaining TTL: a TTL
 * another client set (PEXPIRE, or SET … PX of its own value) then bounds the L1 copy, because Redis
 * reports an expiry only when it deletes the key — lazily, or when its active expiry cycle gets
 * to it, minutes later when many keys carry TTLs. Without tracking, L1 ignores outside writes
 * anyway (bounded by `l1Ttl`), so the plain reads are kept.
 */
import type { CacheHit } from '../../core/contracts.js';
import type { Guard } from './l2.js';
import { type Fetched, readFetched } from './local.js';
import type { ResolvedOptions } from './options.js';

export interface L2Reader {
  /** The entry L2 holds for `key`, or `undefined`; errors as `guarded` gives them. */
  get(key: string): Promise<Fetched | undefined>;
  /** The entries of `keys`, in order. */
  getMany(keys: readonly string[]): Promise<(Fetched | undefined)[]>;
  /**
   * What a rejected `getMany` still answered, when L2 said (see {@link PartialRead}), else
   * `undefined`: the error then stands for every key.
   */
  partial(err: unknown, keys: readonly string[]): PartialRead | undefined;
}

/**
 * The keys of a rejected L2 `getMany` that L2 did answer: a cluster Redis cache whose one master is
 * dead (not yet failed over) rejects the batch but carries the live masters' answers as
 * `err.partial` (`{ values, unanswered }`, positions of the keys not answered). Before, a tiered
 * `getMany` read every key of such a batch as a miss, and `getOrSetMany` loaded them all, although
 * two thirds of them were answered (and then kept their L2 values from being served, as values
 * possibly older than the loaded ones, until a store replaced them).
 */
export interface PartialRead {
  /** In the order of the keys: the entry (or a miss) of each key L2 answered; `undefined` for the rest. */
  entries: (Fetched | undefined)[];
  /** Positions of the keys L2 did not answer: not misses, unknown. */
  unanswered: ReadonlySet<number>;
}

/** `err.partial` when it has the shape of a partial answer for `n` keys, else `undefined`. */
function partialOf(err: unknown, n: number): { values: unknown[]; unanswered: Set<number> } | undefined {
  const p = (err as { partial?: { values?: unknown; unanswered?: unknown } } | null)?.partial;
  if (!p || !Array.isArray(p.values) || p.values.length !== n || !Array.isArray(p.unanswered))
    return undefined;
  const unanswered = new Set<number>(p.unanswered.filter((i): i is number => Number.isInteger(i)));
  return unanswered.size < n ? { values: p.values, unanswered } : undefined;
}

/** Bytes as a level returns them (a Uint8Array), else `undefined`. */
const bytesOr = (v: unknown): Uint8Array | undefined => (v instanceof Uint8Array ? v : undefined);

const fetched = (raw: Uint8Array | undefined) => (raw === undefined ? undefined : readFetched(raw));

/**
 * A key another program made a hash, list… (Redis: WRONGTYPE, code `invalid_value`) holds no value
 * a cache can read: a miss, as `MGET` answers it, rather than an error for the caller (a load then
 * stores nothing over it: its conditional store is refused).
 */
function unreadable<T>(miss: T): (err: unknown) => T {
  return (err) => {
    if ((err as { code?: unknown } | null)?.code === 'invalid_value') return miss;
    throw err;
  };
}

export function createL2Reader(o: ResolvedOptions, guarded: Guard): L2Reader {
  const { l2, now } = o;
  const withTtl = l2.getManyWithTtl;
  if (o.tracking === undefined || typeof withTtl !== 'function')
    return {
      get: (key) => guarded('get', () => l2.get(key)).then(fetched, unreadable(undefined)),
      getMany: (keys) =>
        guarded('getMany', () => l2.getMany(keys)).then(
          (raws) => raws.map(fetched),
          unreadable(keys.map(() => undefined)),
        ),
      partial(err, keys) {
        const p = partialOf(err, keys.length);
        if (!p) return undefined;
        const entries = p.values.map((v, i) => (p.unanswered.has(i) ? undefined : fetched(bytesOr(v))));
        return { entries, unanswered: p.unanswered };
      },
    };
  /** Sent times of the reads whose rejection may still be asked for its partial answer. */
  const sentAt = new WeakMap<object, number>();
  const entry = (h: CacheHit | undefined, sent: number) =>
    h === undefined ? undefined : readFetched(h.value, h.ttl === undefined ? undefined : sent + h.ttl);
  const read = (what: string, keys: readonly string[]) => {
    // The TTL counts from when L2 answered, so counting it from before the request errs early.
    const sent = now();
    const unread = unreadable(keys.map(() => undefined));
    return guarded(what, () => withTtl.call(l2, keys)).then(
      (hits: (CacheHit | undefined)[]) => hits.map((h) => entry(h, sent)),
      (err: unknown) => {
        // For `partial`: the TTLs of what it answered count from here too.
        if (err !== null && typeof err === 'object') sentAt.set(err, sent);
        // The Redis cache reads a WRONGTYPE key of a batch as a miss for that key alone; an L2 that
        // still rejects a whole batch for one such key (invalid_value) makes it read as misses.
        return unread(err);
      },
    );
  };
  return {
    get: (key) => read('get', [key]).then((entries) => entries[0]),
    getMany: (keys) => read('getMany', keys),
    partial(err, keys) {
      const p = partialOf(err, keys.length);
      if (!p) return undefined;
      const sent = sentAt.get(err as object) ?? now();
      const hit = (v: unknown): CacheHit | undefined => {
        const value = bytesOr((v as { value?: unknown } | undefined)?.value);
        const ttl = (v as { ttl?: unknown } | undefined)?.ttl;
        return value === undefined ? undefined : { value, ttl: typeof ttl === 'number' ? ttl : undefined };
      };
      const entries = p.values.map((v, i) => (p.unanswered.has(i) ? undefined : entry(hit(v), sent)));
      return { entries, unanswered: p.unanswered };
    },
  };
}
