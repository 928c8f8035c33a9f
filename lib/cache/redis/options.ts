/** Options of `createRedisCache`, their defaults, and eager validation (one ConfigError listing every bad field). */
import type { ConnectionOptions } from 'node:tls';
import type { Cluster, Redis } from 'iovalkey';
import { ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import {
  MAX_TIMER_MS,
  MAX_TTL_MS,
  optionKeys,
  shownDuration,
  shownOptionValue,
  unknownKeyMessage,
  unknownOptionIssues,
} from '../../core/options.js';
import type { RedisConnectionOptions, RedisMode } from './connection-options.js';
import { resolveTls } from './tls.js';

export type { RedisConnectionOptions, RedisMode } from './connection-options.js';

export interface RedisCacheOptions extends RedisConnectionOptions {
  /**
   * A ready iovalkey `Redis` or `Cluster`. It connects with its own options: `db`, `password`,
   * `username`, `tls`, `sentinel.masterName`/`password`/`username`/`tls`/`sentinelAddresses`,
   * `cluster.readOnly`/`maxRedirects`, `autoPipelining`, `addresses`, `dialTimeout` and
   * `minIdleConns` beside it must be the client's own or absent (ConfigError); the cache does not quit it on `close()` unless
   * `ownClient` is true.
   */
  client?: Redis | Cluster | undefined;
}

export interface HostPort {
  host: string;
  port: number;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  mode: RedisMode;
  addresses: HostPort[];
  password: string | undefined;
  username: string | undefined;
  db: number;
  lazy: boolean;
  dialTimeout: number;
  commandTimeout: number;
  maxRedirects: number;
  readOnly: boolean;
  masterName: string | undefined;
  sentinelAddresses: HostPort[];
  sentinelPassword: string | undefined;
  sentinelUsername: string | undefined;
  sentinelTls: ConnectionOptions | undefined;
  keyPrefix: string;
  tls: ConnectionOptions | undefined;
  defaultTtl: number | undefined;
  loadTimeout: number;
  autoPipelining: boolean;
  name: string;
}

/** Default read/write timeout (ms); the config's cross-field rule uses it too. */
export const DEFAULT_TIMEOUT = 3000;

const KNOWN = optionKeys<RedisCacheOptions>({
  mode: true,
  addresses: true,
  password: true,
  username: true,
  db: true,
  databases: true,
  poolSize: true,
  minIdleConns: true,
  dialTimeout: true,
  readTimeout: true,
  writeTimeout: true,
  commandTimeout: true,
  cluster: true,
  sentinel: true,
  keyPrefix: true,
  tls: true,
  defaultTtl: true,
  loadTimeout: true,
  autoPipelining: true,
  client: true,
  ownClient: true,
  logger: true,
  name: true,
});
const NESTED = {
  cluster: optionKeys<NonNullable<RedisCacheOptions['cluster']>>({ maxRedirects: true, readOnly: true }),
  sentinel: optionKeys<NonNullable<RedisCacheOptions['sentinel']>>({
    masterName: true,
    sentinelAddresses: true,
    password: true,
    username: true,
    tls: true,
  }),
};

/** Parses `host:port` / `[v6]:port`; `undefined` when malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

/** Records one bad field. */
/** `received`: what the issue shows of the value (its type when not given: it may be a secret). */
type Bad = (path: string, expected: string, value: unknown, message: string, received?: string) => void;

/** `String.prototype.isWellFormed` (Node 20+; its type is in the ES2024 lib, newer than ours). */
type WellFormed = string & { isWellFormed(): boolean };

export function resolveOptions(options: RedisCacheOptions): ResolvedOptions {
  // An array too (the address list passed as the options, `createRedisCache(['10.0.0.5:6379'])`):
  // it has no option keys, so the cache was made with every default and went to 127.0.0.1:6379.
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError('invalid redis cache options', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'not an object' },
    ]);
  }
  const issues: ConfigIssue[] = unknownOptionIssues(options, KNOWN, NESTED);
  const bad: Bad = (path, expected, value, message, received = typeName(value)) =>
    issues.push({ path, expected, received, message });
  // Checked in this order, so that the issues are listed in the order of the options above.
  const { mode, addresses, sentinelAddresses } = topology(options, bad);
  strings(options, bad);
  const { db, minIdle } = connections(options, mode, bad);
  const { dialTimeout, commandTimeout, defaultTtl, loadTimeout } = timeouts(options, bad);
  const { maxRedirects, readOnly, masterName, tls, sentinelTls } = modeOptions(options, mode, bad);
  if (options.autoPipelining !== undefined && typeof options.autoPipelining !== 'boolean') {
    bad('autoPipelining', 'a boolean', options.autoPipelining, 'must be a boolean');
  }
  // iovalkey builds auto-pipelines of its own, and one answered in part with ASK (a slot being
  // migrated: resharding, a master added or removed) is re-sent whole to the import target, which
  // answers the keys not moved yet as misses: a `get` gave `undefined` for a key holding a value
  // (found by a live migration under load). The cache's own batches are guarded (batch.ts); those
  // cannot be, so the option is refused on a cluster, for an injected client too.
  const injectedAuto = (options.client?.options as { enableAutoPipelining?: unknown } | undefined)
    ?.enableAutoPipelining;
  if (mode === 'cluster' && (options.autoPipelining === true || injectedAuto === true))
    bad(
      options.autoPipelining === true ? 'autoPipelining' : 'client',
      options.autoPipelining === true ? 'false in cluster mode' : 'a Cluster without enableAutoPipelining',
      true,
      "iovalkey's auto-pipelining reads keys of a slot being migrated (resharding) as misses; " +
        'getMany and pipeline() batch commands safely on a cluster',
    );
  // `ownClient: 'yes'` was read as false (the client left open after close(), keeping the process
  // alive), and a logger without `warn` ({} or a logger factory) crashed the process with an
  // uncaught TypeError at the first connection error, long after creation.
  if (options.ownClient !== undefined && typeof options.ownClient !== 'boolean')
    bad('ownClient', 'a boolean', options.ownClient, 'must be a boolean');
  const logger: unknown = options.logger;
  if (logger !== undefined && logger !== null && typeof (logger as { warn?: unknown }).warn !== 'function')
    bad('logger', 'a Logger (an object with a warn method)', logger, 'has no warn method');
  if (issues.length > 0) throw new ConfigError('invalid redis cache options', issues);
  return {
    mode,
    addresses,
    password: options.password,
    username: options.username,
    db,
    lazy: minIdle === 0,
    dialTimeout,
    commandTimeout,
    maxRedirects,
    readOnly,
    masterName,
    sentinelAddresses,
    sentinelPassword: options.sentinel?.password,
    sentinelUsername: options.sentinel?.username,
    sentinelTls,
    keyPrefix: options.keyPrefix ?? '',
    tls,
    defaultTtl,
    loadTimeout,
    autoPipelining: options.autoPipelining ?? false,
    name: options.name ?? 'redis',
  };
}

