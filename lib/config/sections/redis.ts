/**
 * The `cache:` section for `type: redis` (the original YAML keys, snake_case) and its mapping to
 * `createRedisCache` options.
 *
 *   cache:
 *     type: redis
 *     mode: sentinel            # standalone | cluster | sentinel
 *     addresses: [127.0.0.1:6379]
 *     password: ""
 *     db: 0
 *     pool_size: 1              # only 1: see the Redis docs, "What pool_size means"
 *     min_idle_conns: 1         # 1 = connect at start, 0 = on first use
 *     dial_timeout: 5s
 *     read_timeout: 3s
 *     write_timeout: 3s
 *     key_prefix: "app:"
 *     cluster: { max_redirects: 3, read_only: false }
 *     sentinel: { master_name: mymaster, sentinel_addresses: [127.0.0.1:26379] }
 */
import * as v from 'valibot';
import type { RedisCacheOptions } from '../../cache/redis/options.js';
import { duration, hostPort } from '../primitives.js';
import { clientTlsFields, clientTlsOptions } from './tls.js';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const tlsOptions = v.strictObject({
  /** PEM CA bundle to trust instead of the system store. */
  ca: v.optional(v.string()),
  /** PEM client certificate (mutual TLS). */
  cert: v.optional(v.string()),
  /** PEM client key (mutual TLS). */
  key: v.optional(v.string()),
  /** SNI / certificate host name. */
  server_name: v.optional(v.string()),
  /** Default true; false accepts any certificate (testing only). */
  reject_unauthorized: v.optional(v.boolean()),
  /** Files read once at startup: CA, client certificate and key (mutual TLS); see ./tls.ts. */
  ca_file: clientTlsFields.ca_file,
  cert_file: clientTlsFields.cert_file,
  key_file: clientTlsFields.key_file,
  key_passphrase: clientTlsFields.key_passphrase,
});

export const redisSection = v.pipe(
  v.strictObject({
    type: v.literal('redis'),
    /** Default standalone. */
    mode: v.optional(v.picklist(['standalone', 'cluster', 'sentinel'])),
    /** Server (standalone), seed nodes (cluster) or sentinels (sentinel, when sentinel_addresses is absent). */
    addresses: v.optional(v.pipe(v.array(hostPort), v.minLength(1, 'at least one address'))),
    /** Empty string = no password (as in the original example). */
    password: v.optional(v.string()),
    username: v.optional(v.string()),
    db: v.optional(count),
    /** Only 1 is accepted: iovalkey multiplexes one connection per node; more measured slower. */
    pool_size: v.optional(
      v.pipe(
        v.number(),
        v.check(
          (n) => n === 1,
          'pool_size 1: iovalkey multiplexes every command over one connection per node and extra ' +
            'connections measured slower; use auto_pipelining for throughput under concurrency',
        ),
      ),
    ),
    /** 1 = connect at start (default), 0 = connect on first use. */
    min_idle_conns: v.optional(v.pipe(count, v.maxValue(1, 'min_idle_conns 0 or 1 (at most pool_size)'))),
    /** TCP connect timeout. Default 5s. */
    dial_timeout: v.optional(duration),
    /** Per-command reply bound (the larger of read/write timeout applies). Default 3s. */
    read_timeout: v.optional(duration),
    write_timeout: v.optional(duration),
    /** Overrides read/write timeouts when set. */
    command_timeout: v.optional(duration),
    cluster: v.optional(
      v.strictObject({
        /** Default 3. */
        max_redirects: v.optional(count),
        /** Read from replicas. Default false. */
        read_only: v.optional(v.boolean()),
      }),
    ),
    sentinel: v.optional(
      v.strictObject({
        master_name: v.optional(v.pipe(v.string(), v.minLength(1, 'a master name'))),
        sentinel_addresses: v.optional(v.pipe(v.array(hostPort), v.minLength(1, 'at least one address'))),
        password: v.optional(v.string()),
        /** ACL user of the sentinels themselves. */
        username: v.optional(v.string()),
        /** TLS to the sentinels; default: the same as `tls`. */
        tls: v.optional(v.union([v.boolean(), tlsOptions])),
      }),
    ),
    /** Prepended to every key; clear() only removes these. */
    key_prefix: v.optional(v.string()),
    tls: v.optional(v.union([v.boolean(), tlsOptions])),
    /** TTL for set() without one. Default none. */
    default_ttl: v.optional(duration),
    /** iovalkey auto-pipelining. Default false. */
    auto_pipelining: v.optional(v.boolean()),
  }),
  v.forward(
    v.partialCheck(
      [['mode'], ['sentinel', 'master_name']],
      (s) => s.mode !== 'sentinel' || s.sentinel?.master_name !== undefined,
      'sentinel.master_name is required in sentinel mode',
    ),
    ['sentinel', 'master_name'],
  ),
  v.forward(
    v.partialCheck(
      [['mode'], ['db']],
      (s) => s.mode !== 'cluster' || s.db === undefined || s.db === 0,
      'db must be 0 in cluster mode (Redis Cluster has a single database)',
    ),
    ['db'],
  ),
  v.forward(
    v.partialCheck(
      [['mode'], ['addresses']],
      (s) => (s.mode ?? 'standalone') !== 'standalone' || (s.addresses?.length ?? 1) === 1,
      'exactly one address in standalone mode (use mode: cluster or sentinel for several)',
    ),
    ['addresses'],
  ),
);

