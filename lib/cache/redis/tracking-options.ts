/** Options of `createRedisTracking` (./tracking.ts) and their checks. */
import type { Cluster, Redis } from 'iovalkey';
import type { LoggerLike } from '../../core/contracts.js';
import { type ConfigIssue, typeName } from '../../core/errors.js';
import { MAX_TIMER_MS, optionKeys, shownDuration, unknownOptionIssues } from '../../core/options.js';
import { cachePrefixOf } from './lease.js';

export interface RedisTrackingOptions {
  /** The L2 whose reads are tracked, e.g. `createRedisCache(…)`: its client and key prefix are used. */
  cache?: { readonly client: Redis | Cluster; readonly keyPrefix: string } | undefined;
  /** Instead of `cache`: the client… */
  client?: Redis | Cluster | undefined;
  /**
   * …and the key prefix its cache uses (stripped from reported keys; the BCAST prefix). Default:
   * the `keyPrefix` of the cache that built (or was given) `client`, `''` for a client no cache
   * uses; required when caches with different prefixes share `client`.
   */
  keyPrefix?: string | undefined;
  /**
   * `default`: the server remembers the keys each connection read and reports those (memory on the
   * server grows with the keys read). `bcast`: the server reports every key under `keyPrefix`,
   * read or not (no per-key memory; more messages). Default `default`.
   */
  mode?: 'default' | 'bcast' | undefined;
  /** Verification interval (ms): how soon a silently dead connection is noticed. Default 1000. */
  heartbeat?: number | undefined;
  /** Bound (ms) of each set-up step and of a heartbeat's replies. Default 1000. */
  timeout?: number | undefined;
  /**
   * Receives connection errors (the first, then at most one per 5 s with a `suppressed` count, as
   * the cache's) and trust changes. Default: silent.
   */
  logger?: LoggerLike | undefined;
}

const KNOWN = optionKeys<RedisTrackingOptions>({
  cache: true,
  client: true,
  keyPrefix: true,
  mode: true,
  heartbeat: true,
  timeout: true,
  logger: true,
});

export function check(options: RedisTrackingOptions): ConfigIssue[] {
  const issues: ConfigIssue[] = unknownOptionIssues(options, KNOWN);
  const bad = (path: string, expected: string, value: unknown) =>
    issues.push({ path, expected, received: typeName(value), message: `must be ${expected}` });
  // The value itself where its type alone says nothing: `heartbeat: -5` was refused as "must be a
  // number of ms above 0 … received number", `timeout: '1000'` (from an environment variable) and
  // `mode: 'BCAST'` as "received string".
  // Both are durations: text (`'5s'`) also says the number of ms to give.
  const badValue = (path: string, expected: string, value: unknown) =>
    issues.push({ path, expected, received: shownDuration(value), message: `must be ${expected}` });
  const client = options.cache?.client ?? options.client;
  if (typeof (client as Partial<Redis> | undefined)?.duplicate !== 'function')
    bad(options.cache ? 'cache.client' : 'client', 'an iovalkey client', client);
  if (options.mode !== undefined && options.mode !== 'default' && options.mode !== 'bcast') {
    // A mode is no secret: any string is shown (`'BCAST'`), cut at 64 characters.
    const v: unknown = options.mode;
    const received =
      typeof v === 'string'
        ? `${JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v)} (a string)`
        : typeName(v);
    issues.push({
      path: 'mode',
      expected: "'default' or 'bcast'",
      received,
      message: "must be 'default' or 'bcast'",
    });
  }
  for (const k of ['heartbeat', 'timeout'] as const) {
    const v = options[k];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && v <= MAX_TIMER_MS))
      badValue(k, `a number of ms above 0 and up to ${MAX_TIMER_MS}`, v);
  }
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string')
    bad('keyPrefix', 'a string', options.keyPrefix);
  if (
    options.cache === undefined &&
    options.keyPrefix === undefined &&
    typeof client === 'object' &&
    client !== null &&
    cachePrefixOf(client) === null
  )
    issues.push({
      path: 'keyPrefix',
      expected: 'keyPrefix (the client serves caches with different key prefixes), or cache',
      received: 'nothing',
      message:
        "cannot be derived: pass the tiered cache's L2 as cache, or the keyPrefix of that L2 (a report of another prefix's key drops nothing from L1)",
    });
  // A logger without `warn` was taken, and its first use threw (as for the cache, ./options.ts).
  const logger: unknown = options.logger;
  if (logger !== undefined && logger !== null && typeof (logger as { warn?: unknown }).warn !== 'function')
    bad('logger', 'a Logger (an object with a warn method)', logger);
  return issues;
}

/**
 * The key prefix a tracker strips from reported keys: the cache's, else the one given, else that
 * of the cache that built `client` (checked by {@link check}: not ambiguous). Defaulting to `''`,
 * `createRedisTracking({ client: l2.client })` over an L2 with a key prefix (written as the bus and
 * lease take that client) kept every reported key whole (`app:k`), so none matched an L1 key (`k`):
 * L1 served its copy after every other client's write, for the whole TTL, with tracking confirmed.
 */
export function trackedPrefix(options: RedisTrackingOptions): string {
  const client = (options.cache?.client ?? options.client)!;
  return options.cache?.keyPrefix ?? options.keyPrefix ?? cachePrefixOf(client) ?? '';
}
