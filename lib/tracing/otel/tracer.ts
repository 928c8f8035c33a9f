/** `createOtelTracer`: the core `Tracer` contract on the OpenTelemetry SDK (either line, see sdk.ts). */
import type {
  Tracer as ApiTracer,
  Context,
  Attributes as OtelAttributes,
  TextMapPropagator,
  TracerProvider,
} from '@opentelemetry/api';
import { injectInto, isHeaderMap, readableCarrier } from '../../core/carrier.js';
import type {
  Baggage,
  CloseOptions,
  ExtractedContext,
  HeaderCarrier,
  LogFields,
  Logger,
  Span,
  SpanOptions,
  Tracer,
} from '../../core/contracts.js';
import { ConfigError, TimeoutError, TracingError, typeName } from '../../core/errors.js';
import { adaptLogger, dropLogResult } from '../../core/log-binding.js';
import { noopLogger, noopTracer } from '../../core/noop.js';
import {
  closeOptionsOf,
  optionKeys,
  shownDuration,
  unknownCloseKeys,
  unknownKeyIssues,
} from '../../core/options.js';
import { processWide } from '../../core/process-wide.js';
import { withTimeout } from '../../core/timeout.js';
import {
  createExportAgents,
  createRequestTracker,
  type ExportAgents,
  type RequestTracker,
  restoreOriginalCode,
} from './agent.js';
import { apiCopyWarning } from './api-copies.js';
import { AttributeFilter, allScalar } from './attributes.js';
import { type AccountingBatchProcessor, createAccountingBatchProcessor } from './batch.js';
import {
  createExportErrorReporter,
  createExporter,
  type ExportErrorReporter,
  type ExportStats,
  exportHint,
  guardExporter,
  shownEndpoint,
} from './exporters.js';
import { otelLinks } from './links.js';
import { type OtelTracerOptions, resolveOptions } from './options.js';
import { api, resources } from './peers.js';
import { createPropagateOnly } from './propagate-only.js';
import {
  baggageOf,
  createPropagators,
  EMPTY_BAGGAGE,
  headerGetter,
  headerSetter,
  remoteSpanOf,
  withBaggage,
} from './propagation.js';
import { serviceResource } from './resource.js';
import { createDropPath, type DropPath, ownedDropPath, samplerFor } from './sampling.js';
import {
  type FinishedSpan,
  loadPeer,
  loadSdk,
  peerVersion,
  type SdkMemoryExporter,
  type SdkSpanProcessor,
  type SdkTracerProvider,
} from './sdk.js';
import { sdkInternals } from './sdk-internals.js';
import {
  B3_DEBUG_FLAG,
  contextOf,
  KINDS,
  keepRandomFlag,
  OtelSpanAdapter,
  spanName,
  toOtelSpan,
} from './span.js';
import { checkedTime } from './times.js';

const { context: contextApi, propagation, ROOT_CONTEXT, SpanKind, trace } = api;
const { defaultResource, resourceFromAttributes } = resources;

/** Name of the instrumentation scope spans are reported under. */
const SCOPE = 'hyperion';

/**
 * Version of that scope: this package's own. The scope had none, and the Jaeger thrift exporter
 * stringifies a missing version: every span in Jaeger carried the tag
 * `otel.library.version: "undefined"`. It was read from `package.json` three levels up from this
 * file, which a bundle of the service does not have there: bundled, spans lost the version again.
 * Written in the code instead; spec/tracing/scope-version.test.ts keeps it equal to package.json's.
 */
export const SCOPE_VERSION = '0.1.0';

/** A core `Tracer` backed by OpenTelemetry, with its lifecycle and test hooks. */
export interface OtelTracer extends Tracer {
  /**
   * Flushes pending spans, then shuts the provider down (when this tracer created it). Idempotent;
   * never rejects. Bounded by `options.timeoutMs` (default 10 000, the `createApp` disposer budget,
   * which `createApp` passes): the final export gets the budget minus a margin, then the tracer
   * gives up on the collector, counts the spans it could not deliver (`shutdown`), logs one
   * record, cuts its connections and resolves. Nothing of the tracer keeps the process alive after.
   * A `timeoutMs` that is not a number ≥ 0 (or `Infinity`), or an unknown key (`{ timeout }`: the
   * default budget applied without a word), rejects with a `ConfigError` and closes nothing (the
   * only rejection: such a budget gave up on every queued span at once). `signal` is taken (a
   * disposer's `DisposeInfo` carries it) but not read: `timeoutMs` bounds the close.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Exports every span ended so far without closing. Rejects with one `TracingError`
   * (`code: 'flush_failed'`, `causes`: every export error) when an export failed, or when
   * `close()` gave up on spans it was waiting for.
   */
  flush(): Promise<void>;
  /**
   * Export counters since creation: exported spans, failed exports, lost spans by reason. Absent
   * on a tracer given a `provider` (`ProviderOtelTracer`).
   */
  exportStats(): ExportStats;
  /** Spans finished so far — only with the `memory` exporter (empty otherwise). */
  finishedSpans(): readonly FinishedSpan[];
  /** Forgets the spans `finishedSpans()` returns (memory exporter). */
  resetFinishedSpans(): void;
  /** The provider spans are created with (`undefined` when tracing is disabled). */
  readonly provider: TracerProvider | undefined;
  /** The OpenTelemetry tracer behind this adapter, for code that wants the raw API on the same provider. */
  readonly otelTracer: ApiTracer | undefined;
}

