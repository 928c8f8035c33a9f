/**
 * Builds and starts the demo services (their routes are the other files of this folder). Each one
 * is a `node:http` server around `createApp({ tracer, cache, metrics, logger })`:
 *
 *   gateway (8080)        L1 memory cache of user profiles; forwards to the two services
 *   user-service (8081)   users table, tiered cache (L1 memory → L2 Redis); calls order-service
 *   order-service (8082)  orders table, tiered cache; calls user-service to check a user exists
 *
 * `startServices()` runs all three in this process (the e2e test, the benchmark and `npm run demo`
 * use it); `startService()` runs one (the standalone programs of the compose stack use it).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createMemoryCache, type MemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisInvalidationBus, type RedisInvalidationBus } from '../../lib/cache/redis/bus.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../lib/cache/tiered/index.js';
import { type App, createApp } from '../../lib/core/app.js';
import type { Cache, Logger, LogLevel, Metrics } from '../../lib/core/contracts.js';
import { drainServer } from '../../lib/core/drain.js';
import { adaptLogger } from '../../lib/core/log-binding.js';
import { createConsoleLogger } from '../../lib/core/logger.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer, type OtelTracer } from '../../lib/tracing/otel/index.js';
import type { CacheLayers } from '../caching.js';
import {
  createDataAccess,
  type DataAccess,
  DatabaseUnavailableError,
  type Db,
  dbTimeoutFor,
  isDatabaseUnavailable,
  openDb,
  redactUrl,
} from '../db.js';
import { redisOptionsFromUrl } from '../env.js';
import {
  CALL_TIMEOUT,
  CLIENT_FETCH,
  checkContinue,
  createServiceListener,
  DEFAULT_CALL_TIMEOUT_MS,
  PEER_HEADER,
  type Route,
} from '../http.js';
import { hyperionInstrumentation, type Instrumentation } from '../instrumentation.js';
import { migrateOrders, migrateUsers } from '../schema.js';
import { gatewayRoutes } from './gateway.js';
import { orderRoutes } from './orders.js';
import { userRoutes } from './users.js';

export type ServiceName = 'gateway' | 'user-service' | 'order-service';

/** Longest time a client may take to send a request's headers, ms (then 408). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Longest time a client may take to send a whole request, body included, ms (then 408). */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Longest a service's stop takes, from the signal to the end of the tracer's final export, ms:
 * inside Docker's default 10 s grace (`docker compose stop`/`down` SIGKILLs after it), with room
 * for the exit. The final export gets what the drain left of it, at most
 * {@link FINAL_EXPORT_MAX_MS} and at least {@link FINAL_EXPORT_MIN_MS}.
 */
export const STOP_BUDGET_MS = 8500;
/** Most the tracer's final export may take at stop (a healthy collector takes milliseconds), ms. */
export const FINAL_EXPORT_MAX_MS = 3000;
/** Least it gets, even after a drain that used its whole grace period, ms. */
export const FINAL_EXPORT_MIN_MS = 500;

/** Default ports, as in the original plan. */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = {
  gateway: 8080,
  'user-service': 8081,
  'order-service': 8082,
};

/** How spans leave a service. */
export interface TracingSetup {
  /**
   * `memory`: kept in the process (the summary of `npm run demo` reads them); `otlp`: sent to
   * `endpoint` (Jaeger ≥ 1.35 takes OTLP on 4318); `console`: printed; `none`: nothing recorded,
   * trace context still propagated; `off`: the core no-op tracer (the benchmark's baseline).
   */
  exporter: 'memory' | 'otlp' | 'console' | 'none' | 'off';
  /** OTLP/HTTP traces URL or `host:port`. */
  endpoint?: string | undefined;
  /** Fraction of new traces sampled (0..1). Default 1. */
  sampleRate?: number | undefined;
}

