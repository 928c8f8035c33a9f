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
import { createSecureContext } from 'node:tls';
import * as v from 'valibot';
import type { RedisConnectionOptions } from '../../cache/redis/connection-options.js';
import { DEFAULT_TIMEOUT, MIN_COMMAND_TIMEOUT_MS } from '../../cache/redis/options.js';
import {
  durationIn,
  flag,
  givenSection,
  hostName,
  hostPort,
  intIn,
  listOf,
  MAX_TTL_MS,
  nonEmpty,
  oneOf,
  type SectionRule,
  section,
  sectionFields,
  text,
} from '../primitives.js';
import { certWithKey, clientTlsFields, clientTlsOptions, readingAll } from './tls.js';

/** Timeouts arm timers: above 0 (iovalkey treats 0 as "none") and up to 2^31 − 1 ms. */
const timeout = v.optional(durationIn({ exclusive: true }));
/**
 * Command timeouts: at least 10 ms, as the Redis factory requires (its writes carry a server-side
 * deadline at least 5 ms before the timeout, so a shorter one would refuse every write).
 */
const commandTimeout = v.optional(durationIn({ min: MIN_COMMAND_TIMEOUT_MS }));

/**
 * Inline PEM (`ca`, `cert`, `key`) is checked here, as the factory checks it, so that a config the
 * schema accepts also builds: cert and key together, and loadable (the reason names no content).
 */
const inlinePem: SectionRule = (t, fail) => {
  if ((t.cert === undefined) !== (t.key === undefined)) {
    fail([t.cert === undefined ? 'cert' : 'key'], 'cert and key go together', 'both or neither');
    return;
  }
  if (t.ca === undefined && t.cert === undefined) return;
  try {
    createSecureContext({
      ca: t.ca as string | undefined,
      cert: t.cert as string | undefined,
      key: t.key as string | undefined,
      passphrase: t.key_passphrase as string | undefined,
    });
  } catch {
    fail([], 'the inline PEM (ca, cert, key) cannot be loaded', 'PEM certificates and key');
  }
};

/**
 * Inline PEM and a file for the same thing (`ca` and `ca_file`, …): the mapping below spreads the
 * inline value over the file's, so the file was read, checked and then not used — a `ca_file`
 * naming the right CA next to a stale inline `ca` failed every connection with "check tls.ca",
 * and a `HYPERION__CACHE__TLS__CA_FILE` override was ignored under a file's inline `ca`. One of
 * the two; both fields are named, so an issue names the variable that set either.
 */
const onePemSource: SectionRule = (t, fail) => {
  for (const inline of ['ca', 'cert', 'key'] as const) {
    const file = `${inline}_file`;
    if (t[inline] === undefined || t[file] === undefined) continue;
    const expected = `${inline} (inline PEM) or ${file} (a file path), not both`;
    fail(
      [inline],
      `is given with ${file}: give one of the two (with both, this inline PEM was used and ${file} ignored)`,
      expected,
    );
    fail(
      [file],
      `is given with ${inline}: give one of the two (with both, this file was read and then ignored for the inline ${inline})`,
      expected,
    );
  }
};

const tlsOptions = section(
  {
    /** PEM CA bundle to trust instead of the system store. */
    ca: v.optional(text),
    /** PEM client certificate (mutual TLS). */
    cert: v.optional(text),
    /** PEM client key (mutual TLS). */
    key: v.optional(text),
    /** SNI / certificate host name. */
    server_name: v.optional(hostName('a host name without spaces')),
    /** Default true; false accepts any certificate (testing only). */
    reject_unauthorized: v.optional(flag),
    /** Files read once at startup: CA, client certificate and key (mutual TLS); see ./tls.ts. */
    ca_file: clientTlsFields.ca_file,
    cert_file: clientTlsFields.cert_file,
    key_file: clientTlsFields.key_file,
    key_passphrase: clientTlsFields.key_passphrase,
  },
  'TLS settings',
  [certWithKey, onePemSource, inlinePem],
);

const TLS_PHRASE =
  'true, false, or a mapping of TLS settings (keys: ca, cert, key, server_name, reject_unauthorized)';

/** What `db` accepts: below the server's `databases` (16 unless set). */
const DB_PHRASE = 'a whole number from 0 to 15, or up to `databases` − 1 when that is set';
const addresses = listOf(hostPort, 'a non-empty list of addresses "host:port"');

