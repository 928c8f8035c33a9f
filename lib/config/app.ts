/**
 * Builds an app from a validated config in one call. Adapters are imported on demand, so a config
 * without `tracing:` never loads OpenTelemetry, one without a Redis cache never loads iovalkey
 * (the type-only imports below vanish from the compiled code).
 */
import type { MemoryCache } from '../cache/memory/index.js';
import type { RedisCache } from '../cache/redis/index.js';
import type { TieredCache } from '../cache/tiered/index.js';
import { type App, createApp } from '../core/app.js';
import type {
  Cache,
  InvalidationBus,
  InvalidationTracker,
  LoaderLease,
  Logger,
  LoggerLike,
  LogLevel,
} from '../core/contracts.js';
import { checkDisposeTimeout, createDisposerStack, type DisposerStack } from '../core/disposers.js';
import { ConfigError, typeName } from '../core/errors.js';
import { adaptLogger, dropLogResult } from '../core/log-binding.js';
import { createConsoleLogger } from '../core/logger.js';
import { optionKeys, rejectUnknownKeys } from '../core/options.js';
import { accessDenied, resolveFrom, unreadablePeerMessage } from '../core/peer.js';
import type { PrometheusMetrics } from '../metrics/prometheus/index.js';
import { applyOtelEnv } from '../tracing/otel/env.js';
import type { OtelTracer } from '../tracing/otel/index.js';
import { OTEL_INSTALL } from '../tracing/otel/names.js';
import { createPassThroughTracer, createPropagateOnlyTracer } from '../tracing/propagate-only.js';
import { checkParsed, newFound, validateConfig } from './load.js';
import {
  type CacheSection,
  configSchemaFor,
  type HyperionConfig,
  type HyperionConfigInput,
  type MemorySection,
  type RedisSectionOut,
  type TieredSectionOut,
} from './schema.js';
import { memoryOptionsFromConfig } from './sections/memory.js';
import { metricsOptionsFromConfig } from './sections/metrics.js';
import { redisOptionsFromConfig } from './sections/redis.js';
import { tieredOptionsFromConfig } from './sections/tiered.js';
import { checkTlsMaterial, readingAll } from './sections/tls.js';
import { tracingOptionsFromConfig } from './sections/tracing.js';

const W3C = new Set(['tracecontext', 'baggage']);

export interface AppFromConfigOptions {
  /** Used instead of the console logger built from `logging:`: a `Logger`, `console` or a pino instance. */
  logger?: LoggerLike | undefined;
  /** Extra components for `ctx.components` (closed with the app). */
  components?: Record<string, unknown> | undefined;
  /** Upper bound for each disposer in ms. Default 10 000. */
  disposeTimeoutMs?: number | undefined;
}

