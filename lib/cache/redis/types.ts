/** The public types of the Redis cache: what `createRedisCache` returns. */
import type { Cluster, Redis } from 'iovalkey';
import type { Bytes, Cache, CacheHit, CacheStats, WriteOptions } from '../../core/contracts.js';
import type { RedisHealth } from './health.js';
import type { RedisMode } from './options.js';
import type { TransactionFn, TransactionOptions, TransactionResult } from './transaction/types.js';

export interface RedisCacheStats extends CacheStats {
  readonly errors: number;
  /** Commands sent on the cache's own connection and not yet answered (transactions run on their own: not counted). */
  readonly inflight: number;
}

/** Batches get/set/delete into one round trip (one per node in cluster mode). */
export interface RedisPipeline {
  get(key: string): RedisPipeline;
  /** `ttl` in ms; default: the cache's `defaultTtl`, else no expiry. */
  set(key: string, value: Bytes, ttl?: number): RedisPipeline;
  delete(key: string): RedisPipeline;
  /** Number of queued operations. */
  readonly length: number;
  /**
   * Sends the queued operations and resolves with one result per operation, in order: `get` →
   * value or `undefined`, `set` → `true`, `delete` → whether a key was removed. Rejects with the
   * first CacheError if any command failed, carrying the results of the commands that were
   * answered as `err.partial` (`RedisPartialRead`: `values` in queue order, `unanswered` the
   * positions whose outcome is not known; present when at least one was answered). Empties the queue.
   */
  exec(): Promise<(Bytes | boolean | undefined)[]>;
}

export interface RedisCache extends Cache {
  readonly name: string;
  readonly mode: RedisMode;
  readonly keyPrefix: string;
  /**
   * The `defaultTtl` option: the TTL of writes that give none (`undefined`: they never expire). A
   * tiered cache without a `ttl` of its own takes its L2's, so its L1 copies expire with L2's.
   */
  readonly defaultTtl: number | undefined;
  /**
   * SCAN + UNLINK of the prefix's keys. `timeout` (ms): every round's server-side deadline counts
   * from this call with that budget, so no round lands after it (the tiered cache passes its
   * `l2Timeout`); without it each round gets one command timeout from its own start.
   */
  clear(options?: Pick<WriteOptions, 'timeout'>): Promise<void>;
  /**
   * The underlying iovalkey client, for pub/sub, scripts or leases. Use `client.duplicate()` for a
   * subscriber connection; do not quit it (the cache owns it unless it was injected).
   */
  readonly client: Redis | Cluster;
  pipeline(): RedisPipeline;
  /**
   * As `get`, but counted in neither `hits` nor `misses` of `stats()` (as the memory cache's
   * `sync.peek`): a tiered cache reads its Redis L2 with it for `has` and a conditional `set`.
   */
  peek(key: string): Promise<Bytes | undefined>;
  /** GET and PTTL of each key in one round trip (per node); see `Cache.getManyWithTtl`. */
  getManyWithTtl(keys: readonly string[]): Promise<(CacheHit | undefined)[]>;
  stats(): RedisCacheStats;
  /** PING latency and topology; `{ ok: false, error }` when Redis cannot answer. Never throws. */
  health(): Promise<RedisHealth>;
  /** MULTI/EXEC of queued get/set/delete/expire, optionally WATCH-guarded; a conflict is `{ ok: false }`. See ./transaction/. */
  transaction(fn: TransactionFn, options?: TransactionOptions): Promise<TransactionResult>;
  /** Stops new operations, waits (bounded) for in-flight ones, then quits the client it owns. Idempotent. */
  close(): Promise<void>;
}
