/**
 * Tiered cache (`hyperion/cache/tiered`): a process-local L1 in front of a shared L2, both plain
 * `Cache`s. Reads go L1 → L2 → loader, with one loader call per key per process however many
 * callers miss at once. Writes go to L2, then L1, then an invalidation (keys only) tells the other
 * instances to drop their L1 copies. L2 is treated as fallible: every call is time-bounded and a
 * circuit breaker stops calling it during an outage, while L1 and the loader keep answering.
 *
 * Both levels hold an envelope (envelope.ts) carrying the fresh and grace deadlines, so
 * stale-if-error and early refresh work whatever the levels are. The parts:
 *
 *   types.ts        the public types (options, result, stats); every part takes them from here
 *   cache.ts        the wiring: createTieredCache
 *   options.ts      defaults and validation of the options
 *   context.ts      the state the parts share (counters, breaker, fence, guarded L2, L1 side)
 *   l2.ts           every L2 call under the timeout and the circuit breaker (breaker.ts, timing.ts)
 *   local.ts        envelopes for writes, fenced L1 fills, per-key flights (envelope.ts, coherence.ts)
 *   behind.ts       keys whose L2 value may be older than one loaded while L2 did not answer
 *   read.ts         single-key reads: grace, early refresh, loader lease
 *   batch.ts        getMany and getOrSetMany
 *   write.ts        set, setMany, delete, clear and their invalidations
 *   invalidation.ts this instance's end of the invalidation bus
 *   tracking.ts     this instance's end of server-assisted invalidation (InvalidationTracker)
 *   stats.ts        the counters behind stats()
 *   metrics.ts      coherence counters (invalidations, L1 clears, tracking age) as metrics
 *
 * Nothing here imports anything but the core. The bus and lease contracts (`InvalidationBus`,
 * `Invalidation`, `LoaderLease`) are core contracts, exported by `hyperion`; the envelope codec
 * and the timing helpers are internal.
 */

// The core contracts this subpath's results are typed with, re-exported so that a TypeScript
// module importing only this subpath can emit declarations for them (with `declaration: true` an
// exported result typed by a core contract failed with TS2742, naming …/dist/core/contracts.js).
export type { Cache } from '../../core/index.js';
export { createTieredCache } from './cache.js';
export { watchTieredCoherence } from './metrics.js';
export type {
  BreakerOptions,
  BreakerState,
  ManyLoader,
  TieredCache,
  TieredCacheOptions,
  TieredCacheStats,
  TieredResult,
  TieredSource,
} from './types.js';
