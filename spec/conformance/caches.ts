/**
 * The one place the conformance tests import cache factories from, so a file move in lib/ is a
 * one-line change here. Also builds the caches the suite runs against, each with its clock.
 */
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCacheOptions } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import type { Cache } from '../../lib/core/contracts.js';
import { createNoopCache } from '../../lib/core/noop.js';
import { manualClock } from '../harness/clock.js';
import type { CacheUnderTest } from './cache.js';

export { createMemoryCache, createNoopCache, createRedisCache, createTieredCache };

/** The no-op cache: nothing to advance, nothing stored. */
export function noopUnderTest(): CacheUnderTest {
  return { cache: createNoopCache() };
}

/** The memory cache's byte face on a manual clock. */
export function memoryUnderTest(): CacheUnderTest {
  const clock = manualClock();
  return { cache: createMemoryCache({ maxCost: 1 << 20, now: clock.now }), advance: clock.advance };
}

let prefixes = 0;

/** A Redis cache under a key prefix of its own, so caches on one server never see each other. */
export function redisUnderTest(options: RedisCacheOptions): CacheUnderTest {
  // TTLs run on the server's clock: no `advance`, the suite waits for the expiry itself.
  return {
    cache: createRedisCache({ commandTimeout: 2000, ...options, keyPrefix: `conformance-${++prefixes}:` }),
  };
}

/**
 * A tiered cache with a memory L1 over `l2` (a memory cache on the same manual clock when
 * omitted). Over a real server the L2 copy also expires on the server's clock, later; the tiered
 * cache's own deadlines, on the manual clock, are what the suite observes.
 */
export function tieredUnderTest(l2?: Cache, l2Timeout?: number): CacheUnderTest {
  const clock = manualClock();
  const cache = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 20, now: clock.now }),
    l2: l2 ?? createMemoryCache({ maxCost: 1 << 20, now: clock.now }),
    now: clock.now,
    ...(l2Timeout === undefined ? {} : { l2Timeout }),
  });
  return { cache, advance: clock.advance };
}
