/**
 * Where a tracer and a metrics adapter meet: `spans_dropped_total{reason}` and
 * `spans_exported_total`, read from `tracer.exportStats()` before every scrape. `createApp` wires
 * this when it is given both; the core imports no package, so this only uses the contracts.
 */
import type { Logger, Metrics, SpanDropReason, Tracer } from './contracts.js';

const REASONS: readonly SpanDropReason[] = ['queue_full', 'export_failed', 'shutdown'];

/**
 * The tracers whose counts each metrics adapter already takes. A second watch of the same pair
 * (two apps built on one tracer and one metrics adapter) added every export and drop a second
 * time: 10 spans exported showed `spans_exported_total 20`.
 */
const watching = new WeakMap<object, WeakSet<object>>();

/**
 * Registers the span export counters on `metrics` and keeps them equal to the tracer's totals
 * (each scrape adds what changed since the previous one). Returns the unsubscribe function, or
 * `undefined` when the tracer keeps no export counters or `metrics` already takes this tracer's.
 */
export function watchTracerStats(
  metrics: Metrics,
  tracer: Tracer,
  logger?: Logger,
): (() => void) | undefined {
  const read = tracer.exportStats?.bind(tracer);
  if (!read) return undefined;
  const tracers = watching.get(metrics) ?? new WeakSet<object>();
  if (tracers.has(tracer)) return undefined;
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
    const seen: Record<SpanDropReason | 'exported', number> = {
      queue_full: 0,
      export_failed: 0,
      shutdown: 0,
      exported: 0,
    };
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
    tracers.add(tracer);
    watching.set(metrics, tracers);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      stop();
      tracers.delete(tracer);
    };
  } catch (err) {
    // E.g. a metrics adapter that already has these names with other labels: tracing goes on.
    logger?.warn('tracing: span export metrics not registered', { error: err });
    return undefined;
  }
}
