/** The defaults of `createTieredCache`'s options and their eager validation (the options are in types.ts). */
import type {
  Cache,
  InvalidationBus,
  InvalidationTracker,
  LoaderLease,
  Logger,
} from '../../core/contracts.js';
import { ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import { adaptLogger, quietLogger } from '../../core/log-binding.js';
import {
  MAX_COUNT,
  MAX_TIMER_MS,
  MAX_TTL_MS,
  optionKeys,
  shownDuration,
  shownOptionValue,
  unknownOptionIssues,
} from '../../core/options.js';
import type { BreakerOptions, TieredCacheOptions } from './types.js';

const KNOWN = optionKeys<TieredCacheOptions>({
  l1: true,
  l2: true,
  ttl: true,
  l1Ttl: true,
  l2Timeout: true,
  breaker: true,
  grace: true,
  jitter: true,
  earlyRefresh: true,
  bus: true,
  tracking: true,
  lease: true,
  leaseWait: true,
  leasePoll: true,
  loadTimeout: true,
  instanceId: true,
  now: true,
  random: true,
  logger: true,
});
const NESTED = { breaker: optionKeys<BreakerOptions>({ failures: true, cooldown: true }) };

/**
 * The `defaultTtl` an L2 reports (the memory and Redis caches do), when it is a usable TTL. A
 * tiered cache without a `ttl` wrote its entries with none: L2 applied its own default and dropped
 * them, while L1 — told nothing of it — kept serving its copies for good.
 */
function levelDefaultTtl(level: Cache): number | undefined {
  const ttl = (level as { readonly defaultTtl?: unknown }).defaultTtl;
  return typeof ttl === 'number' && ttl > 0 && ttl <= MAX_TTL_MS ? ttl : undefined;
}

export interface ResolvedOptions {
  l1: Cache;
  l2: Cache;
  ttl: number | undefined;
  l1Ttl: number | undefined;
  l2Timeout: number;
  breaker: Required<BreakerOptions> | false;
  grace: number;
  jitter: number;
  earlyRefresh: number;
  bus: InvalidationBus | undefined;
  tracking: InvalidationTracker | undefined;
  lease: LoaderLease | undefined;
  /**
   * Keys starting with this are the lease's own keys in L2 (`LoaderLease.reservedKeyPrefix`):
   * refused with `invalid_key` (./keys.ts).
   */
  reservedKeyPrefix: string | undefined;
  leaseWait: number;
  leasePoll: number;
  loadTimeout: number;
  instanceId: string | undefined;
  now: () => number;
  /**
   * The clock durations are measured on (the breaker's cool-down): monotonic by default, since
   * an NTP step of the wall clock must not stretch or cut them; an injected `now` (tests) drives
   * them too.
   */
  steady: () => number;
  random: () => number;
  logger: Logger | undefined;
}

function isCache(x: unknown): x is Cache {
  const c = x as Partial<Cache> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.get === 'function' &&
    typeof c.set === 'function' &&
    typeof c.delete === 'function' &&
    typeof c.getMany === 'function' &&
    typeof c.setMany === 'function' &&
    typeof c.deleteMany === 'function' &&
    typeof c.clear === 'function'
  );
}

/**
 * Whether `l2` reads from replicas: a Redis cache over a cluster client whose `scaleReads` is not
 * `'master'` (`cluster.readOnly`). Duck-typed on its public `client`, as the core imports no
 * adapter. With a bus alone such a cache served old values from L1 for good: an instance that
 * received another's invalidation re-read the key from a replica that did not have the write yet,
 * and kept that older value in L1 for the whole `l1Ttl` (else the entry's TTL), long after the
 * replica caught up (found from outside: replica paused 1.5 s, old value still served 3 s later).
 */
function readsFromReplicas(l2: unknown): boolean {
  const client = (l2 as { client?: { isCluster?: unknown; options?: { scaleReads?: unknown } } } | null)
    ?.client;
  if (typeof client !== 'object' || client === null || client.isCluster !== true) return false;
  const scale = client.options?.scaleReads;
  return scale !== undefined && scale !== 'master';
}

/**
 * Shortest `l2Timeout` over a Redis L2 (ms): the Redis cache's `MIN_COMMAND_TIMEOUT_MS`, for the
 * same reason. Every L2 write is given `l2Timeout` as its budget, and the Redis cache sends a
 * write with a server-side deadline at least 5 ms (plus the clock measurement's error, ≥ 1 ms)
 * before that budget ends: with a budget of 6 ms or less the deadline lies before the call, and
 * Redis refused every write ("reached Redis after its deadline") however fast it answered.
 */
