/** Options of `createRedisTracking` (./tracking.ts) and their checks. */
import type { Cluster, Redis } from 'iovalkey';
import type { LoggerLike } from '../../core/contracts.js';
import { type ConfigIssue, typeName } from '../../core/errors.js';
import { MAX_TIMER_MS, optionKeys, unknownOptionIssues } from '../../core/options.js';

export interface RedisTrackingOptions {
  /** The L2 whose reads are tracked, e.g. `createRedisCache(…)`: its client and key prefix are used. */
  cache?: { readonly client: Redis | Cluster; readonly keyPrefix: string } | undefined;
  /** Instead of `cache`: the client… */
  client?: Redis | Cluster | undefined;
  /** …and the key prefix its cache uses (stripped from reported keys; the BCAST prefix). Default `''`. */
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
  const client = options.cache?.client ?? options.client;
  if (typeof (client as Partial<Redis> | undefined)?.duplicate !== 'function')
    bad(options.cache ? 'cache.client' : 'client', 'an iovalkey client', client);
  if (options.mode !== undefined && options.mode !== 'default' && options.mode !== 'bcast')
    bad('mode', "'default' or 'bcast'", options.mode);
  for (const k of ['heartbeat', 'timeout'] as const) {
    const v = options[k];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && v <= MAX_TIMER_MS))
      bad(k, `a number of ms above 0 and up to ${MAX_TIMER_MS}`, v);
  }
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string')
    bad('keyPrefix', 'a string', options.keyPrefix);
  // A logger without `warn` was taken, and its first use threw (as for the cache, ./options.ts).
  const logger: unknown = options.logger;
  if (logger !== undefined && logger !== null && typeof (logger as { warn?: unknown }).warn !== 'function')
    bad('logger', 'a Logger (an object with a warn method)', logger);
  return issues;
}
