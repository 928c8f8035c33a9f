/**
 * `createApp` builds the context that handlers receive and owns the lifecycle of the components
 * in it. Anything not given falls back to its no-op; components with a `close()` are closed by
 * `app.close()` in reverse order of registration.
 */

import { constants as osConstants } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { type AppContext, type AppParts, createContext } from './context.js';
import type { Cache, Logger, LoggerLike, Metrics, Tracer } from './contracts.js';
import { checkDisposeTimeout, createDisposerStack, type Disposer, outsideDisposers } from './disposers.js';
import { ConfigError, type ConfigIssue, typeName } from './errors.js';
import { adaptLogger, dropLogResult } from './log-binding.js';
import { createNoopCache, noopLogger, noopMetrics, noopTracer } from './noop.js';
import { optionKeys, rejectUnknownKeys, suggestKey, unknownOptionIssues } from './options.js';
import { processWide } from './process-wide.js';
import { watchTracerStats } from './tracer-metrics.js';

export interface AppOptions {
  tracer?: Tracer | undefined;
  cache?: Cache | undefined;
  metrics?: Metrics | undefined;
  /** A `Logger`, `console` or a pino instance (see `LoggerLike`); `app.logger` is its `Logger`. */
  logger?: LoggerLike | undefined;
  /** Extra components reachable as `ctx.components.<name>`; closed like the others if they have `close()`. */
  components?: Record<string, unknown> | undefined;
  /**
   * Upper bound for each disposer in ms. Default 10 000. The tracer is given this budget and
   * resolves within it even when the collector is down or slow.
   */
  disposeTimeoutMs?: number | undefined;
}

export interface App<P extends AppParts = AppParts> extends AsyncDisposable {
  /** The root context: pass it (or a child of it) to handlers. */
  readonly ctx: AppContext<P>;
  readonly tracer: P['tracer'];
  readonly cache: P['cache'];
  readonly metrics: P['metrics'];
  readonly logger: Logger;
  /** Registers a disposer to run on close (before those registered earlier). */
  defer(name: string, fn: Disposer): void;
  /** Closes every component once; concurrent calls share the same run. Rejects with a `CloseError` (an AggregateError, code `close_failed`) listing every failure. */
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

/** The methods each part must have: what handlers and the other parts call on it. */
const CONTRACTS: Record<'tracer' | 'cache' | 'metrics' | 'logger', readonly string[]> = {
  tracer: ['startSpan', 'inject', 'extract'],
  cache: ['get', 'set', 'delete', 'has', 'getMany', 'setMany', 'deleteMany', 'clear', 'getOrSet'],
  metrics: ['counter', 'gauge', 'histogram', 'onCollect'],
  // `child` is not required: a logger without it (`console`) is bound to spans without it.
  logger: ['debug', 'info', 'warn', 'error'],
};

/**
 * A part that is not an implementation of its contract (a factory given instead of what it
 * returns — `cache: createMemoryCache` —, a promise, a plain value) or `components` that is not an
 * object: one issue each. Without this check the app is built and the first call on the part, in
 * some handler, throws a `TypeError`.
 */
function partIssues(options: AppOptions): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [name, methods] of Object.entries(CONTRACTS)) {
    const part: unknown = options[name as keyof typeof CONTRACTS];
    if (part === undefined) continue;
    const missing =
      part !== null && typeof part === 'object'
        ? methods.filter((m) => typeof (part as Record<string, unknown>)[m] !== 'function')
        : methods;
    if (missing.length > 0)
      issues.push({
        path: name,
        expected: `a ${name[0]!.toUpperCase()}${name.slice(1)} (an object with ${methods.join(', ')})`,
        received: typeName(part),
        message:
          typeof part === 'function'
            ? 'is a function: pass what it returns (e.g. createMemoryCache({...}), not createMemoryCache)'
            : typeof (part as { then?: unknown } | null)?.then === 'function'
              ? 'is a promise: await it first'
              : `lacks ${missing.join(', ')}`,
      });
  }
  const components: unknown = options.components;
  if (
    components !== undefined &&
    (components === null || typeof components !== 'object' || Array.isArray(components))
  )
    issues.push({
      path: 'components',
      expected: 'an object of named components',
      received: typeName(components),
      message: 'has the wrong type',
    });
  return issues;
}

/**
 * The type of the part `K` of an app built with options `O`: the type of what was given, or the
 * contract `D` when nothing is given or the value may be `undefined` (`tracer: on ? t : undefined`,
 * an optional field of the caller's own): the app then holds the no-op, which has only the
 * contract's methods.
 */
type Given<O, K extends keyof AppOptions, D> = O extends { readonly [P in K]: infer T }
  ? undefined extends T
    ? D
    : T
  : D;

