/**
 * Builds an app from a validated config in one call. Adapters are imported on demand, so a config
 * without `tracing:` never loads OpenTelemetry, one without a Redis cache never loads iovalkey.
 */
import { type App, createApp } from '../core/app.js';
import type { Cache, Logger, Metrics, Tracer } from '../core/contracts.js';
import { createConsoleLogger } from '../core/logger.js';
import type { CacheSection, HyperionConfig, MemorySection, RedisSectionOut } from './schema.js';
import { memoryOptionsFromConfig } from './sections/memory.js';
import { metricsOptionsFromConfig } from './sections/metrics.js';
import { redisOptionsFromConfig } from './sections/redis.js';
import { tieredOptionsFromConfig } from './sections/tiered.js';
import { tracingOptionsFromConfig } from './sections/tracing.js';

export interface AppFromConfigOptions {
  /** Used instead of the console logger built from `logging:`. */
  logger?: Logger;
  /** Extra components for `ctx.components` (closed with the app). */
  components?: Record<string, unknown>;
  /** Upper bound for each disposer in ms. Default 10 000. */
  disposeTimeoutMs?: number;
}

async function buildLevel(section: MemorySection | RedisSectionOut, logger: Logger): Promise<Cache> {
  if (section.type === 'memory') {
    const { createMemoryCache } = await import('../cache/memory/index.js');
    return createMemoryCache(memoryOptionsFromConfig(section));
  }
  const { createRedisCache } = await import('../cache/redis/index.js');
  return createRedisCache({ ...redisOptionsFromConfig(section), logger });
}

async function buildCache(section: CacheSection, logger: Logger, built: { close(): Promise<void> }[]) {
  if (section.type !== 'tiered') {
    const cache = await buildLevel(section, logger);
    if (cache.close) built.push(cache as { close(): Promise<void> });
    return cache;
  }
  const { createTieredCache } = await import('../cache/tiered.js');
  const l1 = await buildLevel(section.l1, logger);
  if (l1.close) built.push(l1 as { close(): Promise<void> });
  const l2 = await buildLevel(section.l2, logger);
  if (l2.close) built.push(l2 as { close(): Promise<void> });
  let bus: import('../cache/tiered.js').InvalidationBus | undefined;
  let lease: import('../cache/tiered.js').LoaderLease | undefined;
  if (section.l2.type === 'redis') {
    const client = (l2 as unknown as { client: import('iovalkey').Redis | import('iovalkey').Cluster })
      .client;
    if (section.invalidation?.enabled !== false) {
      const { createRedisInvalidationBus } = await import('../cache/redis/bus.js');
      bus = createRedisInvalidationBus({ client, channel: section.invalidation?.channel, logger });
    }
    if (section.lease?.enabled) {
      const { createRedisLease } = await import('../cache/redis/lease.js');
      lease = createRedisLease({ client, ttl: section.lease.ttl });
    }
  }
  return createTieredCache({ ...tieredOptionsFromConfig(section), l1, l2, bus, lease, logger });
}

/**
 * Creates the tracer, cache, metrics and logger a config describes and composes them with
 * `createApp`. Sections that are absent (or `enabled: false`) fall back to the no-ops. With a
 * `metrics.port`, the `/metrics` endpoint is started too. If any adapter fails to build, the
 * ones already built are closed before the error is rethrown.
 */
export async function createAppFromConfig(
  config: HyperionConfig,
  options: AppFromConfigOptions = {},
): Promise<App> {
  const serviceName = config.service?.name;
  const logger =
    options.logger ??
    createConsoleLogger({
      level: config.logging?.level ?? 'info',
      fields: serviceName ? { service: serviceName } : {},
    });
  const built: { close(): Promise<void> }[] = [];
  try {
    let tracer: Tracer | undefined;
    if (config.tracing && config.tracing.enabled !== false) {
      const { createOtelTracer } = await import('../tracing/otel/index.js');
      const t = createOtelTracer({ serviceName, ...tracingOptionsFromConfig(config.tracing), logger });
      built.push(t);
      tracer = t;
    }
    let metrics: Metrics | undefined;
    if (config.metrics && config.metrics.enabled !== false) {
      const { createMetrics } = await import('../metrics/prometheus/index.js');
      const m = createMetrics({ ...metricsOptionsFromConfig(config.metrics), logger });
      built.push(m);
      if (config.metrics.port !== undefined) await m.listen();
      metrics = m;
    }
    const cache = config.cache ? await buildCache(config.cache, logger, built) : undefined;
    if (cache && metrics && 'watchCache' in metrics) {
      (metrics as import('../metrics/prometheus/index.js').PrometheusMetrics).watchCache(cache);
    }
    return createApp({
      tracer,
      cache,
      metrics,
      logger,
      components: options.components,
      disposeTimeoutMs: options.disposeTimeoutMs,
    });
  } catch (err) {
    await Promise.allSettled(built.reverse().map((b) => b.close()));
    throw err;
  }
}
