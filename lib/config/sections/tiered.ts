/**
 * The `cache:` section for `type: tiered`: an L1 memory section and an L2 section (redis or
 * memory), plus the tiered cache's resilience options.
 *
 *   cache:
 *     type: tiered
 *     l1: { type: memory, max_cost: 16777216 }
 *     l2: { type: redis, addresses: [127.0.0.1:6379], key_prefix: "app:" }
 *     ttl: 5m
 *     l1_ttl: 30s
 *     l2_timeout: 200ms
 *     breaker: { failures: 5, cooldown: 5s }
 *     grace: 1m
 *     jitter: 0.1
 *     early_refresh: 0.1
 *     invalidation: { channel: "hyperion:invalidate" }   # redis L2 only
 *     # or server-assisted (CLIENT TRACKING), alone or with the bus:
 *     # invalidation: { mode: tracking, tracking_mode: bcast, heartbeat: 1s }
 *     lease: { ttl: 5s, wait: 1s }                        # redis L2 only
 */
import * as v from 'valibot';
import type { TieredCacheOptions } from '../../cache/tiered/index.js';
import { MIN_REDIS_L2_TIMEOUT_MS } from '../../cache/tiered/options.js';
import {
  durationIn,
  flag,
  fraction,
  givenSection,
  intIn,
  MAX_COUNT,
  MAX_TTL_MS,
  nonEmpty,
  oneOf,
  type SectionRule,
  section,
} from '../primitives.js';

/** Cache lifetimes: stored as expiry times, so up to 365 days. */
const ttl = v.optional(durationIn({ exclusive: true, max: MAX_TTL_MS }));
/** Durations that arm timers: up to 2^31 − 1 ms. */
const positiveTimer = v.optional(durationIn({ exclusive: true }));

/**
 * Settings of a mode that is not on are errors, not ignored: `{ tracking_mode: bcast }` alone
 * (mode bus, the default) would leave the user believing the cache has server-assisted
 * invalidation when it has none; a `channel` with `mode: tracking` is never used.
 */
const invalidationModeRule: SectionRule = (inv, fail) => {
  if (inv.enabled === false) return;
  const mode = typeof inv.mode === 'string' ? inv.mode : 'bus';
  const shown = inv.mode === undefined ? 'bus, the default' : mode;
  if (mode === 'bus') {
    for (const key of ['tracking_mode', 'heartbeat'])
      if (inv[key] !== undefined)
        fail(
          [key],
          `applies only with mode: tracking or both (mode is ${shown}, so it would be ignored)`,
          'mode: tracking or both with it, or no such key',
        );
  }
  if (mode === 'tracking' && inv.channel !== undefined)
    fail(
      ['channel'],
      'applies only with mode: bus or both (mode is tracking, so it would be ignored)',
      'mode: bus or both with it, or no such key',
    );
};

/** `lease: { ttl, wait }` without `enabled: true` would leave the lease off without a word. */
const leaseEnabledRule: SectionRule = (lease, fail) => {
  if (lease.enabled === undefined && (lease.ttl !== undefined || lease.wait !== undefined))
    fail(
      ['enabled'],
      'is required with ttl or wait: the lease is off unless enabled is true',
      'enabled: true (or false to keep it off)',
    );
};

/**
 * A bus alone over a Redis L2 that reads from replicas (`mode: cluster`, `cluster.read_only:
 * true`) cannot keep L1 coherent, and `createTieredCache` refuses it. The file loaded, and
 * `createAppFromConfig` then failed naming the factory option `bus`, after building the tracer,
 * the /metrics endpoint and the Redis connection: it is refused at load, at the file's field.
 */
export const replicaReadsRule: SectionRule = (s, fail) => {
  const l2 = s.l2 as Record<string, unknown> | null | undefined;
  const cluster = l2?.cluster as Record<string, unknown> | null | undefined;
  if (l2?.type !== 'redis' || l2.mode !== 'cluster' || cluster?.read_only !== true) return;
  const inv = s.invalidation as Record<string, unknown> | null | undefined;
  if (inv !== undefined && (inv === null || typeof inv !== 'object' || Array.isArray(inv))) return;
  if (inv?.enabled === false || (inv?.mode !== undefined && inv.mode !== 'bus')) return;
  fail(
    ['invalidation', 'mode'],
    `is ${inv?.mode === undefined ? 'bus (the default)' : 'bus'}, but the invalidation bus alone cannot keep L1 coherent over an L2 that reads from replicas (cache.l2.cluster.read_only: true): an invalidation can arrive before the replica has the write, and the older value read from it then stays in L1`,
    'mode: both or tracking (replicas report the keys they apply), or cache.l2.cluster.read_only: false',
  );
};