/** The parts of an app built with options `O` (see `AppParts`). */
export type AppPartsOf<O extends AppOptions> = {
  readonly tracer: Given<O, 'tracer', Tracer>;
  readonly cache: Given<O, 'cache', Cache>;
  readonly metrics: Given<O, 'metrics', Metrics>;
  readonly components: Given<O, 'components', Readonly<Record<string, unknown>>>;
};

/**
 * Keys of `O` that `AppOptions` does not have, typed `never`: `createApp` infers the type of its
 * whole options (for `AppPartsOf`), and an inferred type takes any key, so without this a misspelt
 * key next to a right one (`{ tracer, cahce }`) compiled.
 */
type NoUnknownKeys<O> = { readonly [K in Exclude<keyof O, keyof AppOptions>]: never };

/**
 * Builds the app; its parts keep the types they were given (`AppPartsOf`). Unknown option keys
 * (`{ cahce }`: the cache would silently be the no-op, and never closed), a part that lacks a
 * method of its contract (see `partIssues`) and a `disposeTimeoutMs` outside 1 ms … 2^31−1 ms (or
 * `Infinity`) are a `ConfigError`.
 */
export function createApp<O extends AppOptions = {}>(options?: O & NoUnknownKeys<O>): App<AppPartsOf<O>>;
/**
 * Options of a type TypeScript cannot check key by key — a wrapper's own `O extends AppOptions` —
 * give an app typed with the contracts (as every app was typed before `AppPartsOf`): without this
 * overload such a wrapper, `(o: O) => createApp(o)`, no longer compiled.
 */
export function createApp(options?: AppOptions): App;
export function createApp(options: AppOptions = {}): App {
  // `null` threw a TypeError ("reading 'tracer'"); an array or a string was taken as no options.
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createApp: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  rejectUnknownKeys(options, KNOWN, 'createApp');
  const bad = partIssues(options);
  if (bad.length > 0) throw new ConfigError('createApp: invalid options', bad);
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
    // The app's logger is the given one wrapped (console-like: a child() added) and closes it: the
    // given object, also a component, is the same thing (it was closed twice).
    if (part === logger) registered.add(options.logger);
    // The tracer's close takes the budget, so its final export fits inside it by construction.
    if (part === tracer && tracer !== noopTracer)
      stack.add(name, ({ timeoutMs }) => tracer.close?.({ timeoutMs }));
    // The metrics endpoint waits for scrapes in progress: within the budget, cut when it is spent.
    else if (part === metrics && metrics !== noopMetrics)
      stack.add(name, ({ timeoutMs, signal }) => metrics.close?.({ timeoutMs, signal }));
    else stack.add(name, () => part.close() as void | Promise<void>);
  }
  // A tracer built without a logger of its own logs through the app's (Tracer.useLogger): with the
  // collector down, every span used to be dropped without a log line unless the same logger had
  // also been given to the tracer.
  if (options.logger && typeof tracer.useLogger === 'function') tracer.useLogger(logger);
  // Dropped and exported spans as metrics (read at scrape time; nothing on the span path).
  if (options.metrics && options.tracer) watchTracerStats(metrics, tracer, logger);

  const ctx = createContext({ tracer, cache, metrics, logger, components: options.components });
  // What must go once every disposer has run, before close() resolves (closeOnSignals' handlers:
  // removed in a disposer, a signal during the close would kill the process half way; removed
  // after close() resolved, they were still there when the caller's `await app.close()` went on).
  let afterClose: (() => void)[] | undefined = [];
  let first: Promise<void> | undefined;
  let settled: Promise<void> | undefined;
  const close = () => {
    const run = stack.dispose();
    // From one of its own disposers `run` is a resolved stand-in (see dispose()): returned as is.
    if (first === undefined) {
      first = run;
      settled = run.finally(() => {
        const hooks = afterClose ?? [];
        afterClose = undefined;
        for (const fn of hooks) fn();
      });
    }
    return run === first ? settled! : run;
  };
  const app: App = {
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
  closeHooks.set(app, (fn) => {
    if (afterClose) afterClose.push(fn);
    else fn(); // the close has settled already
  });
  return app;
}

/** Per app made by `createApp`: runs `fn` when its close has settled, before close() resolves. */
const closeHooks = new WeakMap<App, (fn: () => void) => void>();

/** Same as `createApp`; reads better when the parts are built elsewhere and composed here. */
export const compose = createApp;

