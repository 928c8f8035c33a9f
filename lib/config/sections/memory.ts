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
import { MAX_NUM_COUNTERS, type MemoryCacheOptions } from '../../cache/memory/options.js';
import type { Bytes } from '../../core/contracts.js';
import {
  durationIn,
  flag,
  givenSection,
  intIn,
  MAX_TTL_MS,
  numberIn,
  section,
  sectionFields,
} from '../primitives.js';

/** Schema of the `cache:` section with `type: memory`. Unknown keys are rejected. */
export const memorySection = section(
  {
    type: v.literal('memory', '"memory"'),
    /**
     * Capacity in bytes (the sum of value byte lengths). Required, at least 1, at most 2^53 − 1:
     * each byte costs 1, so a budget below 1 (`0.5`) held no value and refused every write.
     */
    max_cost: numberIn(
      1,
      Number.MAX_SAFE_INTEGER,
      'a number of bytes from 1 to 9,007,199,254,740,991 (2^53 − 1)',
    ),
    /** Frequency-sketch counters, ≈ 10 × expected entries, 1..2^26. Default: derived from max_cost. */
    num_counters: v.optional(intIn(1, MAX_NUM_COUNTERS)),
    /** Deprecated, no effect in Node.js (accepted for compatibility; warns once). 0..2^31 − 1. */
    buffer_items: v.optional(intIn(0, 2 ** 31 - 1)),
    /**
     * Expose cache stats to the metrics adapter. Default true. As a tiered cache's `l1`/`l2` it
     * changes only that level's own stats(): the adapter watches the tiered cache, not its levels.
     */
    metrics: v.optional(flag),
    /** TTL for sets that give none: "5m", "30s" or ms, above 0 and up to 365 days. Default: none. */
    default_ttl: v.optional(durationIn({ exclusive: true, max: MAX_TTL_MS })),
  },
  'memory cache settings',
);

/** The validated section. */
export type MemorySection = v.InferOutput<typeof memorySection>;

/** Maps a validated section to `createMemoryCache` options (pure; absent keys stay absent). */
export function memoryOptionsFromConfig(section: MemorySection): MemoryCacheOptions<Bytes> {
  givenSection(
    section,
    'memoryOptionsFromConfig',
    'cache',
    'createAppFromConfig then builds no cache',
    sectionFields(memorySection),
    'memory',
  );
  const options: MemoryCacheOptions<Bytes> = { maxCost: section.max_cost };
  if (section.num_counters !== undefined) options.numCounters = section.num_counters;
  if (section.buffer_items !== undefined) options.bufferItems = section.buffer_items;
  if (section.metrics !== undefined) options.metrics = section.metrics;
  if (section.default_ttl !== undefined) options.defaultTtl = section.default_ttl;
  return options;
}