/** Cache sizing and lifetimes. */
export interface CacheSetup {
  /** L1 capacity in entries (small on purpose: hot keys stay in L1, the rest are L2 hits). Default 32. */
  l1Entries?: number;
  /** Capacity of the in-memory stand-in for Redis when no `redisUrl` is given, entries. Default 100 000. */
  l2Entries?: number;
  /** Fresh lifetime of cached users and order lists, ms. Default 5 min. */
  ttlMs?: number;
  /** Longest an L1 copy is served before L2 is asked again, ms. Default 30 s. */
  l1TtlMs?: number;
  /** Lifetime of the gateway's cached user profiles, ms. Default 10 s. */
  gatewayTtlMs?: number;
  /** Bound of every L2 call, ms. Default 200. */
  l2TimeoutMs?: number;
}

export interface ServiceOptions {
  name: ServiceName;
  /** Port to listen on; 0 = any free port. */
  port: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string | undefined;
  /** When `port` is busy, listen on a free port instead of failing. Default false. */
  fallbackPort?: boolean;
  tracing: TracingSetup;
  /** `false`: metrics disabled (no /metrics, nothing recorded). Default true. */
  metrics?: boolean;
  /** A database to use (not closed by the service), e.g. one embedded pglite shared in-process. */
  db?: Db | undefined;
  /** Opened (and closed) by the service when `db` is not given; unset → embedded pglite. */
  databaseUrl?: string | undefined;
  /** Redis for L2 (and cross-instance invalidation); unset → a second in-memory cache. */
  redisUrl?: string | undefined;
  /** Base URLs of the other services, read on every call. */
  peers: { user: () => string; order: () => string };
  /** Logger, or the level of a JSON console logger to create. Default `info`. */
  logger?: Logger | LogLevel | undefined;
  cache?: CacheSetup | undefined;
  /** How long running requests may finish after a stop began, ms. Default 8000 (within the 10 s close budget). */
  drainGraceMs?: number | undefined;
  /** Bound of one call to another service, ms. Default 5000. */
  callTimeoutMs?: number | undefined;
  /**
   * Builds the service's instrumentation layer instead of Hyperion's (`tracing` and `metrics` are
   * then ignored): the demo benchmark's raw-SDK twin (demo/instrumentation.ts).
   */
  instrumentation?: ((name: ServiceName, logger: Logger) => Instrumentation) | undefined;
}