/** `mode`, an injected `client` that fits it, and the addresses. */
function topology(options: RedisCacheOptions, bad: Bad) {
  // Something that is not an iovalkey client (`null`, `{}`, a URL string) threw a bare TypeError
  // below (reading `isCluster`/`options.keyPrefix`) instead of the ConfigError this factory promises.
  const given: unknown = options.client;
  const isClient =
    typeof given === 'object' &&
    given !== null &&
    typeof (given as { options?: unknown }).options === 'object' &&
    (given as { options?: unknown }).options !== null;
  if (given !== undefined && !isClient)
    bad('client', 'an iovalkey Redis or Cluster client (or none)', given, 'not an iovalkey client');
  const injected = isClient ? options.client : undefined;
  // The mode follows an injected client, as it connects: a Redis client made with `sentinels` is a
  // sentinel client. Without `mode` it was taken as standalone, so `health()` said `standalone`
  // and never asked the sentinels (all of them down — no failover possible — still read ok).
  const clientMode = injected === undefined ? undefined : injectedMode(injected);
  const mode: RedisMode = options.mode ?? clientMode ?? 'standalone';
  if (!MODES.includes(mode)) {
    // As the config says it (`mode: Sentinel`: "did you mean `sentinel`?"); "unknown mode … received
    // string" named neither the value nor the likely fix.
    bad(
      'mode',
      "'standalone' | 'cluster' | 'sentinel'",
      options.mode,
      typeof mode === 'string' ? unknownKeyMessage(mode, MODES, 'mode') : 'unknown mode',
    );
  } else if (clientMode !== undefined && clientMode !== mode) {
    // `mode: 'sentinel'` over a client of one server was taken too: health() said `sentinel`
    // while no sentinel stood behind the client.
    bad(
      'client',
      `${CLIENT_OF[mode]} for mode ${mode}, or no mode (it follows the client)`,
      injected,
      `client does not match mode: it is ${CLIENT_OF[clientMode]}, so its mode is ${clientMode}`,
    );
  }
  // As the config's `cache:` section (lib/config/sections/redis.ts): without `mode` (and without
  // a client to take it from) the cache is standalone and a `sentinel`/`cluster` section is
  // ignored — `{ sentinel: { masterName, sentinelAddresses } }` went to 127.0.0.1:6379, and with
  // `addresses` naming a sentinel it sent GET and SET to the sentinel itself (`backend`, "ERR
  // unknown command 'get'").
  if (options.mode === undefined && injected === undefined) {
    const sections = (['sentinel', 'cluster'] as const).filter((k) => {
      const v: unknown = options[k];
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    });
    if (sections.length > 0)
      bad(
        'mode',
        `mode: '${sections[0]}', or mode: 'standalone' to leave the section unused`,
        undefined,
        `is required with a ${sections.join(' and a ')} section (without it the cache is standalone and the section is ignored)`,
      );
  }
  if (injected !== undefined && (injected.options as { keyPrefix?: string }).keyPrefix) {
    bad('client', 'a client without its own keyPrefix', injected, 'use the cache option keyPrefix instead');
  }
  // An injected client connects with its own options: these build only the cache's own client,
  // so beside `client` a value other than the client's own was ignored without a word — `db: 3`
  // over a client in db 0 wrote there, and its clear() (no keyPrefix: the whole db) emptied db 0;
  // `tls: true` over a plain client sent everything in clear text. The same value as the client's
  // (options shared with the cache that built it) changes nothing and is taken.
  // So are the options of the client itself: `cluster.readOnly: true` beside a Cluster reading
  // from its masters left every read on the masters, `cluster.maxRedirects` kept the client's
  // own, and the sentinels' password, user and TLS were the client's.
  if (injected !== undefined) {
    const top = injected.options as Record<string, unknown>;
    const own = ((injected.isCluster ? top.redisOptions : top) ?? {}) as Record<string, unknown>;
    const orNone = (v: unknown) => (v === '' || v === null ? undefined : v);
    const sentinel = options.sentinel;
    const conflicts: [key: string, given: unknown, differs: boolean][] = [
      ['db', options.db, options.db !== (own.db ?? 0)],
      ['password', options.password, orNone(options.password) !== orNone(own.password)],
      ['username', options.username, orNone(options.username) !== orNone(own.username)],
      ['tls', options.tls, Boolean(options.tls) !== Boolean(own.tls)],
      ['sentinel.masterName', sentinel?.masterName, sentinel?.masterName !== own.name],
      ['sentinel.password', sentinel?.password, orNone(sentinel?.password) !== orNone(own.sentinelPassword)],
      ['sentinel.username', sentinel?.username, orNone(sentinel?.username) !== orNone(own.sentinelUsername)],
      ['sentinel.tls', sentinel?.tls, Boolean(sentinel?.tls) !== Boolean(own.sentinelTLS)],
      // A Cluster reads from replicas unless its `scaleReads` is 'master' (iovalkey's default).
      [
        'cluster.readOnly',
        options.cluster?.readOnly,
        options.cluster?.readOnly !==
          (injected.isCluster === true && (top.scaleReads ?? 'master') !== 'master'),
      ],
      [
        'cluster.maxRedirects',
        options.cluster?.maxRedirects,
        options.cluster?.maxRedirects !== top.maxRedirections,
      ],
      // A cluster client's is refused above whatever its value.
      [
        'autoPipelining',
        injected.isCluster ? undefined : options.autoPipelining,
        Boolean(options.autoPipelining) !== Boolean(top.enableAutoPipelining),
      ],
      // The client's connect timeout (iovalkey's default 10 s; a cache's client has its dialTimeout).
      [
        'dialTimeout',
        typeof options.dialTimeout === 'number' ? options.dialTimeout : undefined,
        options.dialTimeout !== (own.connectTimeout ?? IOVALKEY_CONNECT_TIMEOUT),
      ],
      // 0 connects on the first command, 1 at creation: the client's `lazyConnect` (a client a
      // cache built is lazy until that cache connects it, so its own setting is recorded).
      [
        'minIdleConns',
        options.minIdleConns === 0 || options.minIdleConns === 1 ? options.minIdleConns : undefined,
        (options.minIdleConns === 0) !== (builtLazy.get(injected) ?? top.lazyConnect === true),
      ],
    ];
    // iovalkey's name of an option, where it differs from the cache's.
    const clientName: Record<string, string> = {
      'sentinel.masterName': 'name',
      'sentinel.password': 'sentinelPassword',
      'sentinel.username': 'sentinelUsername',
      'sentinel.tls': 'sentinelTLS',
      'cluster.readOnly': 'scaleReads',
      'cluster.maxRedirects': 'maxRedirections',
      autoPipelining: 'enableAutoPipelining',
      dialTimeout: injected.isCluster ? 'redisOptions.connectTimeout' : 'connectTimeout',
      minIdleConns: 'lazyConnect, true for 0',
    };
    for (const [key, given, differs] of conflicts) {
      if (given !== undefined && differs)
        bad(
          key,
          `the injected client's own ${key}, or none (set it on the client${clientName[key] ? `: ${clientName[key]}` : ''})`,
          given,
          'differs from the injected client, which connects with its own options: it would not be used',
        );
    }
  }

  const addresses = hostPorts(
    'addresses',
    options.addresses ?? [mode === 'sentinel' ? '127.0.0.1:26379' : '127.0.0.1:6379'],
    bad,
  );
  if (mode === 'standalone' && addresses.length > 1) {
    bad('addresses', 'exactly one address in standalone mode', options.addresses, 'several addresses given');
  }
  const sentinelAddresses =
    options.sentinel?.sentinelAddresses === undefined
      ? addresses
      : hostPorts('sentinel.sentinelAddresses', options.sentinel.sentinelAddresses, bad);
  // Likewise the addresses: the client connects where it was told (its host and port, a
  // Cluster's startup nodes, a sentinel client's sentinels), so `addresses` naming another server
  // beside it was ignored without a word — the cache read and wrote, and its clear() emptied, the
  // client's server while its options said another.
  if (injected !== undefined) {
    const [path, given, parsed] =
      options.sentinel?.sentinelAddresses !== undefined
        ? ['sentinel.sentinelAddresses', options.sentinel.sentinelAddresses, sentinelAddresses]
        : ['addresses', options.addresses, addresses];
    const theirs = clientAddresses(injected);
    if (
      given !== undefined &&
      Array.isArray(given) &&
      parsed.length === given.length &&
      (theirs.list === undefined || !sameAddresses(parsed, theirs.list))
    )
      bad(
        path,
        `the injected client's own addresses (${theirs.what}), or none: set them on the client`,
        given,
        'differs from the injected client, which connects with its own options: it would not be used',
      );
  }
  return { mode, addresses, sentinelAddresses };
}