const KNOWN = optionKeys<AppFromConfigOptions>({ logger: true, components: true, disposeTimeoutMs: true });

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * The `logger` option in the shape the adapters built here call. `createApp` takes a pino instance
 * as it is (adaptLogger: pino wants fields first) and a logger without `child` (`console`), but
 * the adapters got the option as given: with pino every adapter record lost its fields (the
 * attribute a span dropped, an export's error), and a Redis cache threw a TypeError calling
 * `child`. A logger without debug/info/warn/error is a ConfigError before anything is built.
 */
function adapterLogger(given: unknown): Logger | undefined {
  if (given === undefined) return undefined;
  const missing =
    given !== null && typeof given === 'object'
      ? LEVELS.filter((m) => typeof (given as Record<string, unknown>)[m] !== 'function')
      : LEVELS;
  if (missing.length > 0)
    throw new ConfigError('createAppFromConfig: invalid logger', [
      {
        path: 'logger',
        expected: 'a Logger (an object with debug, info, warn, error)',
        received: typeName(given),
        message: `lacks ${missing.join(', ')}`,
      },
    ]);
  return adaptLogger(given as LoggerLike);
}

/** The optional peers each adapter subpath needs to build anything. */
const PEERS = {
  'hyperion/cache/redis': ['iovalkey'],
  'hyperion/metrics/prometheus': ['prom-client'],
  'hyperion/tracing/otel': ['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/resources'],
} as const;

/** The loader's error for `name` when it is not installed (resolved from here, as the adapters do). */
function resolveError(name: string): unknown {
  try {
    resolveFrom(import.meta, name); // also in a CommonJS bundle (core/peer.ts)
    return undefined;
  } catch (err) {
    return err;
  }
}

/**
 * Imports the adapter a section turns on, after checking that its optional peers are installed:
 * when one is not, one ConfigError naming the section, the subpath and every package to install
 * (the loader's `ERR_MODULE_NOT_FOUND` as its `cause`), before anything of the section is built.
 */
async function importAdapter<T>(
  subpath: keyof typeof PEERS,
  section: string,
  load: () => Promise<T>,
): Promise<T> {
  const errors = PEERS[subpath].map((name) => [name, resolveError(name)] as const).filter(([, e]) => e);
  if (errors.length === 0) return load();
  // A peer the permission model does not let us read is not a missing one (core/peer.ts).
  const denied = errors.find(([, e]) => accessDenied(e));
  if (denied)
    throw new ConfigError(
      `createAppFromConfig: ${section} needs an optional peer dependency it cannot read`,
      [
        {
          path: section,
          expected: `${denied[0]} readable`,
          received: 'access denied',
          message: unreadablePeerMessage(denied[0], subpath, denied[1]),
        },
      ],
      { cause: denied[1] },
    );
  const missing = errors.map(([name]) => name);
  const names = missing.join(', ');
  const what = missing.length > 1 ? 'dependencies' : 'dependency';
  const install = subpath === 'hyperion/tracing/otel' ? OTEL_INSTALL : `npm install ${missing.join(' ')}`;
  const message = `needs ${subpath}, whose optional peer ${what} ${names} ${missing.length > 1 ? 'are' : 'is'} not installed: ${install}`;
  throw new ConfigError(
    `createAppFromConfig: ${section} needs an optional peer dependency that is not installed`,
    [{ path: section, expected: `${names} installed`, received: 'not installed', message }],
    { cause: errors[0]![1] },
  );
}

/** Each part is registered on `built` as soon as it exists, so a later failure closes it. */
async function buildMemory(section: MemorySection, built: DisposerStack, name: string): Promise<MemoryCache> {
  const { createMemoryCache } = await import('../cache/memory/index.js');
  const cache = createMemoryCache(memoryOptionsFromConfig(section));
  built.add(name, () => cache.close());
  return cache;
}

async function buildRedis(
  section: RedisSectionOut,
  logger: Logger,
  built: DisposerStack,
  name: string,
): Promise<RedisCache> {
  const { createRedisCache } = await importAdapter(
    'hyperion/cache/redis',
    name,
    () => import('../cache/redis/index.js'),
  );
  const cache = createRedisCache({ ...redisOptionsFromConfig(section, name), logger });
  built.add(name, () => cache.close());
  return cache;
}

interface Coordination {
  bus?: InvalidationBus | undefined;
  tracking?: InvalidationTracker | undefined;
  lease?: LoaderLease | undefined;
}

/** The bus and lease of a tiered cache share the Redis L2's client (neither closes it). */
async function buildCoordination(
  section: TieredSectionOut,
  l2: RedisCache,
  logger: Logger,
  built: DisposerStack,
): Promise<Coordination> {
  const { createRedisInvalidationBus, createRedisLease, createRedisTracking } = await import(
    '../cache/redis/index.js'
  );
  const out: Coordination = {};
  const inv = section.invalidation;
  const mode = inv?.mode ?? 'bus';
  if (inv?.enabled !== false && mode !== 'bus') {
    const tracking = createRedisTracking({
      cache: l2,
      mode: inv?.tracking_mode,
      heartbeat: inv?.heartbeat,
      logger,
    });
    built.add('cache.tracking', () => tracking.close());
    out.tracking = tracking;
  }
  if (inv?.enabled !== false && mode !== 'tracking') {
    const bus = createRedisInvalidationBus({
      client: l2.client,
      channel: section.invalidation?.channel,
      logger,
    });
    built.add('cache.bus', () => bus.close());
    out.bus = bus;
  }
  if (section.lease?.enabled)
    out.lease = createRedisLease({ client: l2.client, keyPrefix: l2.keyPrefix, ttl: section.lease.ttl });
  return out;
}

async function buildCache(section: CacheSection, logger: Logger, built: DisposerStack): Promise<Cache> {
  if (section.type === 'memory') return buildMemory(section, built, 'cache');
  if (section.type === 'redis') return buildRedis(section, logger, built, 'cache');
  const { createTieredCache } = await import('../cache/tiered/index.js');
  const l1 = await buildMemory(section.l1, built, 'cache.l1');
  let l2: Cache;
  let coordination: Coordination = {};
  if (section.l2.type === 'redis') {
    const redis = await buildRedis(section.l2, logger, built, 'cache.l2');
    coordination = await buildCoordination(section, redis, logger, built);
    l2 = redis;
  } else {
    l2 = await buildMemory(section.l2, built, 'cache.l2');
  }
  // The tiered cache closes its levels and bus itself; those are already on `built` for a failure.
  return createTieredCache({ ...tieredOptionsFromConfig(section), l1, l2, ...coordination, logger });
}

async function buildTracer(config: HyperionConfig, logger: Logger, built: DisposerStack) {
  if (!config.tracing || config.tracing.enabled === false) return undefined;
  // exporter none (from the file or OTEL_TRACES_EXPORTER) with W3C propagators: propagate-only,
  // without loading OpenTelemetry at all — unless register_global asks for the global OpenTelemetry
  // propagator, which only the OpenTelemetry tracer registers, or active_context for the active
  // OpenTelemetry context, which only it reads and sets (the propagate-only one ignored it).
  const envWarnings: string[] = [];
  const none = applyOtelEnv(
    tracingOptionsFromConfig(config.tracing, config.service),
    process.env,
    envWarnings,
  );
  // OTEL_SDK_DISABLED=true over this OpenTelemetry-free setup: the disabled OpenTelemetry tracer
  // (a pass-through) when OpenTelemetry is installed, else the same pass-through without it — the
  // configured W3C formats, baggage too (it was the no-op tracer, which dropped the request's baggage).
  // It used to import the OpenTelemetry adapter whatever was installed, so the standard switch
  // that turns tracing off failed the start of a service without OpenTelemetry (ConfigError:
  // needs @opentelemetry/api …), which ran with the variable unset.
  if (
    none.exporter === 'none' &&
    none.enabled === false &&
    none.registerGlobal !== true &&
    (none.propagators ?? []).every((p) => W3C.has(p)) &&
    PEERS['hyperion/tracing/otel'].some((name) => resolveError(name) !== undefined)
  ) {
    for (const w of envWarnings) dropLogResult(logger.warn(w));
    return createPassThroughTracer(none.propagators as readonly ('baggage' | 'tracecontext')[] | undefined);
  }
  if (
    none.exporter === 'none' &&
    none.enabled !== false &&
    none.registerGlobal !== true &&
    none.activeContext !== true &&
    (none.propagators ?? []).every((p) => W3C.has(p))
  ) {
    // The OpenTelemetry tracer logs these itself; the propagate-only one never reads the env.
    for (const w of envWarnings) dropLogResult(logger.warn(w));
    return createPropagateOnlyTracer({
      sampleRate: none.sampleRate,
      ...((none as { parentBased?: boolean }).parentBased === false ? { parentBased: false } : {}),
      propagators: none.propagators as readonly ('baggage' | 'tracecontext')[] | undefined,
    });
  }
  const { createOtelTracer } = await importAdapter(
    'hyperion/tracing/otel',
    'tracing',
    () => import('../tracing/otel/index.js'),
  );
  const tracer: OtelTracer = createOtelTracer({
    ...tracingOptionsFromConfig(config.tracing, config.service),
    logger,
  });
  built.add('tracer', ({ timeoutMs }) => tracer.close({ timeoutMs }));
  return tracer;
}

async function buildMetrics(config: HyperionConfig, logger: Logger, built: DisposerStack) {
  if (!config.metrics || config.metrics.enabled === false) return undefined;
  const { createMetrics } = await importAdapter(
    'hyperion/metrics/prometheus',
    'metrics',
    () => import('../metrics/prometheus/index.js'),
  );
  const metrics: PrometheusMetrics = createMetrics({ ...metricsOptionsFromConfig(config.metrics), logger });
  built.add('metrics', (budget) => metrics.close(budget));
  if (config.metrics.port !== undefined) await metrics.listen();
  return metrics;
}

/**
 * Reads every file the config names (TLS certificates and keys, token and password files) of the
 * parts that will be built, and throws one ConfigError listing every one that cannot be used —
 * before anything is built, so a second bad file is not found only after the first is fixed.
 */
function checkFiles(config: HyperionConfig): void {
  const steps: (() => void)[] = [];
  if (config.tracing && config.tracing.enabled !== false) {
    const tracing = config.tracing;
    steps.push(() => {
      const tls = tracingOptionsFromConfig(tracing).tls;
      if (tls) checkTlsMaterial('tracing.tls', tls, FILES);
    });
  }
  if (config.metrics && config.metrics.enabled !== false) {
    const metrics = config.metrics;
    steps.push(() => {
      const tls = metricsOptionsFromConfig(metrics).tls;
      if (tls) checkTlsMaterial('metrics.tls', tls, { ...FILES, ca: 'client_ca_file' });
    });
  }
  const cache = config.cache;
  const redis = (section: RedisSectionOut, field: string) => () => {
    const o = redisOptionsFromConfig(section, field);
    // Inline PEM (`ca`, `cert`, `key`) or files (`ca_file`…): named as the section gives them.
    const names = (t: Record<string, unknown>) => ({
      ca: t.ca_file !== undefined ? 'ca_file' : 'ca',
      cert: t.cert_file !== undefined ? 'cert_file' : 'cert',
      key: t.key_file !== undefined ? 'key_file' : 'key',
    });
    readingAll([
      () => {
        if (typeof o.tls === 'object' && typeof section.tls === 'object')
          checkTlsMaterial(`${field}.tls`, o.tls, names(section.tls));
      },
      () => {
        const given = section.sentinel?.tls;
        if (typeof o.sentinel?.tls === 'object' && typeof given === 'object')
          checkTlsMaterial(`${field}.sentinel.tls`, o.sentinel.tls, names(given));
      },
    ]);
  };
  if (cache?.type === 'redis') steps.push(redis(cache, 'cache'));
  if (cache?.type === 'tiered' && cache.l2.type === 'redis') steps.push(redis(cache.l2, 'cache.l2'));
  readingAll(steps);
}

const FILES = { ca: 'ca_file', cert: 'cert_file', key: 'key_file' };

/**
 * The config validated as `parseConfig` does (without environment overrides): an object written
 * in code or parsed by the caller (`JSON.parse`) is held to the same schema as a file, so a typo
 * (`tracng:`, `sample_rat`) is not ignored and a bad value is named by its YAML key, not by the
 * factory option it maps to. A config our loaders returned passes unchanged.
 */
function validConfig(config: unknown): HyperionConfig {
  const source = 'createAppFromConfig: config';
  const found = newFound();
  checkParsed(config, source, found);
  const value = config ?? {};
  return validateConfig(
    configSchemaFor(value),
    value,
    source,
    [],
    [{ what: 'in the object', found }],
  ) as HyperionConfig;
}

/**
 * Creates the tracer, cache, metrics and logger a config describes and composes them with
 * `createApp`. `given` is a loaded config or one written in code in the file's forms
 * (`default_ttl: '5m'`), validated as a file is. Sections that are absent (or `enabled: false`) fall back to the no-ops. With a
 * `metrics.port`, the `/metrics` endpoint is started too. If any adapter fails to build, the
 * ones already built are closed (newest first) before the error is rethrown.
 */
export async function createAppFromConfig(
  given: HyperionConfigInput,
  options: AppFromConfigOptions = {},
): Promise<App> {
  // Checked before anything is built: a typo must not leave half an app running. `null` threw a
  // TypeError ("reading 'disposeTimeoutMs'") and a string was taken as no options, as createApp
  // did once; `components` that is not an object was refused only by createApp, after the
  // tracer, cache and /metrics endpoint were built (and then closed).
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createAppFromConfig: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  rejectUnknownKeys(options, KNOWN, 'createAppFromConfig');
  checkDisposeTimeout(options.disposeTimeoutMs);
  const components: unknown = options.components;
  if (
    components !== undefined &&
    (components === null || typeof components !== 'object' || Array.isArray(components))
  )
    throw new ConfigError('createAppFromConfig: invalid options', [
      {
        path: 'components',
        expected: 'an object of named components',
        received: typeName(components),
        message: 'has the wrong type',
      },
    ]);
  const config = validConfig(given);
  checkFiles(config);
  const serviceName = config.service?.name;
  const logger =
    adapterLogger(options.logger) ??
    createConsoleLogger({
      level: config.logging?.level ?? 'info',
      fields: serviceName ? { service: serviceName } : {},
    });
  // Only for a failed build: once built, the parts belong to the app, which closes them itself.
  const built = createDisposerStack({ timeoutMs: options.disposeTimeoutMs });
  try {
    const tracer = await buildTracer(config, logger, built);
    const metrics = await buildMetrics(config, logger, built);
    const cache = config.cache ? await buildCache(config.cache, logger, built) : undefined;
    if (cache && metrics) {
      metrics.watchCache(cache);
      if (cache.name === 'tiered') {
        const { watchTieredCoherence } = await import('../cache/tiered/index.js');
        watchTieredCoherence(metrics, cache as TieredCache);
      }
    }
    return createApp({
      tracer,
      cache,
      metrics,
      // The logger as given: createApp adapts it itself (and binds one without `child` to spans as such).
      logger: options.logger ?? logger,
      components: options.components,
      disposeTimeoutMs: options.disposeTimeoutMs,
    });
  } catch (err) {
    await built.dispose().catch(() => {});
    throw err;
  }
}