/**
 * The tracer `createOtelTracer` returns for a `provider` you pass in: no `exportStats`, since its
 * exports go through that provider's own span processors, which this tracer cannot see (it used to
 * report zeros for everything, and `createApp` published them as `spans_exported_total 0`).
 */
export type ProviderOtelTracer = Omit<OtelTracer, 'exportStats'> & { readonly exportStats?: undefined };

const INTERNAL = SpanKind.INTERNAL;

/**
 * The open tracers built with `registerGlobal: true`, oldest first, and which of them holds the
 * global provider and propagator (the API takes one of each). A tracer built while another held
 * them got nothing, and when the holder closed the globals were just removed: in an in-process
 * reload (build the new app, swap, close the old one) every other generation ran with no global
 * provider or propagator — auto-instrumented libraries recorded nothing and sent no trace
 * headers. Now the newest open claimant takes over what the closing tracer held.
 */
interface GlobalClaim {
  readonly provider: TracerProvider | undefined;
  readonly propagator: TextMapPropagator;
  holdsProvider: boolean;
  holdsPropagator: boolean;
}
/**
 * What our tracers hold of the OpenTelemetry globals, shared by every copy of the package in the
 * process (as the globals themselves are): with two versions installed side by side, each copy
 * kept its own, so the other copy's tracers could not share the context manager (closing the
 * copy that registered it unregistered it under them: `activate` made nothing active any more)
 * nor take the provider and propagator over (the API logged "Attempted duplicate registration",
 * and once the holder closed, nothing was registered).
 *
 * - `manager`: the `AsyncLocalStorage` context manager our tracers registered globally
 *   (active-context mode), with how many open tracers use it: the first registers it, later ones
 *   share it, the last to close unregisters it.
 * - `claims`: held weakly (the tracer holds its claim): a tracer dropped without close() that
 *   holds nothing stays collectable, as it was before claims were kept.
 */
const shared = processWide(
  'tracing.otel.globals',
  (): { manager: { users: number } | undefined; claims: WeakRef<GlobalClaim>[] } => ({
    manager: undefined,
    claims: [],
  }),
);

/** The claims of tracers still reachable, oldest first (and the list pruned of the others). */
function liveClaims(): GlobalClaim[] {
  const live = shared.claims.flatMap((ref) => ref.deref() ?? []);
  if (live.length < shared.claims.length) shared.claims = live.map((c) => new WeakRef(c));
  return live;
}

/** Gives up what `claim` holds of the globals, handing each to the newest other claimant. */
function releaseGlobals(claim: GlobalClaim): void {
  shared.claims = shared.claims.filter((ref) => ref.deref() !== claim);
  const others = liveClaims();
  if (claim.holdsProvider) {
    trace.disable();
    const heir = others.findLast((c) => c.provider !== undefined);
    if (heir?.provider) heir.holdsProvider = trace.setGlobalTracerProvider(heir.provider);
  }
  if (claim.holdsPropagator) {
    propagation.disable();
    const heir = others.at(-1);
    if (heir) heir.holdsPropagator = propagation.setGlobalPropagator(heir.propagator);
  }
}

/** Budget of `close()` when none is given: the `createApp` disposer default. */
export const DEFAULT_CLOSE_BUDGET_MS = 10_000;

/**
 * What `close()` keeps of its budget for giving up: cutting connections, shutdown, the log record.
 * 10 %, at least 50 ms, at most 1 s — but never more than a fifth of a small budget: a flat 50 ms
 * took all of a budget up to 50 ms (`disposeTimeoutMs: 50`), and close dropped every queued span
 * at once, even for a collector answering in a few ms. Unchanged from 250 ms up.
 */
export function closeMargin(budgetMs: number): number {
  return Math.min(1000, Math.max(budgetMs * 0.1, Math.min(50, budgetMs * 0.2)));
}

const EMPTY: ExtractedContext = Object.freeze({ baggage: EMPTY_BAGGAGE });

/**
 * `startTime` as given, except a value that is no usable time — not finite (`NaN` from a failed
 * `Date.parse`) or after 2262-04-11 (nanoseconds passed as milliseconds, say; times.ts) — or one
 * before the epoch (negative): then the span starts now, with one warning per tracer (times.ts).
 * The SDK turned `NaN` into a start in 1970 lasting 56 years (OTLP), which stretched the whole
 * trace in Jaeger, a start in nanoseconds failed the whole export request it was in (Zipkin 400,
 * Jaeger thrift "outside Int64 range"), and so did a negative one over Zipkin (400: `-1` or
 * `Date.now() - wrongUnit`), losing that batch's other spans.
 */
