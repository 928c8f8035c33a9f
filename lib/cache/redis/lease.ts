/**
 * The Redis loader lease of the tiered cache: `SET key token NX PX ttl` takes it, a Lua
 * check-and-delete releases it only if the token is still ours (after a lease expired and another
 * instance took it, our late release must not free theirs).
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'iovalkey';
import type { LoaderLease } from '../../core/contracts.js';
import { ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';

export interface RedisLeaseOptions {
  /** The client to use, e.g. `createRedisCache(…).client`. Not closed by the lease. */
  client: Redis | Cluster;
  /**
   * Lease lifetime in ms: longer than the slowest loader, so it does not expire under a live
   * holder; short enough that a crashed holder blocks others only briefly. Default 10 000.
   */
  ttl?: number;
  /** Prefix of the lease keys. Default `hyperion:lease:`. */
  prefix?: string;
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Builds the Redis lease for `createTieredCache({ lease })`. */
export function createRedisLease(options: RedisLeaseOptions): LoaderLease {
  const issues: ConfigIssue[] = [];
  const o = (options ?? {}) as Partial<RedisLeaseOptions>;
  const client = o.client as Partial<Redis> | undefined;
  if (typeof client?.set !== 'function' || typeof client.eval !== 'function')
    issues.push({
      path: 'client',
      expected: 'an iovalkey client',
      received: typeName(client),
      message: 'is required',
    });
  const ttl = o.ttl ?? 10_000;
  if (!(typeof ttl === 'number' && Number.isInteger(ttl) && ttl > 0))
    issues.push({
      path: 'ttl',
      expected: 'a positive integer of ms',
      received: typeName(ttl),
      message: 'invalid duration',
    });
  const prefix = o.prefix ?? 'hyperion:lease:';
  if (typeof prefix !== 'string')
    issues.push({
      path: 'prefix',
      expected: 'a string',
      received: typeName(prefix),
      message: 'must be a string',
    });
  if (issues.length > 0) throw new ConfigError('createRedisLease: invalid options', issues);
  const redis = o.client!;

  return {
    async acquire(key) {
      const leaseKey = prefix + key;
      const token = randomUUID();
      const reply = await redis.set(leaseKey, token, 'PX', ttl, 'NX');
      if (reply !== 'OK') return undefined;
      return async () => {
        await redis.eval(RELEASE, 1, leaseKey, token);
      };
    },
  };
}
