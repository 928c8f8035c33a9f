/**
 * `createMetrics`: the core `Metrics` contract on prom-client, with the built-in metrics (HTTP
 * server and client latency, cache, db connections), scrape-time cache reading, a `/metrics`
 * endpoint and a per-metric cardinality cap. This file only wires the parts together.
 */
import type * as client from 'prom-client';
import type { Counter, Gauge, Histogram } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { MAX_TIMER_MS } from '../../core/options.js';
import { processWide } from '../../core/process-wide.js';
import { createCacheWatch } from './cache-watch.js';
import { closeBudget } from './close-budget.js';
import { createCollectors } from './collect.js';
import { disabledMetrics } from './disabled.js';
import {
  type ForeignReader,
  type NameGuard,
  negotiate,
  OPENMETRICS_TEXT,
  PROMETHEUS_TEXT,
  readForeign,
  rememberCounterNames,
  renderRegistry,
  restoreCounterNames,
} from './exposition.js';
import {
  clientRecorder,
  type DbCounts,
  dbConnectionCounts,
  dbConnectionsClearer,
  dbConnectionsWriter,
  registerFramework,
  requestRecorder,
} from './framework.js';
import { instrumentHandler } from './http.js';
import type { CounterImpl } from './instruments.js';
import { type MetricsOptions, resolveOptions } from './options.js';
import { promClient } from './peer.js';
import { type ProbeResult, usePromInternals } from './prom-internals.js';
import { createMetricRegistry } from './registry.js';
import type { CapHooks } from './series.js';
import { createEndpoint } from './server.js';
import type { MetricsCloseOptions, PrometheusMetrics } from './types.js';
import { createWarnLimiter } from './warn-limit.js';

// lib/config names the options type through this module.
export type { MetricsOptions };

/** Builds the Prometheus adapter. Nothing listens until `listen()`. */
export function createMetrics(options: MetricsOptions = {}): PrometheusMetrics {
  return createMetricsWith(options, {});
}

/**
 * prom-client's runtime metrics, collected once per process and registered into each adapter's
 * registry. `collectDefaultMetrics` starts a GC PerformanceObserver and an event-loop-delay monitor
 * that nothing ever stops, and their metrics hold the registry they were created in: each
 * `createMetrics({ collectRuntime: true })` then kept its registry (with every series) after
 * `close()`, and every GC ran one more observer callback per adapter ever created (found by a
 * createApp/close soak). The metrics themselves describe the process, so one set serves them all.
 */
/**
 * `sets`: the runtime metrics, one set per prom-client copy (its `Registry` class).
 *
 * `users`: the open adapters on each registry that use the shared runtime metrics
 * (`collectRuntime`). The adapter that registered them used to take them out at close() even when
 * another open adapter on the same injected registry had asked for them too (a reload: new adapter
 * built, then the old one closed): that one's `/metrics` lost every `process_*` / `nodejs_*`
 * series for good. They now leave the registry with the last of its open adapters that uses them.
 *
 * Both are shared by every copy of this package in the process (two versions installed side by
 * side, each maybe with its own prom-client): with one record per copy, the adapter of one copy
 * took the runtime metrics out of a registry the other copy's open adapter still served them
 * from, and each copy started its own never-stopping set.
 */
const runtimeShared = processWide('metrics.prometheus.runtime', () => ({
  sets: [] as { promRegistry: object; metrics: client.Metric[] }[],
  users: new WeakMap<client.Registry, Set<object>>(),
}));
const runtimeUsers = runtimeShared.users;

/** Whether `metric` is one of the shared runtime metrics (of any prom-client copy). */
const isRuntime = (metric: unknown): boolean =>
  runtimeShared.sets.some((set) => set.metrics.includes(metric as client.Metric));

function runtimeMetrics(): client.Metric[] {
  const promRegistry = promClient().Registry;
  let runtime = runtimeShared.sets.find((set) => set.promRegistry === promRegistry)?.metrics;
  if (runtime === undefined) {
    const registry = new promRegistry();
    promClient().collectDefaultMetrics({ register: registry });
    // The array holds the metric objects themselves (prom-client types them as plain descriptions).
    runtime = registry.getMetricsAsArray() as unknown as client.Metric[];
    rememberCounterNames(runtime);
    runtimeShared.sets.push({ promRegistry, metrics: runtime });
  }
  // An OpenMetrics registry holding them may have stripped their counters' `_total` since (its
  // `metrics()` renames them in place): they are looked up and registered by their own names.
  restoreCounterNames(runtime);
  return runtime;
}

const metricName = (metric: client.Metric) => (metric as unknown as { name: string }).name;