const startTimeOf = (t: unknown, filter: AttributeFilter) =>
  t === undefined ? undefined : checkedTime(t, 'startTime', filter);

/** What `close(options)` takes: the core `CloseOptions` (a `createApp` disposer's `DisposeInfo`). */
const CLOSE_OPTION_KEYS = optionKeys<CloseOptions>({ timeoutMs: true, signal: true });

/** Why `close(options)` cannot be run with these options (a `ConfigError`), or `undefined`. */
function closeBudgetProblem(options: unknown): ConfigError | undefined {
  // A misspelt key (`close({ timeout: 2000 })`) was ignored and the 10 s default applied.
  if (unknownCloseKeys(options, CLOSE_OPTION_KEYS).length > 0)
    return new ConfigError(
      'tracer close: unknown option(s); the tracer was not closed',
      unknownKeyIssues(options, CLOSE_OPTION_KEYS),
    );
  const timeoutMs = (options as { timeoutMs?: unknown } | null)?.timeoutMs;
  if (
    options !== null &&
    typeof options === 'object' &&
    (timeoutMs === undefined || (typeof timeoutMs === 'number' && timeoutMs >= 0))
  )
    return undefined;
  const objectGiven = options !== null && typeof options === 'object';
  return new ConfigError(`tracer close: invalid ${objectGiven ? 'timeoutMs' : 'options'}`, [
    {
      path: objectGiven ? 'timeoutMs' : '',
      expected: objectGiven ? 'a number of ms ≥ 0, or Infinity' : 'an options object { timeoutMs }',
      received: objectGiven ? shownDuration(timeoutMs) : typeName(options),
      message: 'the tracer was not closed: nothing was given up',
    },
  ]);
}

/**
 * Builds a tracer from `options` (validated eagerly: a bad field throws `ConfigError` naming it).
 * With `enabled: false` or `exporter: 'none'` the tracer records nothing but still propagates
 * incoming trace context and baggage. Pass the tracer to `createApp`, which closes it (flushing
 * every ended span) on `app.close()`.
 */
/**
 * Runs `build`; when the exporter or propagator it refuses as unsupported on the installed line
 * (`otel_exporter_unsupported`, `otel_propagator_unsupported`) came from the environment variable
 * `variable`, not from the code, the error says so: it named only the option, which a service
 * configured by `OTEL_TRACES_EXPORTER=jaeger` has nowhere in its code or config file.
 */
/** The B3 debug flag a child of `parent` carries on (see `OtelSpanAdapter.b3Debug`). */
function b3DebugOf(parent: Span | undefined): unknown {
  return parent instanceof OtelSpanAdapter ? parent.b3Debug : undefined;
}

function fromVariable<T>(variable: string | undefined, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (
      variable !== undefined &&
      err instanceof TracingError &&
      (err.code === 'otel_exporter_unsupported' || err.code === 'otel_propagator_unsupported')
    )
      throw new TracingError(
        err.code,
        `${err.message} (it comes from the environment variable ${variable}, not from the code)`,
        { cause: err },
      );
    throw err;
  }
}

/**
 * The type says whether `exportStats` is there: a `provider` given is a `ProviderOtelTracer`
 * (none), none given an `OtelTracer`. Options whose `provider` is only known at run time (typed
 * `OtelTracerOptions`) stay typed `OtelTracer`, so that `const t: OtelTracer = createOtelTracer(o)`
 * keeps compiling; there `tracer.exportStats` must be checked before it is called (README).
 */
