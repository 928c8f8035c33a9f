/**
 * `createApp` builds the context that handlers receive and owns the lifecycle of the components
 * in it. Anything not given falls back to its no-op; components with a `close()` are closed by
 * `app.close()` in reverse order of registration.
 */

import { type AppContext, createContext } from './context.js';
import type { Cache, Logger, Metrics, Tracer } from './contracts.js';
import { checkDisposeTimeout, createDisposerStack, type Disposer } from './disposers.js';
import { adaptLogger } from './log-binding.js';
import { createNoopCache, noopLogger, noopMetrics, noopTracer } from './noop.js';
import { optionKeys, rejectUnknownKeys } from './options.js';
import { watchTracerStats } from './tracer-metrics.js';

export interface AppOptions {
  tracer?: Tracer;
  cache?: Cache;
  metrics?: Metrics;
  logger?: Logger;
  /** Extra components reachable as `ctx.components.<name>`; closed like the others if they have `close()`. */
  components?: Record<string, unknown>;
  /**
   * Upper bound for each disposer in ms. Default 10 000. The tracer is given this budget and
   * resolves within it even when the collector is down or slow.
   */
  disposeTimeoutMs?: number;
}

export interface App extends AsyncDisposable {
  /** The root context: pass it (or a child of it) to handlers. */
  readonly ctx: AppContext;
  readonly tracer: Tracer;
  readonly cache: Cache;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Registers a disposer to run on close (before those registered earlier). */
  defer(name: string, fn: Disposer): void;
  /** Closes every component once; concurrent calls share the same run. Rejects with an AggregateError listing every failure. */
  close(): Promise<void>;
  readonly closed: boolean;
}

function closable(x: unknown): x is { close(): unknown } {
  return typeof (x as { close?: unknown } | null)?.close === 'function';
}

const KNOWN = optionKeys<AppOptions>({
  tracer: true,
  cache: true,
  metrics: true,
  logger: true,
  components: true,
  disposeTimeoutMs: true,
});

/**
 * Builds the app. Unknown option keys (`{ cahce }`: the cache would silently be the no-op, and
 * never closed) and a `disposeTimeoutMs` outside 1 ms … 2^31−1 ms (or `Infinity`) are a
 * `ConfigError`.
 */
export function createApp(options: AppOptions = {}): App {
  rejectUnknownKeys(options, KNOWN, 'createApp');
  const tracer = options.tracer ?? noopTracer;
  const cache = options.cache ?? createNoopCache();
  const metrics = options.metrics ?? noopMetrics;
  // A pino instance works as-is (fields first); the logger of a span's ctx is bound to the span.
  const logger = adaptLogger(options.logger ?? noopLogger);
  const stack = createDisposerStack({
    timeoutMs: checkDisposeTimeout(options.disposeTimeoutMs),
  });

  // Registration order = close order reversed: caches and extra components close first, then
  // metrics, then the tracer flushes the spans they produced, and the logger goes last.
  const parts: [string, unknown][] = [
    ['logger', logger],
    ['tracer', tracer],
    ['metrics', metrics],
    ['cache', cache],
    ...Object.entries(options.components ?? {}),
  ];
  // One object given under two names (a pool as two components, the metrics adapter as a part
  // and a component) is closed once: the first registration, i.e. the last to close, wins.
  const registered = new Set<unknown>();
  for (const [name, part] of parts) {
    if (!closable(part) || registered.has(part)) continue;
    registered.add(part);
    // The tracer's close takes the budget, so its final export fits inside it by construction.
    if (part === tracer && tracer !== noopTracer)
      stack.add(name, ({ timeoutMs }) => tracer.close?.({ timeoutMs }));
    else stack.add(name, () => part.close() as void | Promise<void>);
  }
  // Dropped and exported spans as metrics (read at scrape time; nothing on the span path).
  if (options.metrics && options.tracer) watchTracerStats(metrics, tracer, logger);

  const ctx = createContext({ tracer, cache, metrics, logger, components: options.components });
  const close = () => stack.dispose();
  return {
    ctx,
    tracer,
    cache,
    metrics,
    logger,
    defer: (name, fn) => stack.add(name, fn),
    close,
    get closed() {
      return stack.disposed;
    },
    [Symbol.asyncDispose]: close,
  };
}

/** Same as `createApp`; reads better when the parts are built elsewhere and composed here. */
export const compose = createApp;

/**
 * Closes `app` on SIGTERM/SIGINT (opt-in). Sets `process.exitCode` to 1 if closing failed; with
 * `exit: true` (default) the process then exits. Returns a function that removes the handlers.
 */
export function closeOnSignals(
  app: App,
  options: { signals?: NodeJS.Signals[]; exit?: boolean; onError?: (err: unknown) => void } = {},
): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const handler = () => {
    remove();
    app.close().then(
      () => {
        if (options.exit !== false) process.exit();
      },
      (err: unknown) => {
        (options.onError ?? ((e) => app.logger.error('app close failed', { error: e })))(err);
        process.exitCode = 1;
        if (options.exit !== false) process.exit();
      },
    );
  };
  const remove = () => {
    for (const s of signals) process.off(s, handler);
  };
  for (const s of signals) process.on(s, handler);
  return remove;
}
