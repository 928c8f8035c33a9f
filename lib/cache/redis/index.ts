/**
 * Redis cache adapter (`hyperion/cache/redis`): `createRedisCache(options)` returns a `Cache` on a
 * standalone server, a sentinel set or a cluster, built on iovalkey (an optional peer dependency).
 */

export {
  createRedisInvalidationBus,
  decodeInvalidation,
  encodeInvalidation,
  type RedisInvalidationBus,
  type RedisInvalidationBusOptions,
} from './bus.js';
export {
  createRedisCache,
  MAX_TTL_MS,
  MAX_VALUE_BYTES,
  type RedisCache,
  type RedisCacheStats,
  type RedisPipeline,
} from './cache.js';
export type { RedisHealth, RedisNodeHealth } from './health.js';
export { createRedisLease, type RedisLeaseOptions } from './lease.js';
export { parseHostPort, type RedisCacheOptions, type RedisMode } from './options.js';
export { keySlot } from './slots.js';
export {
  type RetryOptions,
  retryTransaction,
  type TransactionBuilder,
  type TransactionFn,
  type TransactionOptions,
  type TransactionResult,
  type TransactionValue,
} from './transaction.js';