export function createOtelTracer(
  options: OtelTracerOptions & { provider: TracerProvider },
): ProviderOtelTracer;
export function createOtelTracer(options?: OtelTracerOptions & { provider?: undefined }): OtelTracer;
export function createOtelTracer(options: OtelTracerOptions): OtelTracer;
export function createOtelTracer(options: OtelTracerOptions = {}): OtelTracer | ProviderOtelTracer {
  // Options that are not an object (`null` from JavaScript): a ConfigError, as the other factories
  // give; it was a TypeError reading 'attributes' of null.
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createOtelTracer: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const o = resolveOptions(options);
  // Without a logger option, the tracer logs through the one `createApp` hands it (useLogger),
  // silently until then; `ownLogger` is what was known at creation (construction-time warnings).
  // adaptLogger, as createApp applies it: a pino instance given as it is takes fields first, so
  // the tracer's message-first records lost their fields (the export's error, the dropped count).
  const given = options.logger === undefined ? undefined : adaptLogger(options.logger);
  const ownLogger = given ?? noopLogger;
  let adopted: Logger = noopLogger;
  const target = () => given ?? adopted;
  // Every record the tracer writes goes through here, and a logger that throws (a closed
  // destination, a `write` of the caller's own) is ignored: the export-failure record threw inside
  // the batch processor's accounting, the export never settled, `flush()` never resolved and no
  // span was exported again; a string given as attributes threw into the request.
  const logAt =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: LogFields): void => {
      try {
        dropLogResult(target()[level](message, fields));
      } catch {
        // the tracer goes on
      }
    };
  const logger: Logger = {
    debug: logAt('debug'),
    info: logAt('info'),
    warn: logAt('warn'),
    error: logAt('error'),
    // `child` is optional for the app's logger (console has none): the logger itself then.
    child: (fields) => {
      const t = target();
      return typeof t.child === 'function' ? t.child(fields) : t;
    },
  };
  // OTEL_* values read with a warning (env.ts): to the logger, else a process warning (on stderr
  // by default), as the tls warnings are; never silent, never a failure.
  for (const message of o.warnings) {
    if (ownLogger === noopLogger)
      process.emitWarning(message, { type: 'HyperionTracingWarning', code: 'HYPERION_OTEL_ENV' });
    else
      try {
        logger.warn(message);
      } catch {
        // a logger that throws must not stop the tracer from being built
      }
  }
  const { all: propagator, noBaggage } = fromVariable(
    options.propagators === undefined && o.propagators.includes('jaeger') ? 'OTEL_PROPAGATORS' : undefined,
    () =>
      createPropagators(o.propagators, () => {
        try {
          return loadSdk().line;
        } catch {
          return undefined;
        }
      }),
  );
  const validateExtracted = o.propagators.includes('jaeger');
  // Only the W3C baggage header can carry baggage unless Jaeger (uberctx-*) is configured: without
  // that header the extracted context has none, and the lookup is skipped.
  const baggageOnlyByHeader = !o.propagators.includes('jaeger');
  const filter = new AttributeFilter(logger);
  // A parent (or injected) span of the user's own whose spanContext() throws counts as no span,
  // with one warning per tracer: it threw into the caller's request handler.
  let warnedBrokenSpan = false;
  const brokenSpan = (error: unknown) => {
    if (warnedBrokenSpan) return;
    warnedBrokenSpan = true;
    try {
      logger.warn('tracing: a span whose spanContext() throws was used as a parent; taken as no span', {
        error,
      });
    } catch {
      // a logger that throws must not bring the failure back
    }
  };
  // Header values as sent (and a bearer token without its scheme) that a collector may echo, and
  // the endpoint's credentials: user:pass in the URL goes out as `Authorization: Basic <base64>`
  // (a collector echoing it leaked it, as the header value it is), a query value is an API key.
  const headerSecrets = [...Object.values(o.headers), ...endpointSecrets(o.endpoint)].flatMap((v) => {
    const credentials = /^\S+ +(\S.*)$/.exec(v)?.[1];
    return [v, ...(credentials && credentials.length >= 8 ? [credentials] : [])].filter((x) => x.length >= 4);
  });
  // Node sends an endpoint's `user:password@` as basic auth unless an `authorization` header is
  // given: then a refusal is about the URL's credentials, not `headers`.
  const endpointCredentials =
    o.provider === undefined &&
    !Object.keys(o.headers).some((name) => name.toLowerCase() === 'authorization') &&
    hasUserinfo(o.endpoint);
  const reporter = createExportErrorReporter({
    logger,
    exporter: o.exporter,
    endpointCredentials,
    // Only where the tracer sends the spans itself (a provider of yours exports elsewhere).
    endpoint:
      o.provider === undefined && ['otlp', 'zipkin', 'jaeger'].includes(o.exporter)
        ? shownEndpoint(o.endpoint)
        : undefined,
    intervalMs: o.errorLogIntervalMs,
    now: o.now,
  });

  const recording = o.enabled && (o.provider !== undefined || o.exporter !== 'none');
  let provider: TracerProvider | undefined;
  let owned: SdkTracerProvider | undefined;
  let memory: SdkMemoryExporter | undefined;
  let batching: AccountingBatchProcessor | undefined;
  let agents: ExportAgents | undefined;
  let requests: RequestTracker | undefined;
  // Spans the sampler certainly drops skip the SDK (same result, ids drawn lazily): sampling.ts.
  let drop: DropPath | undefined;
  // The 3.x SDK keeps any-value attributes at span start (maps, mixed arrays: API 1.10), which the
  // core contract does not carry: filter them ourselves there, as setAttributes always does.
  let filterAtStart = false;
  if (recording) {
    const sdk = loadSdk();
    filterAtStart = sdk.line === 3;
    if (o.provider) {
      provider = o.provider;
      // Its one warning per logger: keyed on the caller's logger (the wrapper is per tracer; a
      // pino or console logger is keyed on its adapter, so once per tracer).
      drop = createDropPath(
        provider.getTracer(SCOPE, SCOPE_VERSION),
        sdk,
        sdkInternals(sdk, given ?? logger),
        o.activeContext,
      );
    } else {
      const exporterName = o.exporter as Exclude<typeof o.exporter, 'none'>;
      // OTLP sends through our agent, so close() can cut its connections (agent.ts).
      if (exporterName === 'otlp') agents = createExportAgents(o.tls);
      if (exporterName === 'zipkin' || exporterName === 'jaeger')
        requests = createRequestTracker({ reportsAtBodyEnd: exporterName === 'zipkin' });
      // Its warnings come now (a process warning for tls without a logger): the logger known now.
      const exporter = fromVariable(
        options.exporter === undefined && options.provider === undefined ? 'OTEL_TRACES_EXPORTER' : undefined,
        () => createExporter(exporterName, o, ownLogger, sdk, agents, requests),
      );
      if (exporter instanceof sdk.InMemorySpanExporter) memory = exporter;
      // Memory and console export synchronously (tests read spans right after end()); network
      // exporters batch, with a bounded queue so a dead collector cannot grow memory, and every
      // lost span counted (batch.ts).
      let processor: SdkSpanProcessor;
      if (exporterName === 'memory') processor = sdk.simpleProcessor(guardExporter(exporter, reporter));
      else if (exporterName === 'console')
        processor = countLateSpans(sdk.simpleProcessor(guardExporter(exporter, reporter)), reporter);
      else {
        batching = createAccountingBatchProcessor({
          exporter,
          // Export errors are scrubbed before the reporter logs them, as flush() scrubs its causes:
          // an OTLP partial success carries the collector's own message, and one echoing the
          // request (`Bearer <token>`) put the token into the `span export failed` log record.
          accounting: {
            succeeded: reporter.succeeded,
            failed: (spans, error) => {
              scrubEchoes(error, headerSecrets);
              reporter.failed(spans, error);
            },
            dropped: reporter.dropped,
          },
          redact: (text) => scrubText(text, headerSecrets),
          ...o.batch,
          // OTLP: the processor runs the exporter's retries (agent.ts), so an export is bounded by
          // the exporter's own timeout (10 s by default), which is never above the batch one —
          // as the SDK's exporter gives a request and its retries 10 s inside the processor's 30 s.
          ...(exporterName === 'otlp' ? { exportTimeoutMillis: o.otlpTimeoutMillis } : {}),
          abort: () => {
            agents?.abort();
            requests?.abort();
          },
          // OTLP: retryable answers are retried by the processor, on timers close() cancels.
          // Zipkin and Jaeger: a timed-out export's requests are cut (they set no timeout).
          ...(agents ? { observe: agents.attempt } : requests ? { observe: requests.attempt } : {}),
          // The Jaeger exporter's thrift sender buffers spans across export calls: one at a time.
          ...(o.exporter === 'jaeger' ? { closeConcurrency: 1 } : {}),
        });
        processor = batching;
      }
      const sampling = samplerFor(sdk, o.sampleRate, o.parentBased);
      const idGenerator = new sdk.RandomIdGenerator();
      owned = sdk.provider({
        // service.name, service.version and a generated service.instance.id (resource.ts).
        resource: defaultResource().merge(resourceFromAttributes(serviceResource(o) as OtelAttributes)),
        sampler: sampling.sampler,
        idGenerator,
        spanProcessors: [processor],
        // The OTEL_*_LIMIT variables, read by us for both lines (the 3.x SDK reads none).
        ...(o.spanLimits ? { spanLimits: { ...o.spanLimits } } : {}),
      });
      provider = owned;
      drop = ownedDropPath(sdk, sampling, idGenerator, o.activeContext);
    }
  }
  const otel = provider?.getTracer(SCOPE, SCOPE_VERSION);
  const dropRoot = drop?.root;
  const dropChild = drop?.child;
  const dropNewRoot = drop?.newRoot;
  // exporter 'none' = propagate-only (new span ids, nothing recorded); enabled: false = pass-through.
  const unrecorded =
    o.enabled && !recording
      ? createPropagateOnly({
          sampleRate: o.sampleRate,
          parentBased: o.parentBased,
          activeContext: o.activeContext,
          filter,
          brokenParent: brokenSpan,
        })
      : noopTracer.startSpan;

  // A second, older API copy holding the globals makes both options silently do nothing.
  const copyWarning =
    (o.activeContext || o.registerGlobal) && o.enabled
      ? apiCopyWarning(
          peerVersion('@opentelemetry/api') ?? '',
          [o.activeContext && 'activeContext: true', o.registerGlobal && 'registerGlobal: true']
            .filter(Boolean)
            .join(' and '),
        )
      : undefined;
  if (copyWarning !== undefined) {
    if (ownLogger === noopLogger)
      process.emitWarning(copyWarning, { type: 'HyperionTracingWarning', code: 'HYPERION_OTEL_API_COPIES' });
    else
      try {
        logger.warn(copyWarning);
      } catch {
        // a logger that throws must not stop the tracer from being built
      }
  }

  // Global registration only on request: a library must not take over the process's OTel setup.
  let usesSharedManager = false;
  // Also in propagate-only mode (`exporter: 'none'`), whose spans have identities to make active:
  // there no manager was registered and `activate` was missing, so `withSpan` made nothing active
  // and auto-instrumented clients (through the global propagator) sent no trace of ours.
  const activates = o.activeContext && o.enabled;
  if (activates) {
    if (shared.manager) {
      // Another tracer of ours registered one: use it too (it stays until the last user closes).
      shared.manager.users++;
      usesSharedManager = true;
    } else {
      const { AsyncLocalStorageContextManager } = loadPeer<
        typeof import('@opentelemetry/context-async-hooks')
      >('@opentelemetry/context-async-hooks', 'activeContext: true');
      const cm = new AsyncLocalStorageContextManager().enable();
      // Fails (returns false) when the application registered its own manager: then that one is used.
      if (contextApi.setGlobalContextManager(cm)) {
        shared.manager = { users: 1 };
        usesSharedManager = true;
      } else cm.disable();
    }
  }
  // Each registration fails (false) when something else holds that global; then it is not ours
  // to undo — unless another tracer of ours holds it and closes first (see `shared`).
  // The propagator also without a provider (exporter 'none'): propagation is all that mode does,
  // and it used to register nothing.
  let globalClaim: GlobalClaim | undefined;
  if (o.registerGlobal && o.enabled) {
    // Not tried while another tracer of ours holds it (this one takes over when that one closes):
    // the API logs each refused registration as an error ("Attempted duplicate registration").
    const held = (key: 'holdsProvider' | 'holdsPropagator') => liveClaims().some((c) => c[key]);
    globalClaim = {
      provider,
      propagator,
      holdsProvider: provider && !held('holdsProvider') ? trace.setGlobalTracerProvider(provider) : false,
      holdsPropagator: !held('holdsPropagator') && propagation.setGlobalPropagator(propagator),
    };
    shared.claims.push(new WeakRef(globalClaim));
  }

  // Without active-context mode the parent is only what the caller passes; with it, a span
  // started without a parent nests under the active OTel span (e.g. an auto-instrumented request).
  const fixedRoot = o.activeContext ? undefined : ROOT_CONTEXT;

  let closing: Promise<void> | undefined;
  const flush = async () => {
    try {
      if (batching) await batching.forceFlush();
      else await (owned ?? (provider as { forceFlush?: () => Promise<void> } | undefined))?.forceFlush?.();
    } catch (err) {
      // The SDK's provider rejects with a plain array; our processor with an AggregateError.
      const causes: unknown[] = err instanceof AggregateError ? err.errors : Array.isArray(err) ? err : [err];
      for (const c of causes) {
        scrubEchoes(c, headerSecrets);
        restoreOriginalCode(c);
      }
      const first = causes[0] as
        | { message?: unknown; code?: unknown; originalCode?: unknown; data?: unknown }
        | undefined;
      const reason = typeof first?.message === 'string' ? first.message : String(first);
      const hint = exportHint(
        first?.originalCode ?? first?.code,
        reason,
        o.provider ? undefined : o.exporter,
        first?.data,
        o.provider ? undefined : o.endpoint,
        endpointCredentials,
      );
      throw new TracingError(
        'flush_failed',
        `tracing: flush failed (${causes.length} error(s)): ${reason}${hint ? ` (${hint})` : ''}`,
        { causes },
      );
    }
  };

  const tracer: Omit<OtelTracer, 'exportStats'> & { exportStats?: () => ExportStats } = {
    provider,
    otelTracer: otel,

    startSpan(name: string, spanOptions?: SpanOptions): Span {
      // Disabled: the no-op span keeps the parent's identity, so downstream injection continues the trace.
      if (!otel) return unrecorded(name, spanOptions);
      const parent = spanOptions?.parent;
      // Asked for a new trace (a server span without an incoming context): in active-context mode
      // the active span (e.g. one active when the server was created) is not its parent.
      const root = !parent && spanOptions?.root === true;
      const dropped = parent ? dropChild?.(parent) : root ? dropNewRoot?.() : dropRoot?.();
      if (dropped !== undefined) return dropped;
      let attributes = spanOptions?.attributes;
      if (attributes !== undefined && !filter.usable(attributes)) attributes = undefined;
      const kind = spanOptions?.kind;
      // OpenTelemetry 2.x drops invalid start attributes itself (silently); we add the warning,
      // and set the string form over each non-finite number it kept — only for spans that
      // record: unsampled spans skip the check entirely. The scalar-only pass runs inline; the
      // full test and the warning only when it fails.
      const spanName_ = typeof name === 'string' ? name : spanName(name);
      const otelOptions = {
        kind: kind === undefined ? INTERNAL : (KINDS[kind] ?? INTERNAL),
        attributes: (filterAtStart && attributes ? filter.filter(attributes) : attributes) as
          | OtelAttributes
          | undefined,
        startTime: startTimeOf(spanOptions?.startTime, filter),
        // Links are checked like attributes (links.ts); read only when given.
        links: spanOptions?.links === undefined ? undefined : otelLinks(spanOptions.links, filter),
      };
      // A new trace in active-context mode keeps the rest of the active context (suppressed tracing).
      const ctx = parent
        ? contextOf(parent, brokenSpan)
        : (fixedRoot ?? (root ? trace.deleteSpan(contextApi.active()) : contextApi.active()));
      let span: ReturnType<typeof otel.startSpan>;
      try {
        span = otel.startSpan(spanName_, otelOptions, ctx);
      } catch (err) {
        // Attributes that throw when read (a getter, a Proxy): start from what can be read of
        // them instead of throwing into the caller's request.
        if (!attributes) throw err;
        otelOptions.attributes = filter.copy(attributes);
        span = otel.startSpan(spanName_, otelOptions, ctx);
        keepRandomFlag(span, ctx);
        return new OtelSpanAdapter(span, filter, b3DebugOf(parent), otelOptions.startTime !== undefined);
      }
      // The W3C Level 2 random flag of the parent goes on (the SDK drops it), before anything reads the ids.
      keepRandomFlag(span, ctx);
      if (attributes && !filterAtStart && span.isRecording()) {
        try {
          if (!allScalar(attributes)) {
            const converted = filter.check(attributes);
            if (converted) span.setAttributes(converted);
          }
        } catch {
          // read fine by the SDK, throwing now: the copy's values are what can still be read
          span.setAttributes(filter.copy(attributes));
        }
      }
      return new OtelSpanAdapter(span, filter, b3DebugOf(parent), otelOptions.startTime !== undefined);
    },

    inject(carrier, source) {
      // A `Headers` or `Map` (JavaScript callers; the type asks for a plain object) is written with `set`.
      if (isHeaderMap(carrier)) return injectInto(carrier, (plain) => tracer.inject(plain, source));
      const span = source?.span;
      const baggage = source?.baggage;
      // Our spans cache their context: injecting for the same span twice allocates nothing.
      const ctx: Context =
        span instanceof OtelSpanAdapter ? span.context() : span ? contextOf(span, brokenSpan) : ROOT_CONTEXT;
      // Span contexts never carry baggage: only the caller's makes the baggage propagator useful.
      const withBag = baggage ? withBaggage(ctx, baggage) : ctx;
      if (withBag === ROOT_CONTEXT) return;
      (withBag === ctx ? noBaggage : propagator).inject(withBag, carrier, headerSetter);
    },

    extract(carrier: Readonly<HeaderCarrier>): ExtractedContext {
      if (!carrier || typeof carrier !== 'object') return EMPTY;
      carrier = readableCarrier(carrier); // a `Headers` or `Map` is read by its entries
      let ctx: Context;
      try {
        ctx = (carrier.baggage ? propagator : noBaggage).extract(ROOT_CONTEXT, carrier, headerGetter);
      } catch {
        return EMPTY; // malformed input is ignored, never thrown
      }
      const remote = remoteSpanOf(ctx, validateExtracted);
      const baggage = baggageOnlyByHeader && !carrier.baggage ? EMPTY_BAGGAGE : baggageOf(ctx);
      if (!remote) return baggage === EMPTY_BAGGAGE ? EMPTY : { baggage };
      return { parent: new OtelSpanAdapter(remote, filter, ctx.getValue(B3_DEBUG_FLAG)), baggage };
    },

    flush,
    close(given?: CloseOptions) {
      // A signal name or an exit code (`process.once('SIGTERM', tracer.close)`): the defaults.
      const closeOptions = closeOptionsOf(given);
      // A budget that is not a number of ms (NaN, negative, a string) gave up on the collector at
      // once and dropped every queued span as `shutdown`: refused instead, the tracer left open.
      const bad = closeOptions === undefined || closing ? undefined : closeBudgetProblem(closeOptions);
      if (bad) return Promise.reject(bad);
      closing ??= (async () => {
        const budget = closeOptions?.timeoutMs ?? DEFAULT_CLOSE_BUDGET_MS;
        const bounded = budget !== Number.POSITIVE_INFINITY;
        const started = performance.now();
        const flushBudget = bounded ? Math.max(0, budget - closeMargin(budget)) : budget;
        const left = () => (bounded ? Math.max(0, started + flushBudget - performance.now()) : budget);
        const gaveUp = () => new TimeoutError('tracer close ran out of its budget');
        let timedOut = false;
        reporter.beginClose();
        try {
          // Export failures are counted and logged by the reporter; closing goes on regardless,
          // so a dead or slow collector can neither make app.close() fail nor outlast its budget.
          if (batching) timedOut = (await batching.close(flushBudget)).timedOut;
          else await withTimeout(flush(), left(), gaveUp, { unref: true }).catch(() => {});
          await withTimeout(owned?.shutdown() ?? Promise.resolve(), Math.max(50, left()), gaveUp, {
            unref: true,
          }).catch(() => {});
        } finally {
          agents?.abort();
          requests?.abort();
          reporter.closed({
            budgetMs: budget,
            ...(timedOut ? { gaveUpAfterMs: Math.round(flushBudget) } : {}),
          });
          if (globalClaim) releaseGlobals(globalClaim);
          // Only the last tracer using our manager unregisters it (closing one tracer used to
          // take active context away from every other tracer in the process).
          if (usesSharedManager && shared.manager && --shared.manager.users === 0) {
            shared.manager = undefined;
            contextApi.disable();
          }
        }
      })();
      return closing;
    },

    useLogger(appLogger: Logger) {
      // A logger given to the tracer wins; an unusable one is ignored (records must not throw).
      if (options.logger === undefined && typeof appLogger?.warn === 'function') adopted = appLogger;
    },
    // Whenever a provider is given, as its type says (disabled too: it had zeros there).
    ...(o.provider ? {} : { exportStats: () => reporter.stats() }),
    finishedSpans: () => memory?.getFinishedSpans() ?? [],
    resetFinishedSpans: () => memory?.reset(),
  };

  if (activates) {
    tracer.activate = <T>(span: Span, fn: () => T, baggage?: Baggage): T => {
      const s = toOtelSpan(span, brokenSpan);
      if (!s) return fn();
      // The ctx's baggage becomes the active context's too: auto-instrumented clients inject the
      // active context's baggage (and baggage span processors read it), and it had none, so a
      // call made through them sent the traceparent but lost the incoming baggage.
      const active = withBaggage(contextApi.active(), baggage);
      return contextApi.with(trace.setSpan(active, s), fn);
    };
  }
  // `exportStats` is there exactly when no provider was passed in (the overloads say which).
  return tracer as OtelTracer | ProviderOtelTracer;
}

