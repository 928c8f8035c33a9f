/**
 * Builds the iovalkey client for a topology. The settings that matter for fault behaviour:
 * - `commandTimeout` bounds every command from send to reply (also across MOVED/ASK retries: the
 *   timer starts once per command);
 * - `enableOfflineQueue: false`: nothing piles up while disconnected — the cache's own readiness
 *   gate waits (bounded in time and count) instead;
 * - `maxRetriesPerRequest: 1`: commands caught by a disconnect are retried once, then rejected;
 * - reconnection never gives up (capped backoff), so the cache recovers when Redis comes back.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'iovalkey';
import type { ResolvedOptions } from './options.js';

/** Reconnect backoff in ms: 50, 100, … capped at 1 s. */
const backoff = (times: number) => Math.min(times * 50, 1000);

/** How often a cluster client re-reads the slot map (ms). */
const SLOTS_REFRESH_MS = 5000;

/** Replies that mean "you are talking to the wrong node": reconnect (and resend) after failover. */
function reconnectOnError(err: Error): 2 | false {
  return /^(READONLY|MASTERDOWN)\b/.test(err.message) ? 2 : false;
}

export function buildClient(o: ResolvedOptions): Redis | Cluster {
  const common: RedisOptions = {
    username: o.username,
    password: o.password,
    connectTimeout: o.dialTimeout,
    commandTimeout: o.commandTimeout,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: o.autoPipelining,
    connectionName: `hyperion:${o.name}`,
    lazyConnect: o.lazy,
    tls: o.tls,
  };
  if (o.mode === 'cluster') {
    const { lazyConnect: _lazy, enableAutoPipelining: _ap, ...redisOptions } = common;
    const options: ClusterOptions = {
      redisOptions,
      lazyConnect: o.lazy,
      enableAutoPipelining: o.autoPipelining,
      enableOfflineQueue: false,
      maxRedirections: o.maxRedirects,
      scaleReads: o.readOnly ? 'slave' : 'master',
      clusterRetryStrategy: backoff,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: o.dialTimeout,
      // Re-read CLUSTER SLOTS periodically: replicas that joined (or were promoted) after the first
      // read are otherwise only learned from a MOVED reply, and `readOnly` would keep using masters.
      slotsRefreshInterval: SLOTS_REFRESH_MS,
    };
    return new Cluster(o.addresses, options);
  }
  const base: RedisOptions = {
    ...common,
    db: o.db,
    enableOfflineQueue: false,
    retryStrategy: backoff,
    reconnectOnError,
  };
  if (o.mode === 'sentinel') {
    return new Redis({
      ...base,
      sentinels: o.sentinelAddresses,
      name: o.masterName,
      sentinelPassword: o.sentinelPassword,
      sentinelRetryStrategy: backoff,
      sentinelCommandTimeout: o.commandTimeout,
      enableTLSForSentinelMode: o.tls !== undefined,
      // Subscribes to +switch-master so a promotion is noticed without waiting for a timeout.
      failoverDetector: true,
    });
  }
  const first = o.addresses[0]!;
  return new Redis({ ...base, host: first.host, port: first.port });
}
