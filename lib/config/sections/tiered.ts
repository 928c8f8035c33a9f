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
import { duration } from '../primitives.js';

const fraction = v.pipe(v.number(), v.minValue(0), v.maxValue(1));

/** Tiered options besides the two levels; `l1`/`l2` are validated by their own section schemas. */
export const tieredFields = {
  type: v.literal('tiered'),
  ttl: v.optional(duration),
  l1_ttl: v.optional(duration),
  l2_timeout: v.optional(duration),
  breaker: v.optional(
    v.union([
      v.literal(false),
      v.strictObject({
        failures: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
        cooldown: v.optional(duration),
      }),
    ]),
  ),
  grace: v.optional(duration),
  jitter: v.optional(fraction),
  early_refresh: v.optional(fraction),
  invalidation: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean()),
      channel: v.optional(v.pipe(v.string(), v.minLength(1))),
      /** `bus` (default): other instances' writes; `tracking`: every client's writes (CLIENT TRACKING); `both`. */
      mode: v.optional(v.picklist(['bus', 'tracking', 'both'], 'mode bus, tracking or both')),
      /** CLIENT TRACKING flavour: `default` (keys this instance read) or `bcast` (every key under the prefix). */
      tracking_mode: v.optional(v.picklist(['default', 'bcast'], 'tracking_mode default or bcast')),
      /** How often tracking is verified (and how soon a silently dead connection is noticed). */
      heartbeat: v.optional(duration),
    }),
  ),
  lease: v.optional(
    v.strictObject({
      enabled: v.optional(v.boolean()),
      ttl: v.optional(duration),
      wait: v.optional(duration),
    }),
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