/**
 * What the endpoint URL sends that may be a secret: its password (as written and decoded), the
 * Basic credentials Node derives from `user:pass`, and its query values. Nothing for a URL
 * without them (the usual case) or one that does not parse.
 */
function endpointSecrets(endpoint: string | undefined): string[] {
  if (endpoint === undefined || !URL.canParse(endpoint)) return [];
  const u = new URL(endpoint);
  const out: string[] = [];
  if (u.username || u.password) {
    const decode = (x: string) => {
      try {
        return decodeURIComponent(x);
      } catch {
        return x;
      }
    };
    const user = decode(u.username);
    const pass = decode(u.password);
    // A token given as the user name alone (`https://<token>@host`) is the secret then.
    if (u.password) out.push(u.password, pass);
    else out.push(u.username, user);
    out.push(`Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`);
  }
  for (const [, value] of u.searchParams) out.push(value, encodeURIComponent(value));
  // Each value also as the request carries it (the URL's serialized query): a `+` for a space, or
  // a `'` the URL parser percent-encodes (`%27`), is echoed in that form, which neither of the two
  // above is — a collector echoing the request put `?api_key=SECRET+KEY` into flush()'s error.
  for (const pair of u.search.slice(1).split('&')) {
    const at = pair.indexOf('=');
    if (at >= 0) out.push(pair.slice(at + 1));
  }
  return out;
}