const MODES: readonly RedisMode[] = ['standalone', 'cluster', 'sentinel'];

/** What kind of iovalkey client each mode takes, in words. */
const CLIENT_OF: Record<RedisMode, string> = {
  standalone: 'a Redis client of one server (no sentinels)',
  sentinel: 'a Redis client made with sentinels',
  cluster: 'a Cluster client',
};

/** The mode an injected client connects in: a Cluster, a Redis client with sentinels, or one server. */
function injectedMode(client: Redis | Cluster): RedisMode {
  if (client.isCluster) return 'cluster';
  const sentinels = (client.options as { sentinels?: unknown }).sentinels;
  return Array.isArray(sentinels) && sentinels.length > 0 ? 'sentinel' : 'standalone';
}

/** iovalkey's default connect timeout (ms), which a client made without `connectTimeout` has. */
const IOVALKEY_CONNECT_TIMEOUT = 10_000;

/**
 * Whether each client the cache built connects only on its first command (`minIdleConns: 0`): its
 * iovalkey options always say `lazyConnect` (the cache connects it itself, once set up).
 */
const builtLazy = new WeakMap<object, boolean>();

/** Records how a client the cache built connects, for a cache given that client later. */
export function recordBuiltClient(client: Redis | Cluster, lazy: boolean): void {
  builtLazy.set(client, lazy);
}