const rules: SectionRule[] = [
  // The factory bounds every command by command_timeout, else by the larger of read_timeout and
  // write_timeout (each 3 s by default), and only that bound must be at least 10 ms. Requiring
  // each of read/write to be ≥ 10 ms refused `read_timeout: 5` that createRedisCache accepts.
  (s, fail) => {
    if (s.command_timeout !== undefined) return;
    // A value refused by its own field (text, NaN) is reported there, not again here.
    const bad = (k: string) => s[k] !== undefined && !(typeof s[k] === 'number' && Number.isFinite(s[k]));
    if (bad('read_timeout') || bad('write_timeout')) return;
    const given = (k: string) => (s[k] as number | undefined) ?? DEFAULT_TIMEOUT;
    const read = given('read_timeout');
    const write = given('write_timeout');
    if (Math.max(read, write) >= MIN_COMMAND_TIMEOUT_MS) return;
    fail(
      [read >= write ? 'read_timeout' : 'write_timeout'],
      `is too small: the larger of read_timeout and write_timeout bounds every command and must be at least ${MIN_COMMAND_TIMEOUT_MS} ms (writes carry a server-side deadline at least 5 ms before it, so a shorter one would refuse every write)`,
      `a duration of at least ${MIN_COMMAND_TIMEOUT_MS} ms for the larger of read_timeout and write_timeout`,
    );
  },
  (s, fail) => {
    // As createRedisCache (lib/cache/redis/options.ts): a wrong answer while slots migrate.
    if (s.mode === 'cluster' && s.auto_pipelining === true)
      fail(
        ['auto_pipelining'],
        "must be false in cluster mode: iovalkey's auto-pipelining reads keys of a slot being " +
          'migrated (resharding) as misses',
        'false',
      );
  },
  (s, fail) => {
    if (typeof s.pool_size === 'number' && s.pool_size !== 1) {
      fail(
        ['pool_size'],
        'must be 1: iovalkey multiplexes every command over one connection per node and extra ' +
          'connections measured slower; use auto_pipelining for throughput under concurrency',
        '1',
      );
    }
  },
  (s, fail) => {
    const sentinel = s.sentinel as { master_name?: unknown } | undefined;
    if (s.mode === 'sentinel' && (typeof sentinel !== 'object' || sentinel?.master_name === undefined)) {
      fail(['sentinel', 'master_name'], 'is required in sentinel mode', 'the name of the monitored master');
    }
  },
  (s, fail) => {
    // Without `mode` the cache is standalone and a `sentinel:`/`cluster:` section is ignored: the
    // cache would connect to `addresses` (by default 127.0.0.1:6379) instead of the sentinels.
    // With `mode` written out (as in the original plan's example, which lists both sections
    // under `mode: standalone`) the other sections are allowed.
    if (s.mode !== undefined) return;
    const given = (['sentinel', 'cluster'] as const).filter(
      (k) => typeof s[k] === 'object' && s[k] !== null && !Array.isArray(s[k]),
    );
    if (given.length > 0) {
      fail(
        ['mode'],
        `is required with a ${given.join(' and a ')} section (without it the cache is standalone and the section is ignored)`,
        `mode: ${given[0]}, or mode: standalone to leave the section unused`,
      );
    }
  },
  (s, fail) => {
    if (s.mode === 'cluster' && typeof s.db === 'number' && s.db !== 0) {
      fail(['db'], 'must be 0 in cluster mode (Redis Cluster has a single database)', '0');
    }
  },
  (s, fail) => {
    const databases = typeof s.databases === 'number' && Number.isInteger(s.databases) ? s.databases : 16;
    if (s.mode !== 'cluster' && typeof s.db === 'number' && Number.isInteger(s.db) && s.db >= databases) {
      fail(
        ['db'],
        `is too large: the server has ${databases} databases${s.databases === undefined ? ' (set `databases` if it has more)' : ''}`,
        `a whole number from 0 to ${databases - 1}`,
      );
    }
  },
  (s, fail) => {
    if ((s.mode ?? 'standalone') === 'standalone' && Array.isArray(s.addresses) && s.addresses.length > 1) {
      fail(
        ['addresses'],
        'has several addresses in standalone mode (use mode: cluster or sentinel for several)',
        'exactly one address in standalone mode',
      );
    }
  },
];