export interface ServiceHandle {
  readonly name: ServiceName;
  /** `http://host:port` (loopback host when bound to all interfaces). */
  readonly url: string;
  readonly port: number;
  /** True when the requested port was busy and a free one was used. */
  readonly fellBack: boolean;
  readonly app: App;
  /** The OpenTelemetry tracer (`undefined` with `exporter: 'off'` or another `instrumentation`). */
  readonly tracer: OtelTracer | undefined;
  readonly metrics: Metrics;
  readonly layers: CacheLayers;
  /** The tiered cache (user and order services). */
  readonly tiered: TieredCache | undefined;
  /** Traced database access (user and order services). */
  readonly data: DataAccess | undefined;
  readonly server: Server;
  /**
   * Drains the HTTP server (running requests finish, late ones get 503), then closes caches,
   * database, metrics and tracer. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * The tracer's close budget at stop, ms: what is left of {@link STOP_BUDGET_MS} since `stopBegan`
 * (the whole of it when the stop began elsewhere), within FINAL_EXPORT_MIN_MS..FINAL_EXPORT_MAX_MS.
 */
export function finalExportBudget(stopBegan: number | undefined, now: number): number {
  const left = stopBegan === undefined ? STOP_BUDGET_MS : STOP_BUDGET_MS - (now - stopBegan);
  return Math.round(Math.min(FINAL_EXPORT_MAX_MS, Math.max(FINAL_EXPORT_MIN_MS, left)));
}

function makeLogger(name: ServiceName, logger: ServiceOptions['logger']): Logger {
  if (logger !== undefined && typeof logger !== 'string') return adaptLogger(logger).child({ service: name });
  return createConsoleLogger({ level: logger ?? 'info', fields: { service: name } });
}

/** What the invalidation bus logs on every reconnect attempt of each of its two connections. */
const BUS_CONNECTION_ERROR = 'invalidation bus: connection error';

/**
 * `logger`, with the warning `message` written at most once per `quietMs`: the first, then one per
 * window carrying the count of those left out (`suppressed`), as the Redis cache reports its own
 * connection errors. The bus logs `message` on every reconnect attempt (its two connections, some
 * 5 lines a second per service while Redis is down); other records pass through unchanged.
 */
export function quietRepeats(logger: Logger, message: string, quietMs = 5000, now = Date.now): Logger {
  let last = -Infinity;
  let suppressed = 0;
  const wrap = (inner: Logger): Logger => ({
    debug: (m, f) => inner.debug(m, f),
    info: (m, f) => inner.info(m, f),
    error: (m, f) => inner.error(m, f),
    warn(m, f) {
      if (m !== message) return inner.warn(m, f);
      const t = now();
      if (t - last < quietMs) {
        suppressed++;
        return;
      }
      last = t;
      inner.warn(m, suppressed ? { ...f, suppressed } : f);
      suppressed = 0;
    },
    child: (fields) => wrap(inner.child(fields)),
    ...(inner.enabled ? { enabled: (level: LogLevel) => inner.enabled!(level) } : {}),
  });
  return wrap(logger);
}

const DEMO_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

function makeTracer(name: ServiceName, t: TracingSetup, logger: Logger): OtelTracer | undefined {
  if (t.exporter === 'off') return undefined;
  return createOtelTracer({
    serviceName: name,
    // service.instance.id is generated per process; the version is the package's.
    serviceVersion: DEMO_VERSION,
    exporter: t.exporter,
    endpoint: t.exporter === 'otlp' ? t.endpoint : undefined,
    // Unset: the tracer reads OTEL_TRACES_SAMPLER / _ARG (default: every trace, parent-based).
    sampleRate: t.sampleRate,
    attributes: { 'deployment.environment.name': 'demo', 'service.namespace': 'hyperion-demo' },
    // Short export delay: traces show up in Jaeger about a second after the request.
    batch: { scheduledDelayMillis: 1000 },
    logger,
  });
}

/**
 * A statement of the migration that PostgreSQL refused (a SQLSTATE such as 42501: since
 * PostgreSQL 15 a role has no right to create tables in `public` unless it owns the database; or
 * 42703: a table of that name with other columns is there already) as one line naming
 * DATABASE_URL and what to do; `npm run demo` printed it with a stack trace, the
 * standalone services as a bare "permission denied for schema public". Other errors as they are.
 */
function migrationError(db: Db, err: unknown): unknown {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (db.kind !== 'postgres' || !db.server || isDatabaseUnavailable(err)) return err;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return err;
  // What to do depends on the refusal: every one was told to grant CREATE, also a database that
  // already has an application's `users` or `orders` table (42703: column "name" of relation
  // "users" does not exist), where no grant helps.
  const denied = code === '42501';
  const advice = denied
    ? 'let its user create tables there (it owns the database, or GRANT CREATE ON SCHEMA public), '
    : code === '25006'
      ? 'the server takes no writes (a standby?): point it at the primary, '
      : /^(42|23)/.test(code)
        ? 'a table the demo uses (users, orders, order_events) is there already, with other columns or rows: give the demo a database of its own, '
        : '';
  return new DatabaseUnavailableError(
    `PostgreSQL at ${db.server.host.includes(':') ? `[${db.server.host}]` : db.server.host}:${db.server.port}/${db.database} (DATABASE_URL) ${denied ? 'refused to create' : 'could not set up'} the demo's tables: ` +
      `${(err as Error).message} (SQLSTATE ${code}); ${advice}` +
      'or fix DATABASE_URL, or unset it to use the embedded database',
    { cause: err },
  );
}

/** Listens on `port`, or on a free port when it is busy and `fallback` is set. */
function listen(
  server: Server,
  port: number,
  host: string,
  fallback: boolean,
): Promise<{ port: number; fellBack: boolean }> {
  const attempt = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(p, host);
    });
  return attempt(port).then(
    (p) => ({ port: p, fellBack: false }),
    (err: NodeJS.ErrnoException) => {
      if (!fallback || err.code !== 'EADDRINUSE' || port === 0) throw err;
      return attempt(0).then((p) => ({ port: p, fellBack: true }));
    },
  );
}

