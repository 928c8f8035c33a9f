/**
 * The Redis loader lease of the tiered cache: `SET key token NX PX ttl` takes it, a Lua
 * check-and-delete releases it only if the token is still ours (after a lease expired and another
 * instance took it, our late release must not free theirs).
 *
 * Lease keys are `hyperion:lease:` + the cache's key prefix + the key by default, so two caches with
 * different key prefixes on one Redis never share a lease: one cache loading its "x" does not make
 * the other wait for (or skip) the load of its own "x".
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'iovalkey';
import { whenAborted } from '../../core/abort.js';
import type { LeaseAcquireOptions, LoaderLease } from '../../core/contracts.js';
import { CacheError, ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import { optionKeys, shownDuration, unknownKeyMessage, unknownOptionIssues } from '../../core/options.js';
import { processWide } from '../../core/process-wide.js';
import { assertKey, MAX_CALL_TTL_MS } from '../../core/validate.js';
import { toCacheError } from './errors.js';
import { createReadyWait } from './ready-wait.js';
import { steadyNow } from './steady.js';

export interface RedisLeaseOptions {
  /** The client to use, e.g. `createRedisCache(…).client`. Not closed by the lease. */
  client: Redis | Cluster;
  /**
   * Lease lifetime in ms: longer than the slowest loader, so it does not expire under a live
   * holder; short enough that a crashed holder blocks others only briefly. Default 10 000.
   */
  ttl?: number | undefined;
  /**
   * The key prefix of the cache whose loads the lease guards; the default `prefix` is derived from
   * it. Default: the `keyPrefix` of the cache that built (or was given) `client`, `''` for a client
   * no cache uses.
   */
  keyPrefix?: string | undefined;
  /**
   * Prefix of the lease keys. Default `defaultLeasePrefix(keyPrefix)`: `hyperion:lease:` + the
   * cache's key prefix (`hyperion:lease:app:` for `keyPrefix: 'app:'`; `hyperion:lease:` without one).
   */
  prefix?: string | undefined;
}

/** Prefix of the lease keys every default lease of `keyPrefix`'s cache uses: `hyperion:lease:<keyPrefix>`. */
export function defaultLeasePrefix(keyPrefix: string): string {
  return `hyperion:lease:${keyPrefix}`;
}

/**
 * The key prefix of the caches using each client (`createRedisCache` registers it); `null` when
 * caches with different prefixes share the client, so no default can be derived. Process-wide: a
 * lease of another copy of the package (another version installed beside this one) over a cache's
 * client did not know its prefix, so its lease keys were `hyperion:lease:k`, not the
 * `hyperion:lease:<keyPrefix>k` of this copy's leases, and the two never excluded each other.
 */
const clientPrefixes = processWide('cache.redis.clientPrefixes', () => new WeakMap<object, string | null>());

/**
 * The key prefix of the caches that send their commands through `client`: `undefined` when no
 * cache uses it, `null` when caches with different prefixes do.
 */
export function cachePrefixOf(client: object): string | null | undefined {
  return clientPrefixes.get(client);
}

/** Records that a cache with `keyPrefix` sends its commands through `client`. */
export function registerCacheClient(client: object, keyPrefix: string): void {
  const known = clientPrefixes.get(client);
  clientPrefixes.set(client, known === undefined || known === keyPrefix ? keyPrefix : null);
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Settles as `work`, or rejects with `signal.reason` as soon as `signal` aborts (then `onAbort`
 * runs, and `work`'s outcome is ignored).
 */
function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort?: () => void,
): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      work.catch(() => {});
      onAbort?.();
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    // One listener on the signal for every acquire waiting on it (core/abort.ts): a listener per
    // acquire gave a MaxListenersExceededWarning once 11 acquires shared one signal at once.
    const stop = whenAborted(signal, abort);
    work.then(
      (value) => {
        stop();
        resolve(value);
      },
      (err) => {
        stop();
        reject(err);
      },
    );
  });
}

const ACQUIRE_KEYS = optionKeys<LeaseAcquireOptions>({ signal: true });

/**
 * `acquire`'s input, checked as the caches check theirs (a `CacheError`): the key as a cache key
 * (`invalid_key`; `''`, `42` and `undefined` took the leases of `''`, `'42'` and `'undefined'`, a
 * lone surrogate one shared with every other), the options `undefined`, `null` or `{ signal }`
 * with an `AbortSignal` (`invalid_value`; `{ signal: {} }` threw a bare TypeError, and a misspelt
 * `sginal` was ignored, so the acquire could no longer be aborted).
 */
