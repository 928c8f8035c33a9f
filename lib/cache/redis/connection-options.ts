/**
 * The options of `createRedisCache` that need no iovalkey type (everything but an injected
 * `client`): what the `hyperion/config` mapping returns, so its type declarations do not pull in
 * iovalkey for a consumer who did not install it.
 */
import type { ConnectionOptions } from 'node:tls';
import type { LoggerLike } from '../../core/contracts.js';

export type RedisMode = 'standalone' | 'cluster' | 'sentinel';

export interface RedisConnectionOptions {
  /**
   * Topology. Default `standalone`; with an injected `client`, the client's own (`cluster` for a
   * Cluster, `sentinel` for a Redis client made with `sentinels`), and another is a ConfigError.
   * Required (without a client) beside a `sentinel` or `cluster` section, which it would ignore.
   */
  mode?: RedisMode | undefined;
  /**
   * `host:port` seeds: the server (standalone), any cluster nodes (cluster), or the sentinels when
   * `sentinel.sentinelAddresses` is absent (sentinel). Default `['127.0.0.1:6379']`
   * (`['127.0.0.1:26379']` in sentinel mode).
   */
  addresses?: readonly string[] | undefined;
  /** `AUTH` password of the data nodes. Never appears in error messages. */
  password?: string | undefined;
  /** ACL user name (Redis 6+). */
  username?: string | undefined;
  /** Database index, 0 to `databases` − 1 (standalone/sentinel only; cluster has just db 0). Default 0. */
  db?: number | undefined;
  /**
   * Number of databases the server has (its `databases` setting), which bounds `db`. Default 16,
   * the Redis and Valkey default.
   */
  databases?: number | undefined;
  /**
   * Connections to each node. iovalkey multiplexes every command over one connection and the
   * benchmark showed extra round-robin connections to be slower, so only `1` is accepted; any other
   * value is a ConfigError (rather than a setting that silently does nothing). Default 1.
   */
  poolSize?: number | undefined;
  /**
   * Connections opened before the first command: `1` (default) connects at creation and fails
   * visibly early; `0` connects lazily on the first command. Must be ≤ `poolSize`.
   */
  minIdleConns?: number | undefined;
  /** TCP connect (dial) timeout in ms. Default 5000. */
  dialTimeout?: number | undefined;
  /**
   * Reply timeout in ms. iovalkey times each command from send to reply, with no separate read and
   * write phase, so the bound applied to every command is `commandTimeout` when given, otherwise the
   * larger of `readTimeout` and `writeTimeout`. Default 3000.
   */
  readTimeout?: number | undefined;
  /** See `readTimeout`. Default 3000. */
  writeTimeout?: number | undefined;
  /** Bound for every command (send → reply) in ms; overrides read/write timeouts. Default 3000. */
  commandTimeout?: number | undefined;
  cluster?:
    | {
        /** Max MOVED/ASK redirections followed per command. Default 3. */
        maxRedirects?: number | undefined;
        /** Serve reads (GET/MGET/TYPE) from replicas; they may lag the master. Default false. */
        readOnly?: boolean | undefined;
      }
    | undefined;
  sentinel?:
    | {
        /** Name of the monitored master (`sentinel monitor <name> …`). Required in sentinel mode. */
        masterName?: string | undefined;
        /** `host:port` of the sentinels. Default: `addresses`. */
        sentinelAddresses?: readonly string[] | undefined;
        /** Password of the sentinels themselves (`requirepass` or an ACL user in sentinel.conf), if any. */
        password?: string | undefined;
        /** ACL user of the sentinels themselves (Redis 6.2+), if any. */
        username?: string | undefined;
        /**
         * TLS to the sentinels. Default: the same as `tls` (the data nodes). `false` talks plain text
         * to the sentinels while the data nodes use TLS.
         */
        tls?: boolean | ConnectionOptions | undefined;
      }
    | undefined;
  /** Prepended to every key; `clear()` removes only keys with this prefix. Default `''` (the whole db). */
  keyPrefix?: string | undefined;
  /**
   * TLS to the data nodes (and, unless `sentinel.tls` says otherwise, to the sentinels): `true`
   * verifies the server against the system CAs, or `tls.connect` options — typically `ca` (PEM of a
   * private CA), and `cert` + `key` (+ `passphrase`) for mutual TLS. The server certificate and its
   * host name/IP are always checked unless `rejectUnauthorized: false` (testing only). A certificate
   * or TLS failure fails commands at once with CacheError('unavailable') naming it. Default off.
   */
  tls?: boolean | ConnectionOptions | undefined;
  /** TTL in ms applied when `set` gets none. Default: no expiry. */
  defaultTtl?: number | undefined;
  /**
   * Longest wait for a `getOrSet` loader, ms (or `Infinity`). A load that takes longer rejects with
   * CacheError('timeout') for every caller that joined it, stores nothing, and the key's next
   * caller starts a new load. Default `Infinity` (off): a loader that never settles then holds its
   * key, and every later `getOrSet` of that key in this process joins it.
   */
  loadTimeout?: number | undefined;
  /**
   * iovalkey auto-pipelining: commands issued in the same tick share one write. Roughly doubles
   * throughput under high concurrency but adds latency to lone requests (see the benchmark).
   * Default false.
   */
  autoPipelining?: boolean | undefined;
  /** Quit the injected `client` on `close()`. Default false. */
  ownClient?: boolean | undefined;
  /** Receives connection errors and fail-open reports. Default: silent. */
  logger?: LoggerLike | undefined;
  /** Cache name for metrics labels; also the connection name `hyperion:<name>`. Default `redis`. */
  name?: string | undefined;
}