/** Takes `metric` out of `registry`. */
function removeMetric(registry: client.Registry, metric: client.Metric): void {
  // Under its name, or that plus `_total`: an OpenMetrics registry's own `metrics()` renames
  // counters in place (`orders_total` → `orders`) but keeps the key they were registered by.
  const name = metricName(metric);
  for (const key of [name, `${name}_total`])
    if (registry.getSingleMetric(key) === metric) registry.removeSingleMetric(key);
}

/** What tests substitute: `probe` replaces the startup check of prom-client's internals. */
export interface InternalOverrides {
  readonly probe?: ProbeResult | undefined;
}

/** Cap hooks that count into `metrics_series_dropped_total` once `dropped()` returns it. */
function capHooks(o: ReturnType<typeof resolveOptions>, dropped: () => CounterImpl | undefined): CapHooks {
  return {
    dropped: (metric) => dropped()?.inc({ metric }),
    warn: (metric, max) =>
      o.logger.warn(
        `metric "${metric}" reached its cap of ${max} label combinations; new combinations are folded into the "__overflow__" series (counted in ${o.frameworkPrefix}metrics_series_dropped_total)`,
        { metric, cap: max },
      ),
  };
}

/** `createMetrics` with internal overrides (tests import it from this module). */
export function createMetricsWith(options: MetricsOptions, overrides: InternalOverrides): PrometheusMetrics {
  const o = resolveOptions(options);
  const { registry, logger, defaultLabels } = o;
  if (!o.enabled) return disabledMetrics(registry);
  let dropped: CounterImpl | undefined;
  /**
   * Where scrapes and `render()` read the metrics and where metrics are registered: `registry`,
   * until close() detaches an injected one.
   */
  let source: client.Registry = registry;
  const reg = createMetricRegistry({
    ...o,
    // Read at every registration: a metric registered on the adapter after close() (lazily, by a
    // request still in flight at a reload) went into the injected registry and stayed there, so
    // the next adapter's registration of that name was refused with incompatible_metric.
    get registry() {
      return source;
    },
    reservedLabels: new Set(Object.keys(defaultLabels)),
    hooks: capHooks(o, () => dropped),
    internals: usePromInternals(logger, overrides.probe),
  });
  const runtimeAdded = o.collectRuntime && !registry.getSingleMetric('process_cpu_user_seconds_total');
  let framework: ReturnType<typeof registerFramework>;
  try {
    framework = registerFramework(reg, o.naming, o.frameworkPrefix);
    if (runtimeAdded) {
      // Some of them there already (other code's): prom-client threw a bare Error half-way.
      const taken = runtimeMetrics().find((m) => registry.getSingleMetric(metricName(m)));
      if (taken)
        throw new MetricsError(
          'incompatible_metric',
          `collectRuntime: the registry already holds "${metricName(taken)}", one of prom-client's runtime metrics, but not all of them; register them all there (collectDefaultMetrics) or pass collectRuntime: false`,
        );
      for (const metric of runtimeMetrics()) registry.registerMetric(metric);
    }
  } catch (err) {
    // A refused createMetrics leaves the caller's registry as it found it: the built-in metrics it
    // had registered before the clash used to stay there, served by registry.metrics() and
    // refusing the next createMetrics({ registry }) with incompatible_metric.
    for (const metric of registry.getMetricsAsArray() as unknown as client.Metric[])
      if (reg.created.has(metric)) removeMetric(registry, metric);
    throw err;
  }
  dropped = framework.dropped;
  // This adapter shares our runtime metrics in `registry` (added now or by an open adapter before).
  const self = {};
  const usesRuntime =
    o.collectRuntime && isRuntime(registry.getSingleMetric('process_cpu_user_seconds_total'));
  if (usesRuntime) {
    const users = runtimeUsers.get(registry) ?? new Set<object>();
    users.add(self);
    runtimeUsers.set(registry, users);
  }
  /**
   * An injected registry is the caller's: close() hands it back as it was found, the metrics this
   * adapter put there moved into a private registry that `render()` keeps reading (final values).
   * They used to stay, so a new adapter on the same registry (a test's beforeEach/afterEach, a
   * config reload) was refused with incompatible_metric, and whoever served `registry.metrics()`
   * kept serving the closed adapter's frozen series.
   */
  const detach = () => {
    if (options.registry === undefined || source !== registry) return;
    const users = runtimeUsers.get(registry);
    users?.delete(self);
    // Our runtime metrics go with the last open adapter using them (other code's stay, as ever).
    const takeRuntime = usesRuntime && users?.size === 0;
    const kept = new (promClient().Registry)();
    for (const metric of registry.getMetricsAsArray() as unknown as client.Metric[]) {
      const shared = usesRuntime && isRuntime(metric);
      if (shared && !takeRuntime) {
        kept.registerMetric(metric); // render() after close() still shows them, as before
        continue;
      }
      if (!reg.created.has(metric) && !shared) continue;
      removeMetric(registry, metric);
      kept.registerMetric(metric);
    }
    source = kept;
  };
  const observeRequest = requestRecorder(framework);
  const observeHttpClient = clientRecorder(framework);
  const writeDbConnections = dbConnectionsWriter(framework);
  const clearDbConnections = dbConnectionsClearer(framework);
  /** The last good read of each running `watchDbConnections` watch (one pool each), summed into the gauge. */
  const pools = new Map<object, DbCounts>();
  /** The `read` functions of the running watches: one given twice would count its pool twice. */
  const watchedReads = new Set<unknown>();
  const caches = createCacheWatch(framework, logger);
  /** Collect failures, rate-limited per callback and per metric of other code (./warn-limit.ts). */
  const collectWarnings = createWarnLimiter(logger);
  const collectors = createCollectors(collectWarnings, o.collectTimeoutMs);
  /** Other code's metrics already warned about as clashing with a name exposed before them. */
  const clashWarned = new WeakSet<object>();
  /** Other code's metrics already warned about as having an exemplar Prometheus refuses. */
  const exemplarWarned = new WeakSet<object>();
  const guard: NameGuard = {
    isOurs: (metric) => reg.created.has(metric as client.Metric),
    exposedBy: (name) => reg.exposedBy(name),
    clashed(metric, exposed, holder) {
      // Once per metric: it is left out of every scrape, and a warning per scrape would flood the log.
      if (clashWarned.has(metric)) return;
      clashWarned.add(metric);
      logger.warn(
        `metric "${metric.name}" (registered by other code) is left out of every scrape: it would expose "${exposed}", which metric "${holder}" already exposes, and Prometheus refuses a scrape with a name twice; rename it`,
        { metric: metric.name, exposed, holder },
      );
    },
    exemplarLeftOut(metric, reason) {
      // Once per metric, as above: it comes back at every OpenMetrics scrape.
      if (exemplarWarned.has(metric)) return;
      exemplarWarned.add(metric);
      logger.warn(
        `an exemplar of metric "${metric.name}" (registered by other code) is left out of the OpenMetrics scrape: ${reason}, which Prometheus refuses with the whole scrape; its samples are served (warned once per metric)`,
        { metric: metric.name, reason },
      );
    },
  };
  /** The collection in progress, which scrapes arriving meanwhile join. */
  let collecting: Promise<ForeignReader> | undefined;
  /** When the collection in progress gives up on what has not settled (a `performance.now()` time). */
  let collectingDeadline = 0;
  /**
   * Joins the collection in progress for at most `budgetMs`, then answers with what the metrics
   * hold (the callbacks' last values; other code's metrics read with no time left). A Prometheus
   * scrape with a 1 s timeout arriving during a collection started by a scrape without one (curl,
   * a health check: collectTimeoutMs, 5 s) waited for all of it while a callback hung, and
   * Prometheus marked the target down.
   */
  const joinWithin = (shared: Promise<ForeignReader>, budgetMs: number): Promise<ForeignReader> => {
    let timer: NodeJS.Timeout | undefined;
    const cut = new Promise<ForeignReader>((resolve) => {
      timer = setTimeout(() => {
        const now = performance.now();
        resolve(readForeign(source, reg.own, now, budgetMs, collectWarnings, guard));
      }, budgetMs);
      timer.unref();
    });
    return Promise.race([shared, cut]).finally(() => clearTimeout(timer));
  };
  /**
   * One collection: the caches read, the onCollect callbacks, then the collect() of other code's
   * prom-client metrics (run in their get(); after the callbacks, which may set them, all at once).
   * All of it within collectTimeoutMs of its start: the metrics get what the callbacks left (a
   * scrape held by a slow callback and a slow collect() took twice the bound). Shared by the
   * scrapes arriving while it runs, collect() included (it ran once per concurrent scrape).
   * `budgetMs` (what the scraper's own timeout leaves, see server.ts) shortens that bound for a
   * collection it starts; a collection joined keeps the bound it started with.
   */
  const collect = (budgetMs?: number): Promise<ForeignReader> => {
    if (
      collecting !== undefined &&
      budgetMs !== undefined &&
      performance.now() + budgetMs < collectingDeadline
    )
      return joinWithin(collecting, budgetMs);
    collecting ??= (async () => {
      const bound = Math.min(o.collectTimeoutMs, budgetMs ?? Number.POSITIVE_INFINITY);
      const deadline = performance.now() + bound;
      collectingDeadline = deadline;
      caches.read();
      await collectors.run(bound);
      const foreign = readForeign(source, reg.own, deadline, bound, collectWarnings, guard);
      await foreign.settled;
      return foreign;
    })().finally(() => {
      collecting = undefined;
    });
    return collecting;
  };
  const render = async (accept?: string, budgetMs?: number) => {
    const format = negotiate(accept);
    const foreign = await collect(budgetMs);
    const body = await renderRegistry(source, reg.own, defaultLabels, format, foreign, guard);
    return { contentType: format === 'openmetrics' ? OPENMETRICS_TEXT : PROMETHEUS_TEXT, body };
  };
  /**
   * `render()` as the caller awaits it: the collection's timers are unref'd (a scrape in progress
   * is no reason to keep a process alive, its connection does that), so with nothing else on the
   * event loop — after `close()`, or in a script — a hanging callback or collect() let the process
   * exit with the render still pending. A ref'd timer holds the loop until the render settles,
   * which the collection's own bound (collectTimeoutMs) makes it do.
   */
  // One parameter only: the scrape budget is the endpoint's, read from the scraper's request.
  const awaitedRender = async (accept?: string) => {
    // An Accept header given as its list of values (`req.headersDistinct.accept`) or any other
    // non-string threw a raw TypeError from the negotiation (`accept.split is not a function`).
    if (accept != null && typeof accept !== 'string')
      throw new MetricsError(
        'invalid_option',
        `render(accept): accept must be an Accept header string or undefined, received ${typeName(accept)}`,
      );
    const hold = setTimeout(() => {}, Math.min(o.collectTimeoutMs + 1000, MAX_TIMER_MS));
    try {
      return await render(accept);
    } finally {
      clearTimeout(hold);
    }
  };
  // A scrape in progress at close() waits for its collection (callbacks and other code's
  // collect(), collectTimeoutMs at most in all), then renders: that, plus a second, is how long close() lets it finish (within createApp's
  // default 10 s), unless the caller gives a shorter budget (`close({ timeoutMs, signal })`).
  const closeGraceMs = Math.min(o.collectTimeoutMs + 1000, 9000);
  const endpoint = createEndpoint({ ...o, render, closeGraceMs });
  /** The one close in progress or done: a second `close()` resolves when the first has finished. */
  let closing: Promise<void> | undefined;

  return {
    enabled: true,
    registry,
    framework: {
      requests: framework.requests,
      requestDuration: framework.requestDuration,
      clientRequestDuration: framework.clientDuration,
      dbConnections: framework.dbConnections,
    },
    counter: (m) => reg.register('counter', m) as Counter,
    gauge: (m) => reg.register('gauge', m) as Gauge,
    histogram: (m) => reg.register('histogram', m) as Histogram,
    onCollect: (fn) => collectors.add(fn),
    instrument: (h, i) => instrumentHandler(h, i, observeRequest, o.now, logger),
    observeRequest,
    observeHttpClient,
    watchCache: (cache, w) => caches.watch(cache, w),
    // Not through `this`: like every other method, it works detached (`const { watchDbConnections } = metrics`).
    watchDbConnections: (read) => {
      // Refused here like onCollect's: a non-function was taken and failed every scrape's collect.
      if (typeof read !== 'function')
        throw new MetricsError(
          'invalid_option',
          'watchDbConnections expects a function returning { used, idle }',
        );
      // The same `read` watched again (a setup run twice) summed that pool's connections twice,
      // as if it were a second pool. Only the function can be told apart: two closures over one
      // pool are two watches.
      if (watchedReads.has(read))
        throw new MetricsError(
          'invalid_option',
          'watchDbConnections: this read function is already watched (its connections would be counted twice); call the function the first watch returned to stop it before watching again',
        );
      watchedReads.add(read);
      let stopped = false;
      const watch = {};
      const remove = collectors.add(async () => {
        const c = await read();
        // A read still running when the watch stopped writes nothing (it would bring the series back).
        if (stopped) return;
        pools.set(watch, dbConnectionCounts(c));
        writeDbConnections(pools.values());
      });
      // Stopping takes the pool's connections out: the series go with the last watch (they used to
      // show the last counts for good), and the other pools' total stays.
      return () => {
        if (stopped) return;
        stopped = true;
        watchedReads.delete(read);
        remove();
        pools.delete(watch);
        if (pools.size > 0) writeDbConnections(pools.values());
        else clearDbConnections();
      };
    },
    render: awaitedRender,
    handler: endpoint.handler,
    listen: () => endpoint.listen(),
    get address() {
      return endpoint.address;
    },
    seriesCount: (name) => reg.seriesCount(name),
    close(options?: MetricsCloseOptions) {
      if (closing) return closing;
      let budget: { graceMs: number; signal: AbortSignal | undefined };
      try {
        budget = closeBudget(options, closeGraceMs);
      } catch (err) {
        return Promise.reject(err);
      }
      collectors.clear();
      collectWarnings.stop();
      caches.clear();
      // At once, not after the endpoint: `metrics.close(); createMetrics({ registry })` works too
      // (a scrape still in its collection then leaves other code's metrics out of its answer).
      detach();
      closing = endpoint.close(budget.graceMs, budget.signal);
      return closing;
    },
  };
}