function checkAcquire(key: unknown, options: unknown): void {
  assertKey(key);
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options))
    throw new CacheError(
      'invalid_value',
      `lease acquire options must be an object, received ${typeName(options)}`,
    );
  for (const k of Object.keys(options))
    if (!ACQUIRE_KEYS.includes(k))
      throw new CacheError(
        'invalid_value',
        `lease acquire option \`${k}\` ${unknownKeyMessage(k, ACQUIRE_KEYS, 'option')} (acquire takes { signal })`,
      );
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined || signal === null) return;
  const s = signal as Partial<AbortSignal>;
  if (
    typeof s !== 'object' ||
    typeof s.aborted !== 'boolean' ||
    typeof s.throwIfAborted !== 'function' ||
    typeof s.addEventListener !== 'function' ||
    typeof s.removeEventListener !== 'function'
  )
    throw new CacheError(
      'invalid_value',
      `lease acquire signal must be an AbortSignal, received ${typeName(signal)}`,
    );
}

/** Builds the Redis lease for `createTieredCache({ lease })`. */
const LEASE_KEYS = optionKeys<RedisLeaseOptions>({ client: true, ttl: true, keyPrefix: true, prefix: true });

export function createRedisLease(options: RedisLeaseOptions): LoaderLease {
  // Unknown keys are refused as by every other factory: a misspelt `tll` or `keyprefix` was
  // silently ignored, and the lease ran with the default it was meant to replace.
  const issues: ConfigIssue[] = unknownOptionIssues(options, LEASE_KEYS);
  const o = (options ?? {}) as Partial<RedisLeaseOptions>;
  const client = o.client as Partial<Redis> | undefined;
  // "is required" only when none was given: `client: {}` (or a URL string) read "is required",
  // as if the option were missing, where the bus and the tracker say "not an iovalkey client".
  if (typeof client?.set !== 'function' || typeof client.eval !== 'function')
    issues.push({
      path: 'client',
      expected: 'an iovalkey client',
      received: typeName(client),
      message: client === undefined ? 'is required' : 'not an iovalkey client',
    });
  // `null` is refused, as by the caches' own numeric options: it used to stand for the default.
  const ttl = o.ttl === undefined ? 10_000 : o.ttl;
  // Up to 2^52 ms, as every cache TTL (it is Redis's PX too): 1e21 passed as an integer, was sent
  // as `PX 1e+21`, and Redis refused every acquire ("value is not an integer or out of range"), so
  // the tiered cache loaded without the lease on every miss, with a warning each time.
  if (!(typeof ttl === 'number' && Number.isInteger(ttl) && ttl > 0 && ttl <= MAX_CALL_TTL_MS))
    issues.push({
      path: 'ttl',
      expected: `a positive integer of ms up to ${MAX_CALL_TTL_MS} (2^52)`,
      // A duration written as in the config file (`ttl: '5s'`) is shown as the other cache options
      // show it (`"5s" (a string)`); it read `received string`. Options take ms, not duration text.
      received: shownDuration(ttl),
      message: 'invalid duration',
    });
  if (o.keyPrefix !== undefined && typeof o.keyPrefix !== 'string')
    issues.push({
      path: 'keyPrefix',
      expected: 'a string',
      received: typeName(o.keyPrefix),
      message: 'must be a string',
    });
  const registered = client && typeof client === 'object' ? clientPrefixes.get(client) : undefined;
  if (o.prefix === undefined && o.keyPrefix === undefined && registered === null)
    issues.push({
      path: 'prefix',
      expected: 'prefix or keyPrefix (the client serves caches with different key prefixes)',
      received: 'nothing',
      message: 'cannot be derived: pass the keyPrefix of the cache the lease is for, or a prefix',
    });
  const prefix = o.prefix ?? defaultLeasePrefix(o.keyPrefix ?? registered ?? '');
  if (typeof prefix !== 'string')
    issues.push({
      path: 'prefix',
      expected: 'a string',
      received: typeName(prefix),
      message: 'must be a string',
    });
  // The data keys of the cache are its keyPrefix + a key, the lease keys prefix + a key: when one
  // prefix starts with the other, the cache keys that start with the rest (`reserved`) meet the
  // lease's keys — with no keyPrefix, a key `hyperion:lease:x` read the token of the lease of `x`
  // as its value, and writing it took that lease over. They are refused by the tiered cache.
  const cachePrefix =
    o.keyPrefix ?? (o.prefix === undefined ? (registered ?? '') : (registered ?? undefined));
  let reserved: string | undefined;
  if (typeof prefix === 'string' && typeof cachePrefix === 'string') {
    if (prefix.startsWith(cachePrefix)) reserved = prefix.slice(cachePrefix.length);
    else if (cachePrefix.startsWith(prefix)) reserved = cachePrefix.slice(prefix.length);
    if (reserved === '')
      issues.push({
        path: 'prefix',
        expected: "a prefix other than the cache's keyPrefix",
        received: JSON.stringify(prefix),
        message: "is the cache's own key prefix: the lease of a key would be stored in place of its value",
      });
  }
  if (issues.length > 0) throw new ConfigError('createRedisLease: invalid options', issues);
  const redis = o.client!;

  /**
   * After an acquire that failed (e.g. its command timed out), the SET may still reach Redis: a
   * command the client gave up on is not withdrawn. A lease taken then was held by nobody for its
   * whole `ttl`, and every instance missing the key waited out `leaseWait` before loading (seen
   * through a link delaying commands 600 ms at a 200 ms command timeout: the key stayed ~10 s).
   * So the token is released behind it: on the same connection (the key's node in a cluster), so
   * it runs after the SET if that lands, and is a no-op if it does not. A release that cannot be
   * sent now (not connected) is sent once more when the client is ready again, within `ttl`.
   */
  function releaseLate(leaseKey: string, token: string): void {
    const until = steadyNow() + ttl;
    redis.eval(RELEASE, 1, leaseKey, token).catch(() => {
      if (steadyNow() >= until) return;
      if (redis.status === 'ready') redis.eval(RELEASE, 1, leaseKey, token).catch(() => {});
      else afterReady(leaseKey, token, until);
    });
  }

  /**
   * Releases waiting for the client to be ready again, by token, in the order they were made (so
   * by `until`): one `ready` listener for all of them, and those past their `until` dropped as new
   * ones come. Before, each waited in a `ready` listener of its own, kept until the client was
   * ready again however long that took: with Redis down every failed acquire added one (1,000
   * failed acquires, 999 listeners, and Node's MaxListenersExceededWarning on the user's client),
   * without bound for an outage that lasts.
   */
  const waiting = new Map<string, { key: string; until: number }>();
  let listening = false;
  const releaseWaiting = () => {
    listening = false;
    const now = steadyNow();
    const due = [...waiting];
    waiting.clear();
    for (const [token, { key, until }] of due)
      if (now < until) redis.eval(RELEASE, 1, key, token).catch(() => {});
  };
  function afterReady(key: string, token: string, until: number): void {
    const now = steadyNow();
    for (const [t, w] of waiting) {
      if (w.until > now) break;
      waiting.delete(t);
    }
    waiting.set(token, { key, until });
    if (!listening) {
      listening = true;
      redis.once('ready', releaseWaiting);
    }
  }

  /**
   * The client's offline queue is off (./client.ts): `acquire` and its release wait for 'ready' as
   * the cache's own commands do, at most the client's command timeout (./ready-wait.ts).
   */
  const connected = createReadyWait(redis);

  return {
    ...(reserved === undefined ? {} : { reservedKeyPrefix: reserved }),
    async acquire(key, options) {
      checkAcquire(key, options);
      const signal = options?.signal ?? undefined;
      signal?.throwIfAborted();
      const leaseKey = prefix + key;
      // Not connected: nothing was sent, so there is no SET to release behind.
      await unlessAborted(connected('lease acquire'), signal);
      const token = randomUUID();
      let reply: string | null;
      let abandoned = false;
      try {
        // Aborted while the SET is on its way (the tiered cache closing while Redis is stalled):
        // the release goes right behind it, on the same connection, before the owner closes the
        // client. Before, nothing could be sent once the client was closed, the SET landed when
        // Redis resumed, and the lease stayed for its whole ttl (other instances waited out
        // `leaseWait`, then loaded).
        reply = await unlessAborted(redis.set(leaseKey, token, 'PX', ttl, 'NX'), signal, () => {
          abandoned = true;
          releaseLate(leaseKey, token);
        });
      } catch (err) {
        if (abandoned) throw err;
        releaseLate(leaseKey, token);
        throw toCacheError('lease acquire', err, []);
      }
      if (reply !== 'OK') {
        // Refused: held by someone — or by this very token, when the connection was lost before
        // the SET's reply and iovalkey sent it again on the next connection (its first copy took
        // the lease, the resend found it taken). That answer used to be taken as "held by
        // another": the lease stayed held by nobody for its whole ttl, and every instance missing
        // the key, this one included, waited out `leaseWait`.
        let holder: string | null | undefined;
        let aborted = false;
        try {
          holder = await unlessAborted(redis.get(leaseKey), signal, () => {
            aborted = true;
          });
        } catch (err) {
          releaseLate(leaseKey, token); // unknown: make sure it is not ours
          if (aborted) throw err;
        }
        if (holder !== token) return undefined;
      }
      return async () => {
        try {
          await connected('lease release');
          await redis.eval(RELEASE, 1, leaseKey, token);
        } catch (err) {
          // Not released now (not connected, or the connection dropped): sent again once the
          // client is ready, within the ttl, so the lease does not stay held by nobody.
          releaseLate(leaseKey, token);
          throw toCacheError('lease release', err, []);
        }
      };
    },
  };
}
