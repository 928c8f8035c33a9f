/**
 * The `cache:` config section for the in-memory cache (`type: memory`), in the original YAML's
 * snake_case keys, and its mapping to `createMemoryCache` options.
 *
 * ```yaml
 * cache:
 *   type: memory
 *   max_cost: 104857600   # bytes (100 MiB)
 *   num_counters: 1000000 # ≈ 10 × expected entries
 *   metrics: true
 *   default_ttl: 5m
 * ```
 */
import * as v from 'valibot';
import type { MemoryCacheOptions } from '../../cache/memory/options.js';
import type { Bytes } from '../../core/contracts.js';
import { duration } from '../primitives.js';

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));

/** Schema of the `cache:` section with `type: memory`. Unknown keys are rejected. */
export const memorySection = v.strictObject({
  type: v.literal('memory'),
  /** Capacity in bytes (the sum of value byte lengths). Required, > 0. */
  max_cost: v.pipe(v.number(), v.finite(), v.gtValue(0, 'max_cost must be greater than 0')),
  /** Frequency-sketch counters, ≈ 10 × expected entries. Default: derived from max_cost. */
  num_counters: v.optional(positiveInt),
  /** Deprecated, no effect in Node.js (accepted for compatibility; warns once). */
  buffer_items: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  /** Expose cache stats to the metrics adapter. Default true. */
  metrics: v.optional(v.boolean()),
  /** TTL for sets that give none: "5m", "30s" or ms. Default: none. */
  default_ttl: v.optional(
    v.pipe(
      duration,
      v.check((ms) => ms > 0, 'default_ttl must be greater than 0'),
    ),
  ),
});

/** The validated section. */
export type MemorySection = v.InferOutput<typeof memorySection>;

/** Maps a validated section to `createMemoryCache` options (pure; absent keys stay absent). */
export function memoryOptionsFromConfig(section: MemorySection): MemoryCacheOptions<Bytes> {
  const options: MemoryCacheOptions<Bytes> = { maxCost: section.max_cost };
  if (section.num_counters !== undefined) options.numCounters = section.num_counters;
  if (section.buffer_items !== undefined) options.bufferItems = section.buffer_items;
  if (section.metrics !== undefined) options.metrics = section.metrics;
  if (section.default_ttl !== undefined) options.defaultTtl = section.default_ttl;
  return options;
}