export const MIN_REDIS_L2_TIMEOUT_MS = 10;

/** Whether `l2` is a Redis cache (duck-typed on its public `client` and `mode`, as above). */
function isRedisLevel(l2: unknown): boolean {
  const c = l2 as { client?: unknown; mode?: unknown; transaction?: unknown } | null;
  return (
    typeof c?.client === 'object' &&
    c.client !== null &&
    typeof c.transaction === 'function' &&
    (c.mode === 'standalone' || c.mode === 'cluster' || c.mode === 'sentinel')
  );
}

/** Validates every option at once; throws one `ConfigError` listing each bad field. */
export function resolveOptions(input: TieredCacheOptions): ResolvedOptions {
  const issues: ConfigIssue[] = [];
  const o = (typeof input === 'object' && input !== null ? input : {}) as Partial<TieredCacheOptions>;
  if (typeof input !== 'object' || input === null) {
    throw new ConfigError('createTieredCache: options must be an object', [
      { path: '', expected: 'object', received: typeName(input), message: 'has the wrong type' },
    ]);
  }
  issues.push(...unknownOptionIssues(input, KNOWN, NESTED));
  const bad = (path: string, expected: string, value: unknown, received = typeName(value)) =>
    issues.push({
      path,
      expected,
      received,
      message: value === undefined ? 'is required' : `must be ${expected}`,
    });
  // A numeric option shows the value refused (`ttl: -1` was "received number", where the memory
  // cache says "received -1"); never a value of the other options (an L2 given as a URL string).
  const badNumber = (path: string, expected: string, value: unknown) =>
    bad(path, expected, value, shownOptionValue(value));
  const ms = (
    path: keyof TieredCacheOptions,
    { positive = false, infinite = false, max = MAX_TIMER_MS } = {},
  ) => {
    const v = o[path];
    if (v === undefined) return;
    const ok =
      typeof v === 'number' &&
      !Number.isNaN(v) &&
      ((infinite && v === Infinity) || v <= max) &&
      (positive ? v > 0 : v >= 0);
    // An option that `Infinity` turns off says so: `loadTimeout: 0` (meant as "off") was told
    // only "> 0 and ≤ 2147483647", as if no value could turn it off.
    if (!ok)
      bad(
        path,
        `${positive ? 'a number of ms > 0' : 'a number of ms ≥ 0'} and ≤ ${max}${infinite ? ', or Infinity (off)' : ''}`,
        v,
        shownDuration(v),
      );
  };
  const fraction = (path: keyof TieredCacheOptions) => {
    const v = o[path];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1))
      badNumber(path, 'a fraction between 0 and 1', v);
  };
  const fn = (path: keyof TieredCacheOptions) => {
    const v = o[path];
    if (v !== undefined && typeof v !== 'function') bad(path, 'a function', v);
  };

  // A logger without the methods the cache calls (`{}`, a logger factory, a pino *module*) was
  // taken: its first record ("breaker opened") threw a TypeError out of a read meant to fail
  // open, or (records being dropped when the logger throws) nothing was ever logged. A ConfigError
  // now, as for the Redis cache's logger.
  const log = o.logger as { info?: unknown; warn?: unknown } | null | undefined;
  if (log != null && (typeof log.info !== 'function' || typeof log.warn !== 'function'))
    bad('logger', 'a Logger (an object with info and warn methods)', o.logger);
  if (!isCache(o.l1)) bad('l1', 'a Cache', o.l1);
  if (!isCache(o.l2)) bad('l2', 'a Cache', o.l2);
  if (o.l1 !== undefined && o.l1 === o.l2)
    issues.push({ path: 'l2', expected: 'a Cache other than l1', received: 'object', message: 'is l1' });
  ms('ttl', { positive: true, max: MAX_TTL_MS });
  ms('l1Ttl', { positive: true, max: MAX_TTL_MS });
  ms('l2Timeout', { positive: true, infinite: true });
  // A Redis L2 given a shorter write budget refused every write (`set` rejected with `timeout`
  // against a healthy server, loads never landed in L2, and the breaker opened): refused here, as
  // createRedisCache refuses such a commandTimeout.
  if (
    typeof o.l2Timeout === 'number' &&
    o.l2Timeout > 0 &&
    o.l2Timeout < MIN_REDIS_L2_TIMEOUT_MS &&
    isRedisLevel(o.l2)
  )
    issues.push({
      path: 'l2Timeout',
      expected: `at least ${MIN_REDIS_L2_TIMEOUT_MS} ms over a Redis L2`,
      received: shownOptionValue(o.l2Timeout),
      message: `must be at least ${MIN_REDIS_L2_TIMEOUT_MS} ms over a Redis L2: its writes carry a server-side deadline at least 5 ms before the budget, so a shorter one would refuse every write`,
    });
  ms('grace', { max: MAX_TTL_MS });
  fraction('jitter');
  fraction('earlyRefresh');
  ms('leaseWait');
  ms('leasePoll', { positive: true });
  ms('loadTimeout', { positive: true, infinite: true });
  fn('now');
  fn('random');
  if (o.instanceId !== undefined && (typeof o.instanceId !== 'string' || o.instanceId === ''))
    bad('instanceId', 'a non-empty string', o.instanceId);
  const b = o.breaker;
  if (b !== undefined && b !== false) {
    if (typeof b !== 'object' || b === null) bad('breaker', 'an object or false', b);
    else {
      if (
        b.failures !== undefined &&
        !(Number.isInteger(b.failures) && b.failures >= 1 && b.failures <= MAX_COUNT)
      )
        badNumber('breaker.failures', `an integer from 1 to ${MAX_COUNT}`, b.failures);
      if (
        b.cooldown !== undefined &&
        !(typeof b.cooldown === 'number' && b.cooldown > 0 && b.cooldown <= MAX_TIMER_MS)
      )
        bad(
          'breaker.cooldown',
          `a number of ms > 0 and ≤ ${MAX_TIMER_MS}`,
          b.cooldown,
          shownDuration(b.cooldown),
        );
    }
  }
  const bus = o.bus as Partial<InvalidationBus> | undefined;
  if (
    bus !== undefined &&
    (typeof bus?.publish !== 'function' ||
      typeof bus.subscribe !== 'function' ||
      typeof bus.close !== 'function')
  )
    bad('bus', 'an InvalidationBus (publish, subscribe, close)', bus);
  const tracking = o.tracking as Partial<InvalidationTracker> | undefined;
  if (
    tracking !== undefined &&
    (typeof tracking?.start !== 'function' ||
      typeof tracking.close !== 'function' ||
      (tracking.mode !== 'default' && tracking.mode !== 'bcast'))
  )
    bad('tracking', 'an InvalidationTracker (mode, start, close)', tracking);
  if (bus !== undefined && tracking === undefined && readsFromReplicas(o.l2))
    issues.push({
      path: 'bus',
      expected: 'tracking beside the bus, or an L2 that reads from masters (cluster.readOnly false)',
      received: 'a bus alone over an L2 that reads from replicas',
      message:
        'cannot keep L1 coherent: an invalidation can arrive before the replica has the write, and the older value read from it then stays in L1 (add tracking — config: cache.invalidation.mode both or tracking — since replicas report the keys they apply)',
    });
  const lease = o.lease as Partial<LoaderLease> | undefined;
  if (lease !== undefined && typeof lease?.acquire !== 'function')
    bad('lease', 'a LoaderLease (acquire)', lease);
  const reserved = lease?.reservedKeyPrefix;
  if (reserved !== undefined && (typeof reserved !== 'string' || reserved === ''))
    bad('lease.reservedKeyPrefix', 'a non-empty string', reserved);
  if (issues.length > 0) throw new ConfigError('createTieredCache: invalid options', issues);

  return {
    l1: o.l1!,
    l2: o.l2!,
    ttl: o.ttl ?? levelDefaultTtl(o.l2!),
    l1Ttl: o.l1Ttl,
    l2Timeout: o.l2Timeout ?? 500,
    breaker: b === false ? false : { failures: b?.failures ?? 5, cooldown: b?.cooldown ?? 5000 },
    grace: o.grace ?? 0,
    jitter: o.jitter ?? 0,
    earlyRefresh: o.earlyRefresh ?? 0,
    bus: o.bus,
    tracking: o.tracking,
    lease: o.lease,
    reservedKeyPrefix: reserved,
    leaseWait: o.leaseWait ?? 1000,
    leasePoll: o.leasePoll ?? 20,
    loadTimeout: o.loadTimeout ?? Number.POSITIVE_INFINITY,
    instanceId: o.instanceId,
    now: o.now ?? Date.now,
    steady: o.now ?? (() => performance.now()),
    random: o.random ?? Math.random,
    // adaptLogger: a pino instance takes fields first (given as it is, records lost their fields).
    // Quiet: a logger that threw in an L2 callback ("breaker closed") left the read unanswered.
    logger: o.logger == null ? undefined : quietLogger(adaptLogger(o.logger)),
  };
}