/** Whether the endpoint URL has a user name or password. */
function hasUserinfo(endpoint: string | undefined): boolean {
  if (endpoint === undefined || !URL.canParse(endpoint)) return false;
  const u = new URL(endpoint);
  return u.username !== '' || u.password !== '';
}

/**
 * Replaces `secrets` in the message and the response body (`data`, which the OTLP exporter keeps)
 * of `err` and the errors it wraps: a collector or proxy that echoes the request's headers in its
 * refusal (`401 … Bearer <token>`) put the token into the flush error's `causes` and so into logs.
 */
function scrubEchoes(err: unknown, secrets: readonly string[], depth = 0): void {
  if (secrets.length === 0 || err === null || typeof err !== 'object' || depth > 3) return;
  const e = err as { message?: unknown; data?: unknown; cause?: unknown };
  const scrub = (text: string) => scrubText(text, secrets);
  for (const key of ['message', 'data'] as const) {
    const value = e[key];
    if (typeof value !== 'string') continue;
    const clean = scrub(value);
    if (clean === value) continue;
    try {
      e[key] = clean;
      // The stack starts with the message.
      if (key === 'message' && err instanceof Error && typeof err.stack === 'string')
        err.stack = scrub(err.stack);
    } catch {
      // a read-only field: left as it is
    }
  }
  scrubEchoes(e.cause, secrets, depth + 1);
}

