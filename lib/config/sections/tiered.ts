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
import {
  durationIn,
  flag,
  fraction,
  intIn,
  MAX_COUNT,
  MAX_TTL_MS,
  nonEmpty,
  oneOf,
  section,
} from '../primitives.js';

/** Cache lifetimes: stored as expiry times, so up to 365 days. */
const ttl = v.optional(durationIn({ exclusive: true, max: MAX_TTL_MS }));
/** Durations that arm timers: up to 2^31 − 1 ms. */
const positiveTimer = v.optional(durationIn({ exclusive: true }));

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
    ),
  ),
};

const tieredOnly = v.strictObject({ ...tieredFields, l1: v.unknown(), l2: v.unknown() });
export type TieredSection = v.InferOutput<typeof tieredOnly>;

/** The tiered cache's own options from the section (the levels, bus and lease are built by the caller). */
export function tieredOptionsFromConfig(
  section: TieredSection,
): Omit<TieredCacheOptions, 'l1' | 'l2' | 'bus' | 'lease'> {
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