/**
 * Where an injected client connects: a Cluster's startup nodes, a sentinel client's sentinels, else
 * its host and port, with iovalkey's defaults; `undefined` for a unix socket or a startup node
 * this cannot read.
 */
function clientAddresses(client: Redis | Cluster): { list: HostPort[] | undefined; what: string } {
  const o = client.options as Record<string, unknown>;
  const node = (n: unknown, defaultHost: string, defaultPort: number): HostPort | undefined => {
    if (typeof n === 'number') return { host: defaultHost, port: n };
    if (typeof n === 'string')
      return parseHostPort(n.replace(/^rediss?:\/\/(?:[^@/]*@)?/i, '').replace(/\/.*$/, ''));
    if (typeof n !== 'object' || n === null) return undefined;
    const { host, port } = n as { host?: unknown; port?: unknown };
    return {
      host: typeof host === 'string' && host !== '' ? host : defaultHost,
      port: typeof port === 'number' && port !== 0 ? port : Number(port) || defaultPort,
    };
  };
  const all = (nodes: unknown, defaultHost: string, defaultPort: number) => {
    if (!Array.isArray(nodes)) return undefined;
    const list = nodes.map((n) => node(n, defaultHost, defaultPort));
    return list.every((n) => n !== undefined) ? (list as HostPort[]) : undefined;
  };
  if (client.isCluster) {
    // iovalkey keeps the nodes the Cluster was made with as given (not typed API).
    const list = all((client as unknown as { startupNodes?: unknown }).startupNodes, '127.0.0.1', 6379);
    return { list, what: 'its startup nodes' };
  }
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0)
    return { list: all(o.sentinels, '127.0.0.1', 26379), what: 'its sentinels' };
  if (typeof o.path === 'string' && o.path !== '') return { list: undefined, what: 'a unix socket' };
  const one = node({ host: o.host, port: o.port }, 'localhost', 6379);
  return { list: one && [one], what: 'its host and port' };
}

