/**
 * Redis cache adapter (`hyperion/cache/redis`): `createRedisCache(options)` returns a `Cache` on a
 * standalone server, a sentinel set or a cluster, built on iovalkey (an optional peer dependency).
 * Also the Redis parts of a tiered cache (invalidation bus, server-assisted tracking, loader lease)
 * and `retryTransaction`, and the least-privilege ACL rules for the app's Redis user (`aclRules`,
 * `sentinelAclRules`).
 * Only what a user calls and the types they name are exported here; tests reach the internals
 * through their own modules.
 */

// The core contracts this subpath's results are typed with, re-exported so that a TypeScript
// module importing only this subpath can emit declarations for them (with `declaration: true` an
// exported result typed by a core contract failed with TS2742, naming …/dist/core/contracts.js).
export type {
  Cache,
  InvalidationBus,
  InvalidationTracker,
  LeaseAcquireOptions,
  LoaderLease,
} from '../../core/index.js';
export { type AclScope, aclRules, sentinelAclRules } from './acl.js';
export {
  createRedisInvalidationBus,
  type RedisInvalidationBus,
  type RedisInvalidationBusOptions,
} from './bus.js';
export { createRedisCache } from './cache.js';
// RedisConnectionOptions: what hyperion/config's redisOptionsFromConfig returns; named here so a
// declaration emitted for its result can refer to it (TS2742 otherwise).
export type { RedisConnectionOptions } from './connection-options.js';
export type { RedisHealth, RedisNodeHealth, RedisSentinelHealth } from './health.js';
export { createRedisLease, type RedisLeaseOptions } from './lease.js';
export type { RedisPartialRead } from './many.js';
export type { RedisCacheOptions, RedisMode } from './options.js';
export {
  createRedisTracking,
  type RedisTracking,
  type RedisTrackingOptions,
  type RedisTrackingStats,
} from './tracking.js';
export {
  type RetryOptions,
  retryTransaction,
  type TransactionBuilder,
  type TransactionFn,
  type TransactionOptions,
  type TransactionResult,
  type TransactionValue,
} from './transaction/index.js';
export type { RedisCache, RedisCacheStats, RedisPipeline } from './types.js';