export const redisSection = section(
  {
    type: v.literal('redis', '"redis"'),
    /** Default standalone. */
    mode: v.optional(oneOf(['standalone', 'cluster', 'sentinel'])),
    /** Server (standalone), seed nodes (cluster) or sentinels (sentinel, when sentinel_addresses is absent). */
    addresses: v.optional(addresses),
    /** Empty string = no password (as in the original example). */
    password: v.optional(text),
    username: v.optional(text),
    /**
     * Database index, 0 to databases − 1. Default 0. The check against `databases` is the
     * cross-field one above; the phrase says so: a `db` of the wrong type was told "0 to
     * 2,147,483,646", where anything past 15 is refused unless `databases` says more.
     */
    db: v.optional(intIn(0, 2 ** 31 - 2, DB_PHRASE)),
    /** The server's number of databases (its `databases` setting), bounding `db`. Default 16. */
    databases: v.optional(intIn(1, 2 ** 31 - 1)),
    /** Only 1 is accepted: iovalkey multiplexes one connection per node; more measured slower. */
    pool_size: v.optional(v.number('1')),
    /** 1 = connect at start (default), 0 = connect on first use. */
    min_idle_conns: v.optional(intIn(0, 1, '0 or 1 (at most pool_size)')),
    /** TCP connect timeout, above 0 and up to 2^31 − 1 ms. Default 5s. */
    dial_timeout: timeout,
    /**
     * Per-command reply bound (the larger of read/write timeout applies, and must be at least
     * 10 ms: the rule above). Each above 0 and up to 2^31 − 1 ms. Default 3s.
     */
    read_timeout: timeout,
    write_timeout: timeout,
    /** Overrides read/write timeouts when set. At least 10 ms, like read/write timeouts. */
    command_timeout: commandTimeout,
    cluster: v.optional(
      section(
        {
          /** Default 3. */
          max_redirects: v.optional(intIn(0, 100)),
          /** Read from replicas. Default false. */
          read_only: v.optional(flag),
        },
        'cluster settings',
      ),
    ),
    sentinel: v.optional(
      section(
        {
          master_name: v.optional(nonEmpty('a non-empty master name')),
          sentinel_addresses: v.optional(addresses),
          password: v.optional(text),
          /** ACL user of the sentinels themselves. */
          username: v.optional(text),
          /** TLS to the sentinels; default: the same as `tls`. */
          tls: v.optional(v.union([flag, tlsOptions], TLS_PHRASE)),
        },
        'sentinel settings',
      ),
    ),
    /** Prepended to every key; clear() only removes these. */
    key_prefix: v.optional(text),
    tls: v.optional(v.union([flag, tlsOptions], TLS_PHRASE)),
    /** TTL for set() without one, above 0 and up to 365 days. Default none. */
    default_ttl: v.optional(durationIn({ exclusive: true, max: MAX_TTL_MS })),
    /** iovalkey auto-pipelining. Default false. */
    auto_pipelining: v.optional(flag),
  },
  'Redis cache settings',
  rules,
);

export type RedisSection = v.InferOutput<typeof redisSection>;

/** The `tls` value: inline PEM fields, and the `*_file` fields read now (ConfigError naming a bad path). */
function redisTls(
  t: boolean | v.InferOutput<typeof tlsOptions>,
  field: string,
): RedisConnectionOptions['tls'] {
  if (typeof t === 'boolean') return t;
  return {
    ...clientTlsOptions(t, field),
    ...(t.ca !== undefined && { ca: t.ca }),
    ...(t.cert !== undefined && { cert: t.cert }),
    ...(t.key !== undefined && { key: t.key }),
  };
}

/**
 * Maps a validated `cache:` (type redis) section to `createRedisCache` options. `field` is the
 * section's path in the file, for messages about the files it names (`cache.l2` for a tiered L2).
 */
export function redisOptionsFromConfig(section: RedisSection, field = 'cache'): RedisConnectionOptions {
  givenSection(
    section,
    'redisOptionsFromConfig',
    field,
    'createAppFromConfig then builds no cache',
    sectionFields(redisSection),
    'redis',
  );
  const o: RedisConnectionOptions = {};
  if (section.mode !== undefined) o.mode = section.mode;
  if (section.addresses !== undefined) o.addresses = [...section.addresses];
  if (section.password) o.password = section.password;
  if (section.username) o.username = section.username;
  if (section.db !== undefined) o.db = section.db;
  if (section.databases !== undefined) o.databases = section.databases;
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
  }
  if (section.key_prefix !== undefined) o.keyPrefix = section.key_prefix;
  const sentinelTls = section.sentinel?.tls;
  readingAll([
    () => {
      if (section.tls !== undefined) o.tls = redisTls(section.tls, `${field}.tls`);
    },
    () => {
      if (sentinelTls !== undefined) o.sentinel!.tls = redisTls(sentinelTls, `${field}.sentinel.tls`);
    },
  ]);
  if (section.default_ttl !== undefined) o.defaultTtl = section.default_ttl;
  if (section.auto_pipelining !== undefined) o.autoPipelining = section.auto_pipelining;
  return o;
}