/** The same set of servers: host names compared without case, `localhost` as a loopback address. */
function sameAddresses(a: readonly HostPort[], b: readonly HostPort[]): boolean {
  const loopback = new Set(['localhost', '127.0.0.1', '::1']);
  const host = (h: string) => {
    const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
    return loopback.has(bare.toLowerCase()) ? 'loopback' : bare.toLowerCase();
  };
  const key = (n: HostPort) => `${host(n.host)}|${n.port}`;
  const mine = new Set(a.map(key));
  const theirs = new Set(b.map(key));
  return mine.size === theirs.size && [...mine].every((k) => theirs.has(k));
}

function strings(options: RedisCacheOptions, bad: Bad): void {
  const optString = (path: string, v: unknown) => {
    if (v !== undefined && typeof v !== 'string') bad(path, 'a string', v, 'must be a string');
  };
  optString('password', options.password);
  optString('username', options.username);
  optString('keyPrefix', options.keyPrefix);
  // As for keys (core/validate.ts): a lone surrogate is sent as U+FFFD, so 'a\uD800:' and
  // 'a\uDBFF:' were one namespace on the server — one cache's clear() removed the other's keys.
  if (typeof options.keyPrefix === 'string' && !(options.keyPrefix as WellFormed).isWellFormed())
    bad(
      'keyPrefix',
      'well-formed UTF-16',
      options.keyPrefix,
      'has a lone surrogate, which Redis would receive as U+FFFD: two such prefixes would share one namespace',
    );
  optString('name', options.name);
  optString('sentinel.password', options.sentinel?.password);
  optString('sentinel.username', options.sentinel?.username);
  optString('sentinel.masterName', options.sentinel?.masterName);
}