/** Builds one service, migrates its tables, and starts listening. */
export async function startService(options: ServiceOptions): Promise<ServiceHandle> {
  const { name } = options;
  const host = options.host ?? '127.0.0.1';
  const logger = makeLogger(name, options.logger);
  const c = options.cache ?? {};
  const ttlMs = c.ttlMs ?? 300_000;

  const tracer = options.instrumentation ? undefined : makeTracer(name, options.tracing, logger);
  const inst =
    options.instrumentation?.(name, logger) ??
    hyperionInstrumentation(
      tracer,
      createMetrics({
        enabled: options.metrics !== false,
        defaultLabels: { service: name },
        collectRuntime: true,
        logger,
      }),
    );
  const { metrics } = inst;

  // Everything opened from here on is closed if a later step fails.
  const opened: { close(): unknown }[] = [];
  for (const part of [inst.metrics, inst.tracer]) if (part?.close) opened.push(part as { close(): unknown });
  const abort = async (err: unknown): Promise<never> => {
    for (const o of opened.reverse()) await Promise.resolve(o.close()).catch(() => {});
    throw err;
  };

  let db: Db | undefined;
  let data: DataAccess | undefined;
  let tiered: TieredCache | undefined;
  let layers: CacheLayers;
  const l1: MemoryCache = createMemoryCache({ maxCost: c.l1Entries ?? 32, cost: () => 1 });
  opened.push(l1);
  try {
    if (name !== 'gateway') {
      db =
        options.db ??
        (await openDb(
          options.databaseUrl,
          (err) => logger.warn('database pool error', { error: err }),
          // Connect and statement timeouts below the call timeout: a database that hangs is a 503
          // from this service before its caller gives up with a 502.
          dbTimeoutFor(options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS),
          options.callTimeoutMs,
        ));
      if (!options.db) opened.push(db);
      const migrated = db;
      await (name === 'user-service' ? migrateUsers(db) : migrateOrders(db)).catch((err: unknown) => {
        throw migrationError(migrated, err);
      });
      data = createDataAccess(db);
      let l2: Cache;
      let bus: RedisInvalidationBus | undefined;
      if (options.redisUrl) {
        const redis = createRedisCache({
          ...redisOptionsFromUrl(options.redisUrl),
          keyPrefix: `hyperion-demo:${name}:`,
          name: 'redis',
          commandTimeout: c.l2TimeoutMs ?? 200,
          dialTimeout: 1000,
          logger,
        });
        l2 = redis;
        // Writes on one instance drop the key from the L1 of every other instance of this service.
        bus = createRedisInvalidationBus({
          client: redis.client,
          channel: `hyperion-demo:${name}:invalidate`,
          logger: quietRepeats(logger, BUS_CONNECTION_ERROR),
        });
      } else {
        l2 = createMemoryCache({ maxCost: c.l2Entries ?? 100_000, cost: () => 1 });
      }
      opened.push(l2 as { close(): unknown });
      if (bus) opened.push(bus);
      tiered = createTieredCache({
        l1,
        l2,
        bus,
        ttl: ttlMs,
        l1Ttl: c.l1TtlMs ?? 30_000,
        l2Timeout: c.l2TimeoutMs ?? 200,
        breaker: { failures: 3, cooldown: 2000 },
        jitter: 0.1,
        logger,
      });
      opened.push(tiered);
      // The bus subscription: wait for it a little, but a Redis that is down must not stop the start
      // (the bus subscribes by itself once Redis answers): a failed health check ends the wait (a
      // degraded one — Redis answers, but is out of memory or has no sentinel — does not).
      const redisHealth = options.redisUrl ? (l2 as ReturnType<typeof createRedisCache>).health() : undefined;
      await Promise.race([
        tiered.ready.catch((err: unknown) => {
          // Closed (the service stops) before Redis ever answered: the outage was reported by the
          // connection errors; the close itself is no failure.
          if ((err as { code?: unknown } | undefined)?.code === 'closed') return;
          logger.warn('invalidation bus not subscribed', { error: err });
        }),
        new Promise((r) => setTimeout(r, 3000).unref()),
        ...(redisHealth
          ? [redisHealth.then((h) => (h.ok || h.degraded ? new Promise(() => {}) : undefined))]
          : []),
      ]);
      layers = { cache: tiered, l1, l2 };
      inst.watchCache(l1, 'l1');
      inst.watchCache(l2, 'l2');
      inst.watchCache(tiered, 'tiered');
      const live = db;
      inst.watchDbConnections(() => live.connections());
    } else {
      layers = { cache: l1, l1 };
      inst.watchCache(l1, 'l1');
    }
  } catch (err) {
    return abort(err);
  }

  // When the stop began (the drain is the first step), for the final export's share of STOP_BUDGET_MS.
  let stopBegan: number | undefined;
  const app = createApp({
    tracer: inst.tracer,
    cache: layers.cache,
    metrics,
    logger,
    // Closed before the cache, metrics and tracer; a shared db (options.db) is its owner's to close.
    // The client fetch is how `callService` reaches the instrumentation layer (http.ts).
    components: {
      // Closed after the database (components close in reverse order), before the caches and
      // metrics: the tracer's final export, bounded by what the stop has left. createApp gives the
      // tracer its whole 10 s disposer budget, so with a collector down or frozen (SIGSTOP) the stop
      // took ~9 s after the drain (~11 s in all) and `docker compose stop` SIGKILLed the service
      // before it exited. The tracer's own disposer, later, joins this close.
      ...(tracer
        ? {
            tracerFinalExport: {
              close: () => tracer.close({ timeoutMs: finalExportBudget(stopBegan, performance.now()) }),
            },
          }
        : {}),
      [CLIENT_FETCH]: inst.fetch,
      ...(options.callTimeoutMs === undefined ? {} : { [CALL_TIMEOUT]: options.callTimeoutMs }),
      ...(db && !options.db ? { db } : {}),
    },
  });

  let routes: Route[];
  if (name === 'gateway')
    routes = gatewayRoutes({
      layers,
      userServiceUrl: options.peers.user,
      orderServiceUrl: options.peers.order,
      ttlMs: c.gatewayTtlMs ?? 10_000,
    });
  else if (name === 'user-service')
    routes = userRoutes({ data: data!, layers, metrics, orderServiceUrl: options.peers.order, ttlMs });
  else routes = orderRoutes({ data: data!, layers, metrics, userServiceUrl: options.peers.user, ttlMs });

  const pingDb = db?.ping;
  const server = createServer(
    {
      keepAliveTimeout: 5000,
      // Slow clients: a request's headers must arrive within 10 s and the whole request (a POST
      // body of at most 64 KB) within 30 s, else 408 and the connection closes; checked every
      // second. Node's defaults (60 s, 300 s, checked every 30 s) let a client that trickles or
      // sends nothing hold a connection, and a handler, for minutes.
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    createServiceListener({
      ctx: app.ctx,
      routes,
      edge: name === 'gateway',
      serve: inst.serve,
      scrape: inst.scrape,
      // A database that does not answer within 1 s is `down`: /healthz says `degraded`, /readyz 503.
      checks: pingDb ? async () => ({ database: (await pingDb(1000)) ? 'up' : 'down' }) : undefined,
      health: () => ({
        service: name,
        ...(db ? { database: db.kind } : {}),
        ...(tiered ? { l2: options.redisUrl ? 'redis' : 'memory', l2Breaker: tiered.breakerState() } : {}),
      }),
    }),
  );
  // A CONNECT request (a proxy tunnel: `curl -p -x` pointed at a service) never reaches the
  // request listener, and without a 'connect' listener node:http closes the connection with no
  // answer at all. These services are no proxy: say so.
  server.on('checkContinue', checkContinue);
  // The methods this service takes (the user service has no POST route: it used to say it had).
  const allow = [...new Set(['GET', 'HEAD', ...routes.map((r) => r.method)])].join(', ');
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {});
    const body = JSON.stringify({ error: 'method not allowed' });
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${allow}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });
  let bound: { port: number; fellBack: boolean };
  try {
    bound = await listen(server, options.port, host, options.fallbackPort ?? false);
  } catch (err) {
    await app.close().catch(() => {});
    return abort(err);
  }
  // Registered last, so it runs first: stop taking requests, let the running ones finish (503 for
  // late ones), and only then close the database, caches, metrics and tracer. Behind the gateway,
  // calls from the other services are still served while draining: they finish requests that were
  // already in flight at the gateway (all three stopping at once must not turn those into 503s).
  const drain = drainServer(server, {
    graceMs: options.drainGraceMs ?? 8000,
    logger,
    ...(name === 'gateway'
      ? {}
      : {
          admit: (req: IncomingMessage) => req.headers[PEER_HEADER] !== undefined,
          // Keep listening while peers still call (they may be slow to get there).
          quietMs: 2000,
        }),
  });
  app.defer('http', (info) => {
    stopBegan ??= performance.now();
    return drain(info);
  });

  // An IPv6 literal goes in brackets: `http://::1:8081` is no URL, and every call to it failed.
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${bound.port}`;
  logger.info('service started', {
    url,
    database: db
      ? db.kind === 'pglite'
        ? 'embedded pglite'
        : redactUrl(options.databaseUrl ?? '')
      : undefined,
    l2: tiered ? (options.redisUrl ? redactUrl(options.redisUrl) : 'in-memory') : undefined,
    tracing: options.tracing.exporter,
  });
  return {
    name,
    url,
    port: bound.port,
    fellBack: bound.fellBack,
    app,
    tracer,
    metrics,
    layers,
    tiered,
    data,
    server,
    close: () => app.close(),
  };
}

export interface StartServicesOptions {
  /** Ports; 0 = a free port. Default 8080 / 8081 / 8082. */
  ports?: { gateway?: number; user?: number; order?: number };
  /** Busy port → free port (and `fellBack` set on the handle). Default true. */
  fallbackPorts?: boolean;
  host?: string;
  /** PostgreSQL URL; unset → one embedded pglite shared by both services. */
  databaseUrl?: string | undefined;
  /** A database to use instead (its owner closes it); overrides `databaseUrl`. */
  db?: Db | undefined;
  /** Redis URL for the L2 of both services; unset → in-memory L2s. */
  redisUrl?: string | undefined;
  /** Default `{ exporter: 'memory' }`. */
  tracing?: TracingSetup;
  /** Default true. */
  metrics?: boolean;
  logger?: Logger | LogLevel;
  cache?: CacheSetup;
  /** Another instrumentation layer for all three (see `ServiceOptions.instrumentation`). */
  instrumentation?: ServiceOptions['instrumentation'];
}

export interface RunningServices {
  readonly gateway: ServiceHandle;
  readonly user: ServiceHandle;
  readonly order: ServiceHandle;
  /** All three, gateway first. */
  readonly all: readonly ServiceHandle[];
  /** The database both services use. */
  readonly db: Db;
  /** Closes the three services, then the database. Idempotent. */
  close(): Promise<void>;
}

/** Starts gateway, user and order services in this process. */
export async function startServices(options: StartServicesOptions = {}): Promise<RunningServices> {
  const tracing = options.tracing ?? { exporter: 'memory' };
  const ownsDb = options.db === undefined;
  const db = options.db ?? (await openDb(options.databaseUrl));
  const urls = { user: '', order: '' };
  const peers = { user: () => urls.user, order: () => urls.order };
  const common = {
    host: options.host,
    fallbackPort: options.fallbackPorts ?? true,
    tracing,
    metrics: options.metrics,
    db,
    redisUrl: options.redisUrl,
    peers,
    logger: options.logger,
    cache: options.cache,
    instrumentation: options.instrumentation,
  };
  const started: ServiceHandle[] = [];
  try {
    const user = await startService({ ...common, name: 'user-service', port: options.ports?.user ?? 8081 });
    started.push(user);
    urls.user = user.url;
    const order = await startService({
      ...common,
      name: 'order-service',
      port: options.ports?.order ?? 8082,
    });
    started.push(order);
    urls.order = order.url;
    const gateway = await startService({ ...common, name: 'gateway', port: options.ports?.gateway ?? 8080 });
    started.push(gateway);
    let closing: Promise<void> | undefined;
    return {
      gateway,
      user,
      order,
      all: [gateway, user, order],
      db,
      close() {
        closing ??= (async () => {
          const results = await Promise.allSettled([gateway.close(), user.close(), order.close()]);
          if (ownsDb) await db.close();
          const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed.length)
            throw new AggregateError(
              failed.map((f) => f.reason),
              'closing the demo services failed',
            );
        })();
        return closing;
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    if (ownsDb) await db.close().catch(() => {});
    throw err;
  }
}