export interface CloseOnSignalsOptions {
  /**
   * Signals that close the app. Default `['SIGTERM', 'SIGINT']`. Read-only (the list is copied): a
   * shared `['SIGTERM', 'SIGINT'] as const` was a type error (TS4104) though the code takes it.
   */
  signals?: readonly NodeJS.Signals[] | undefined;
  /** Exit the process once closed (default `true`). */
  exit?: boolean | undefined;
  /** Receives the error when closing failed (default: logged through `app.logger.error`). */
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * Closes started by `closeOnSignals` in this process and not settled yet. With two apps wired to
 * one signal, each exits only once every such close is done (each is bounded by its budgets).
 * Shared by every copy of the package in the process (two versions installed side by side): one
 * set per copy let the app of one copy exit the process in the middle of the other's close.
 */
const signalCloses = processWide('core.signalCloses', () => new Set<Promise<void>>());

/**
 * The handlers `closeOnSignals` installed, per signal, behind one process listener each. A
 * listener per call made the 11th app wired while the others were still open (a test suite
 * running its app-per-test cases concurrently, several services in one process) trip Node's
 * `MaxListenersExceededWarning` — "possible memory leak" — for SIGTERM and SIGINT, though nothing
 * leaked. The process listener is removed with the last handler, so an unwired process keeps
 * Node's default action for the signal.
 */
const signalHandlers = new Map<NodeJS.Signals, Set<(signal: NodeJS.Signals) => void>>();

/** Calls every handler of `signal`, in the order they were added (as the process's emit does). */
function dispatchSignal(signal: NodeJS.Signals): void {
  for (const handler of [...(signalHandlers.get(signal) ?? [])]) handler(signal);
}

function addSignalHandler(signal: NodeJS.Signals, handler: (signal: NodeJS.Signals) => void): void {
  let handlers = signalHandlers.get(signal);
  if (!handlers) {
    handlers = new Set();
    signalHandlers.set(signal, handlers);
    process.on(signal, dispatchSignal);
  }
  handlers.add(handler);
}

function removeSignalHandler(signal: NodeJS.Signals, handler: (signal: NodeJS.Signals) => void): void {
  const handlers = signalHandlers.get(signal);
  if (!handlers?.delete(handler) || handlers.size > 0) return;
  signalHandlers.delete(signal);
  process.off(signal, dispatchSignal);
}

/** Whether this thread (a worker) was warned that closeOnSignals cannot work in it. */
let warnedWorker = false;

const SIGNAL_KEYS = optionKeys<CloseOnSignalsOptions>({ signals: true, exit: true, onError: true });

/** Signals a process cannot catch: listening to them throws `uv_signal_start EINVAL`. */
/**
 * The catchable signal a misspelt name meant (`'SIGTREM'`, `'sigterm'`): the refusal named none,
 * while a misspelt option key is told the nearest one.
 */
function signalHint(name: string, known: Record<string, number>): string {
  const near = suggestKey(
    name,
    Object.keys(known).filter((s) => !UNCATCHABLE.has(s)),
  );
  return near === undefined ? '' : `; did you mean \`${near}\`?`;
}

const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

/**
 * Checks `closeOnSignals`' arguments: a typo'd key, a signal name Node does not know (a listener
 * for `SIGTREM`, or for each letter of a string given instead of a list, would be an ordinary
 * event that never fires: the app would not close on SIGTERM, silently), or an uncatchable one
 * (`SIGKILL`) is a `ConfigError` — before any handler is installed.
 */
function checkSignalOptions(app: unknown, options: unknown): void {
  const issues: ConfigIssue[] = [];
  if (typeof (app as { close?: unknown } | null | undefined)?.close !== 'function')
    issues.push({
      path: 'app',
      expected: 'an App (from createApp)',
      received: typeName(app),
      message: 'must have a close() method',
    });
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    issues.push({
      path: '',
      expected: 'an options object',
      received: typeName(options),
      message: 'has the wrong type',
    });
    throw new ConfigError('closeOnSignals: invalid arguments', issues);
  }
  issues.push(...unknownOptionIssues(options, SIGNAL_KEYS));
  const o = options as CloseOnSignalsOptions;
  if (o.signals !== undefined) {
    const known = osConstants.signals as Record<string, number>;
    const ok = (s: unknown) => typeof s === 'string' && Object.hasOwn(known, s) && !UNCATCHABLE.has(s);
    if (!Array.isArray(o.signals) || o.signals.length === 0 || !o.signals.every(ok)) {
      const bad = Array.isArray(o.signals) ? o.signals.find((s) => !ok(s)) : undefined;
      issues.push({
        path: 'signals',
        expected: 'a non-empty list of catchable signal names, e.g. ["SIGTERM", "SIGINT"]',
        received: typeName(o.signals),
        message:
          typeof bad === 'string' && UNCATCHABLE.has(bad)
            ? `${bad} cannot be caught`
            : typeof bad === 'string'
              ? `"${bad.slice(0, 40)}" is not a signal name${signalHint(bad, known)}`
              : 'must be a non-empty array of signal names',
      });
    }
  }
  if (o.exit !== undefined && typeof o.exit !== 'boolean')
    issues.push({
      path: 'exit',
      expected: 'a boolean',
      received: typeName(o.exit),
      message: 'has the wrong type',
    });
  if (o.onError !== undefined && typeof o.onError !== 'function')
    issues.push({
      path: 'onError',
      expected: 'a function (err) => void',
      received: typeName(o.onError),
      message: 'has the wrong type',
    });
  if (issues.length > 0) throw new ConfigError('closeOnSignals: invalid arguments', issues);
}