function connections(options: RedisCacheOptions, mode: RedisMode, bad: Bad) {
  const databases = intIn('databases', options.databases, 1, 2 ** 31 - 1, 16, bad);
  const db = intIn('db', options.db, 0, databases - 1, 0, bad);
  if (mode === 'cluster' && db !== 0)
    bad('db', '0 in cluster mode', options.db, 'Redis Cluster has only db 0');
  if (options.poolSize !== undefined && options.poolSize !== 1) {
    bad(
      'poolSize',
      '1',
      options.poolSize,
      'iovalkey multiplexes all commands over one connection per node; extra connections measured slower ' +
        '(see lib/cache/redis/README.md, "What pool_size means"); use autoPipelining for throughput under concurrency',
    );
  }
  const minIdle = intIn('minIdleConns', options.minIdleConns, 0, 1, 1, bad);
  return { db, minIdle };
}

/**
 * Shortest command timeout accepted (ms). Every write and delete carries a server-side deadline
 * (./deadline.ts) a safety margin of at least 5 ms (and the clock measurement's error, ≥ 1 ms)
 * before the timeout runs out: with a command timeout of 6 ms or less that deadline lies before
 * the call itself, so every write was refused ("reached Redis after its deadline") however fast
 * the server answered — a cache that could never store anything.
 */
export const MIN_COMMAND_TIMEOUT_MS = 10;

function timeouts(options: RedisCacheOptions, bad: Bad) {
  const dialTimeout = ms('dialTimeout', options.dialTimeout, bad) ?? 5000;
  const read = ms('readTimeout', options.readTimeout, bad);
  const write = ms('writeTimeout', options.writeTimeout, bad);
  const explicit = ms('commandTimeout', options.commandTimeout, bad);
  const commandTimeout = explicit ?? Math.max(read ?? DEFAULT_TIMEOUT, write ?? DEFAULT_TIMEOUT);
  if (commandTimeout < MIN_COMMAND_TIMEOUT_MS) {
    const path =
      explicit !== undefined
        ? 'commandTimeout'
        : (read ?? DEFAULT_TIMEOUT) >= (write ?? DEFAULT_TIMEOUT)
          ? 'readTimeout'
          : 'writeTimeout';
    bad(
      path,
      `at least ${MIN_COMMAND_TIMEOUT_MS} ms`,
      commandTimeout,
      `the command timeout must be at least ${MIN_COMMAND_TIMEOUT_MS} ms: writes carry a server-side deadline at least 5 ms before it, so a shorter one would refuse every write`,
    );
  }
  const defaultTtl = ms('defaultTtl', options.defaultTtl, bad, MAX_TTL_MS);
  const loadTimeout =
    options.loadTimeout === Number.POSITIVE_INFINITY
      ? options.loadTimeout
      : (ms('loadTimeout', options.loadTimeout, bad) ?? Number.POSITIVE_INFINITY);
  return { dialTimeout, commandTimeout, defaultTtl, loadTimeout };
}

