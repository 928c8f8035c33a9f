/**
 * Where a tracer and a metrics adapter meet: `spans_dropped_total{reason}` and
 * `spans_exported_total`, read from `tracer.exportStats()` before every scrape. `createApp` wires
 * this when it is given both; the core imports no package, so this only uses the contracts.
 */
import type { LoggerLike, Metrics, SpanDropReason, Tracer } from './contracts.js';
import { ConfigError, type ConfigIssue, typeName } from './errors.js';
import { adaptLogger, dropLogResult } from './log-binding.js';

const REASONS: readonly SpanDropReason[] = ['queue_full', 'export_failed', 'shutdown'];

type Seen = Record<SpanDropReason | 'exported', number>;

/**
 * Per metrics adapter, the tracers whose counts it has taken: what it has counted so far, and
 * whether a watch takes them now. A second watch of the same pair (two apps built on one tracer
 * and one metrics adapter) added every export and drop a second time: 10 spans exported showed
 * `spans_exported_total 20`. A watch after an unwatch goes on from what the earlier one counted
 * (it started from 0 and added the tracer's whole totals again: 10 became 20 at the next scrape).
 */
const watching = new WeakMap<object, WeakMap<object, { seen: Seen; active: boolean }>>();

const METRICS_METHODS = ['counter', 'onCollect'] as const;

/**
 * The arguments, checked at once: `undefined` for the tracer (a part not built) was a raw
 * TypeError reading 'exportStats', and for `metrics` a silent `undefined` (the TypeError of
 * `metrics.counter` taken for "not registered").
 */
function checkArguments(metrics: unknown, tracer: unknown, logger: unknown): void {
  const issues: ConfigIssue[] = [];
  const m = metrics as Record<string, unknown> | null | undefined;
  if (typeof m !== 'object' || m === null || METRICS_METHODS.some((k) => typeof m[k] !== 'function'))
    issues.push({
      path: 'metrics',
      expected: `a Metrics (${METRICS_METHODS.join(', ')})`,
      received: typeName(metrics),
      message: 'is not a Metrics',
    });
  if (typeof tracer !== 'object' || tracer === null)
    issues.push({
      path: 'tracer',
      expected: 'a Tracer',
      received: typeName(tracer),
      message: 'is not a Tracer',
    });
  const l = logger as { warn?: unknown } | null | undefined;
  if (logger !== undefined && (typeof l !== 'object' || l === null || typeof l.warn !== 'function'))
    issues.push({
      path: 'logger',
      expected: 'a Logger (an object with a warn method), console or a pino instance',
      received: typeName(logger),
      message: 'has no warn method',
    });
  if (issues.length > 0) throw new ConfigError('watchTracerStats: invalid arguments', issues);
}

/**
 * Registers the span export counters on `metrics` and keeps them equal to the tracer's totals
 * (each scrape adds what changed since the previous one). Returns the unsubscribe function, or
 * `undefined` when the tracer keeps no export counters or `metrics` already takes this tracer's.
 */
export function watchTracerStats(
  metrics: Metrics,
  tracer: Tracer,
  logger?: LoggerLike,
): (() => void) | undefined {
  checkArguments(metrics, tracer, logger);
  const read = tracer.exportStats?.bind(tracer);
  if (!read) return undefined;
  const tracers = watching.get(metrics) ?? new WeakMap<object, { seen: Seen; active: boolean }>();
  const earlier = tracers.get(tracer);
  if (earlier?.active) return undefined;
  try {
    const dropped = metrics.counter({
      name: 'spans_dropped_total',
      help: 'Finished spans that never reached the collector, by reason: queue_full, export_failed, shutdown',
      labelNames: ['reason'],
    });
    const exported = metrics.counter({
      name: 'spans_exported_total',
      help: 'Finished spans the span exporter accepted',
    });
    const seen: Seen = earlier?.seen ?? { queue_full: 0, export_failed: 0, shutdown: 0, exported: 0 };
    // Series exist from the first scrape on (at 0), so rate() and alerts work before any drop.
    for (const reason of REASONS) dropped.inc({ reason }, 0);
    const update = () => {
      const stats = read();
      for (const reason of REASONS) {
        const now = stats.droppedSpans[reason] ?? 0;
        if (now > seen[reason]) dropped.inc({ reason }, now - seen[reason]);
        seen[reason] = now;
      }
      if (stats.exportedSpans > seen.exported) exported.inc(stats.exportedSpans - seen.exported);
      seen.exported = stats.exportedSpans;
    };
    const stop = metrics.onCollect(update);
    const record = { seen, active: true };
    tracers.set(tracer, record);
    watching.set(metrics, tracers);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      stop();
      record.active = false;
    };
  } catch (err) {
    // E.g. a metrics adapter that already has these names with other labels: tracing goes on.
    // Adapted here, on this path only: a pino instance takes fields first (as every `logger`
    // option of the package, typed `LoggerLike`; this one was typed `Logger`, so neither
    // `console` nor pino compiled).
    if (logger)
      dropLogResult(adaptLogger(logger).warn('tracing: span export metrics not registered', { error: err }));
    return undefined;
  }
}