/**
 * Closes `app` on SIGTERM/SIGINT (opt-in). Sets `process.exitCode` to 1 if closing failed; with
 * `exit: true` (default) the process then exits, once every close a signal started (another app's
 * too) has settled. Returns a function that removes the handlers.
 * Bad arguments are a `ConfigError` (see `checkSignalOptions`). A first signal that comes while the
 * app is already closing another way (`app.close()` from code) joins that close and exits as
 * above once it is done. A signal repeated while the app is closing is logged and ignored: with
 * no handler left, Node's default action would kill the
 * process half way through the close (requests still draining reset, spans never flushed). A
 * terminal's Ctrl+C under `npm start` is such a pair: the terminal signals every process of the
 * group and npm forwards the signal once more. The close itself is bounded by its budgets.
 */
export function closeOnSignals(app: App, options: CloseOnSignalsOptions = {}): () => void {
  checkSignalOptions(app, options);
  if (!isMainThread && !warnedWorker) {
    // Node delivers no signal to a worker thread: the handlers below never run there, and a
    // SIGTERM ended the process with the worker's app never closed (no drain, no final export),
    // without a word.
    warnedWorker = true;
    process.emitWarning(
      'closeOnSignals in a worker thread: Node delivers signals to the main thread only, so SIGTERM/SIGINT will not close this app; wire closeOnSignals in the main thread and have it tell the worker to close its app',
      { type: 'HyperionSignalWarning', code: 'HYPERION_SIGNALS_IN_WORKER' },
    );
  }
  // Each signal once: a name listed twice installed the handler twice, so one SIGTERM also
  // logged "already closing, signal ignored", as if a second signal had come.
  const signals = [...new Set<NodeJS.Signals>(options.signals ?? ['SIGTERM', 'SIGINT'])];
  /** A signal came: this one started (or joined) the close, and a later one is a repeat. */
  let signalled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (signalled) {
      // A logger that throws here would be an uncaught exception: the very crash this avoids.
      try {
        dropLogResult(app.logger.warn('closeOnSignals: already closing, signal ignored', { signal }));
      } catch {}
      return;
    }
    signalled = true;
    // Through a promise: an app-like object whose close() returns nothing (or throws at once)
    // threw out of the signal listener, an uncaught exception that skipped onError and exit.
    const done = Promise.resolve()
      .then(() => app.close())
      .then(
        () => remove(),
        (err: unknown) => {
          remove();
          // A reporter that throws must not turn into an unhandled rejection that skips the exit code.
          // Nor one that rejects: an async `onError` (a reporter that awaits) compiles as the
          // `=> void` it is typed, and its rejection, unhandled, ended the process at once — in the
          // middle of another app's close, or despite `exit: false`.
          try {
            dropLogResult(
              (options.onError ?? ((e) => dropLogResult(app.logger.error('app close failed', { error: e }))))(
                err,
              ),
            );
          } catch {}
          process.exitCode = 1;
        },
      );
    signalCloses.add(done);
    void done.then(async () => {
      signalCloses.delete(done);
      if (options.exit === false) return;
      // Another app wired to the same signal may still be closing (draining, flushing spans):
      // the first app to finish used to exit the process in the middle of the other's close.
      while (signalCloses.size > 0) await Promise.allSettled([...signalCloses]);
      process.exit();
    });
  };
  const remove = () => {
    for (const s of signals) removeSignalHandler(s, handler);
  };
  for (const s of signals) addSignalHandler(s, handler);
  // Closed another way (`app.close()` from code, an admin endpoint, a test), the app kept its
  // handlers — and through them itself — for the rest of the process: 11 apps wired and closed
  // in turn gave a MaxListenersExceededWarning, and each closed app stayed in memory. The handlers
  // stay until that close is done: a signal meanwhile joins it and exits after it (it used to be
  // "ignored" like a repeat, so the orchestrator's SIGTERM during a close from code left the
  // process running until SIGKILL). They go as the close settles, before `await app.close()`
  // goes on (an app-like object of another making: once its close() has settled, a turn later).
  if (typeof app.defer === 'function')
    app.defer('closeOnSignals', () => {
      const afterClose = closeHooks.get(app);
      if (afterClose) afterClose(remove);
      else void outsideDisposers(() => Promise.resolve(app.close())).then(remove, remove);
    });
  return remove;
}