/** `text` with every occurrence of each of `secrets` replaced by `[redacted]`. */
function scrubText(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

/** The SDK's span-processor contract, as both lines define it (public methods only). */
interface SimpleSpanProcessor {
  onStart(span: unknown, parentContext: unknown): void;
  onEnd(span: FinishedSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The console exporter's processor, counting a sampled span ended once the provider shut down as
 * a `shutdown` drop (the reporter says the first one after close in a warning): the SDK's simple
 * processor ignores it, so a span ended by a handler still running after close() was neither
 * written to stdout nor counted — lost without a trace, where a network exporter counts it.
 */
function countLateSpans(processor: SdkSpanProcessor, reporter: ExportErrorReporter): SdkSpanProcessor {
  const inner = processor as SimpleSpanProcessor;
  let shut = false;
  return {
    onStart: (span: unknown, parentContext: unknown) => inner.onStart(span, parentContext),
    onEnd(span: FinishedSpan) {
      if (!shut) return inner.onEnd(span);
      if ((span.spanContext().traceFlags & 1) !== 0) reporter.dropped('shutdown', 1);
    },
    forceFlush: () => inner.forceFlush(),
    shutdown() {
      shut = true;
      return inner.shutdown();
    },
  } satisfies SimpleSpanProcessor;
}
