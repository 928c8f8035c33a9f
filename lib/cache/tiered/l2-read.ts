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
}

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
    };
  const read = (what: string, keys: readonly string[]) => {
    // The TTL counts from when L2 answered, so counting it from before the request errs early.
    const sent = now();
    return guarded(what, () => withTtl.call(l2, keys)).then(
      (hits: (CacheHit | undefined)[]) =>
        hits.map((h) =>
          h === undefined ? undefined : readFetched(h.value, h.ttl === undefined ? undefined : sent + h.ttl),
        ),
      // The Redis cache reads a WRONGTYPE key of a batch as a miss for that key alone; an L2 that
      // still rejects a whole batch for one such key (invalid_value) makes it read as misses.
      unreadable(keys.map(() => undefined)),
    );
  };
  return {
    get: (key) => read('get', [key]).then((entries) => entries[0]),
    getMany: (keys) => read('getMany', keys),
  };
}