/** The cluster and sentinel sections, and TLS. */
function modeOptions(options: RedisCacheOptions, mode: RedisMode, bad: Bad) {
  // A section that is not a mapping (`sentinel: 5`) was ignored without a word.
  for (const section of ['cluster', 'sentinel'] as const) {
    const v: unknown = options[section];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v)))
      bad(section, 'an options object', v, 'must be an object');
  }
  const maxRedirects = intIn('cluster.maxRedirects', options.cluster?.maxRedirects, 0, 100, 3, bad);
  const readOnly = options.cluster?.readOnly ?? false;
  if (typeof readOnly !== 'boolean') bad('cluster.readOnly', 'a boolean', readOnly, 'must be a boolean');

  const masterName = options.sentinel?.masterName;
  if (mode === 'sentinel' && !options.client && !masterName) {
    bad('sentinel.masterName', 'the monitored master name', masterName, 'required in sentinel mode');
  }

  const tls = resolveTls('tls', options.tls, bad);
  const sentinelTls =
    options.sentinel?.tls === undefined ? tls : resolveTls('sentinel.tls', options.sentinel.tls, bad);
  return { maxRedirects, readOnly, masterName, tls, sentinelTls };
}

function intIn(path: string, v: unknown, min: number, max: number, fallback: number, bad: Bad): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    // The value refused (`db: -1` was "received number" against "an integer in 0..15").
    bad(path, `an integer in ${min}..${max}`, v, 'out of range', shownOptionValue(v));
    return fallback;
  }
  return v;
}

/** A duration in ms (at most `max`: timers stop at 2^31 − 1 ms), or `undefined` when absent or bad. */
function ms(path: string, v: unknown, bad: Bad, max = MAX_TIMER_MS): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
    bad(path, `a number of milliseconds > 0 and ≤ ${max}`, v, 'invalid duration', shownDuration(v));
    return undefined;
  }
  return v;
}

function hostPorts(path: string, list: unknown, bad: Bad): HostPort[] {
  if (!Array.isArray(list) || list.length === 0) {
    bad(path, 'a non-empty list of "host:port"', list, 'no addresses');
    return [];
  }
  const out: HostPort[] = [];
  list.forEach((item: unknown, i) => {
    const hp = typeof item === 'string' ? parseHostPort(item) : undefined;
    if (hp) out.push(hp);
    else
      bad(
        `${path}.${i}`,
        'an address "host:port" with a port from 1 to 65535 (IPv6 in brackets: "[::1]:6379")',
        item,
        addressProblem(item),
      );
  });
  return out;
}

/**
 * What is wrong with an address, in words to act on: "malformed address" alone left a user with
 * `host:99999`, `::1:6379` or `redis://…` guessing. Never echoes the text (a URL may hold a password).
 */
function addressProblem(item: unknown): string {
  if (typeof item !== 'string') return 'malformed address';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item))
    return 'malformed address: a URL where "host:port" is expected (give a password as the password option)';
  const port = /:(\d+)$/.exec(item)?.[1];
  const host = port === undefined ? item : item.slice(0, -port.length - 1);
  const bracketed = host.startsWith('[') && host.endsWith(']');
  if (!bracketed && (port === undefined ? host.split(':').length > 2 : host.includes(':')))
    return 'malformed address: an IPv6 address goes in brackets, as in "[::1]:6379"';
  if (port === undefined) return 'malformed address: no port number ("host:port")';
  if (Number(port) < 1 || Number(port) > 65535)
    return `malformed address: port ${port.length > 6 ? `${port.slice(0, 6)}…` : port} is outside 1–65535`;
  return 'malformed address';
}