/**
 * `l2_timeout` over a Redis `l2` is at least 10 ms, as `createTieredCache` asks (its
 * `MIN_REDIS_L2_TIMEOUT_MS`): every L2 write gets it as its budget, and a Redis write carries a
 * server-side deadline at least 5 ms before the budget ends, so with less every write was refused.
 */
export const redisL2TimeoutRule: SectionRule = (s, fail) => {
  const l2 = s.l2 as Record<string, unknown> | null | undefined;
  const t = s.l2_timeout;
  // A value refused by its own field (text, out of range) is reported there, not again here.
  if (l2?.type !== 'redis' || typeof t !== 'number' || !(t > 0) || t >= MIN_REDIS_L2_TIMEOUT_MS) return;
  fail(
    ['l2_timeout'],
    `is too small for a Redis l2: its writes carry a server-side deadline at least 5 ms before the budget, so a shorter one would refuse every write`,
    `a duration of at least ${MIN_REDIS_L2_TIMEOUT_MS} ms with a Redis l2`,
  );
};

const BREAKER_PHRASE = 'false, or a mapping of breaker settings (keys: failures, cooldown)';

/** Tiered options besides the two levels; `l1`/`l2` are validated by their own section schemas. */
export const tieredFields = {
  type: v.literal('tiered', '"tiered"'),
  /** Default TTL, above 0 and up to 365 days. */
  ttl,
  l1_ttl: ttl,
  /** Bound of every L2 call, above 0 and up to 2^31 − 1 ms. */
  l2_timeout: positiveTimer,
  breaker: v.optional(
    v.union(
      [
        v.literal(false, BREAKER_PHRASE),
        section(
          {
            failures: v.optional(intIn(1, MAX_COUNT)),
            cooldown: positiveTimer,
          },
          'breaker settings',
        ),
      ],
      BREAKER_PHRASE,
    ),
  ),
  /** Stale-if-error window, 0 to 365 days. */
  grace: v.optional(durationIn({ max: MAX_TTL_MS })),
  jitter: v.optional(fraction),
  early_refresh: v.optional(fraction),
  invalidation: v.optional(
    section(
      {
        enabled: v.optional(flag),
        channel: v.optional(nonEmpty('a non-empty channel name')),
        /** `bus` (default): our instances' writes; `tracking`: every client's writes (CLIENT TRACKING); `both`. */
        mode: v.optional(oneOf(['bus', 'tracking', 'both'] as const)),
        /** CLIENT TRACKING flavour: `default` (keys this instance read) or `bcast` (every key under the prefix). */
        tracking_mode: v.optional(oneOf(['default', 'bcast'] as const)),
        /** How often tracking is verified (how soon a silently dead connection is noticed), above 0. */
        heartbeat: positiveTimer,
      },
      'invalidation settings',
      [invalidationModeRule],
    ),
  ),
  lease: v.optional(
    section(
      {
        enabled: v.optional(flag),
        /** Lock lifetime, whole ms (Redis PX), above 0 and up to 2^31 − 1 ms. */
        ttl: v.optional(durationIn({ exclusive: true, integer: true })),
        wait: v.optional(durationIn()),
      },
      'lease settings',
      [leaseEnabledRule],
    ),
  ),
};

const tieredOnly = v.strictObject({ ...tieredFields, l1: v.unknown(), l2: v.unknown() });
export type TieredSection = v.InferOutput<typeof tieredOnly>;

/** The tiered cache's own options from the section (the levels, bus and lease are built by the caller). */
export function tieredOptionsFromConfig(
  section: TieredSection,
): Omit<TieredCacheOptions, 'l1' | 'l2' | 'bus' | 'lease'> {
  givenSection(
    section,
    'tieredOptionsFromConfig',
    'cache',
    'createAppFromConfig then builds no cache',
    Object.keys(tieredOnly.entries),
    'tiered',
  );
  const o: Omit<TieredCacheOptions, 'l1' | 'l2' | 'bus' | 'lease'> = {};
  if (section.ttl !== undefined) o.ttl = section.ttl;
  if (section.l1_ttl !== undefined) o.l1Ttl = section.l1_ttl;
  if (section.l2_timeout !== undefined) o.l2Timeout = section.l2_timeout;
  if (section.breaker !== undefined) {
    o.breaker =
      section.breaker === false
        ? false
        : {
            ...(section.breaker.failures !== undefined && { failures: section.breaker.failures }),
            ...(section.breaker.cooldown !== undefined && { cooldown: section.breaker.cooldown }),
          };
  }
  if (section.grace !== undefined) o.grace = section.grace;
  if (section.jitter !== undefined) o.jitter = section.jitter;
  if (section.early_refresh !== undefined) o.earlyRefresh = section.early_refresh;
  if (section.lease?.wait !== undefined) o.leaseWait = section.lease.wait;
  return o;
}