export type RedisSection = v.InferOutput<typeof redisSection>;

/** The `tls` value: inline PEM fields, and the `*_file` fields read now (ConfigError naming a bad path). */
function redisTls(t: boolean | v.InferOutput<typeof tlsOptions>, field: string): RedisCacheOptions['tls'] {
  if (typeof t === 'boolean') return t;
  return {
    ...clientTlsOptions(t, field),
    ...(t.ca !== undefined && { ca: t.ca }),
    ...(t.cert !== undefined && { cert: t.cert }),
    ...(t.key !== undefined && { key: t.key }),
  };
}

/**
 * Maps a validated `cache:` (type redis) section to `createRedisCache` options. Reads the TLS
 * files named in it (once; call at startup).
 */
export function redisOptionsFromConfig(section: RedisSection): RedisCacheOptions {
  const o: RedisCacheOptions = {};
  if (section.mode !== undefined) o.mode = section.mode;
  if (section.addresses !== undefined) o.addresses = [...section.addresses];
  if (section.password) o.password = section.password;
  if (section.username) o.username = section.username;
  if (section.db !== undefined) o.db = section.db;
  if (section.pool_size !== undefined) o.poolSize = section.pool_size;
  if (section.min_idle_conns !== undefined) o.minIdleConns = section.min_idle_conns;
  if (section.dial_timeout !== undefined) o.dialTimeout = section.dial_timeout;
  if (section.read_timeout !== undefined) o.readTimeout = section.read_timeout;
  if (section.write_timeout !== undefined) o.writeTimeout = section.write_timeout;
  if (section.command_timeout !== undefined) o.commandTimeout = section.command_timeout;
  if (section.cluster) {
    o.cluster = {};
    if (section.cluster.max_redirects !== undefined) o.cluster.maxRedirects = section.cluster.max_redirects;
    if (section.cluster.read_only !== undefined) o.cluster.readOnly = section.cluster.read_only;
  }
  if (section.sentinel) {
    o.sentinel = {};
    if (section.sentinel.master_name !== undefined) o.sentinel.masterName = section.sentinel.master_name;
    if (section.sentinel.sentinel_addresses !== undefined) {
      o.sentinel.sentinelAddresses = [...section.sentinel.sentinel_addresses];
    }
    if (section.sentinel.password) o.sentinel.password = section.sentinel.password;
    if (section.sentinel.username) o.sentinel.username = section.sentinel.username;
    if (section.sentinel.tls !== undefined)
      o.sentinel.tls = redisTls(section.sentinel.tls, 'cache.sentinel.tls');
  }
  if (section.key_prefix !== undefined) o.keyPrefix = section.key_prefix;
  if (section.tls !== undefined) o.tls = redisTls(section.tls, 'cache.tls');
  if (section.default_ttl !== undefined) o.defaultTtl = section.default_ttl;
  if (section.auto_pipelining !== undefined) o.autoPipelining = section.auto_pipelining;
  return o;
}
