/**
 * Span exporters by name, and a guard around them that turns export failures into one log record
 * per interval (a collector that is down must not produce a log line per span or per batch).
 */
import type { ExportResult } from '@opentelemetry/core';
import type { Logger, SpanDropReason, TracerStats } from '../../core/contracts.js';
import { TracingError } from '../../core/errors.js';
import { noopLogger } from '../../core/noop.js';
import { MAX_TIMER_MS } from '../../core/options.js';
import { withTimeout } from '../../core/timeout.js';
import type { ExportAgents, RequestTracker } from './agent.js';
import type { ExporterName, ResolvedOptions } from './options.js';
import { core } from './peers.js';
import { type FinishedSpan, loadPeer, type Sdk, type SdkSpanExporter } from './sdk.js';
import { closeJaegerSender, hasJaegerSender } from './sdk-internals.js';

const { ExportResultCode } = core;

// Network exporters are optional peers with sizeable dependency trees (the Jaeger one pulls in
// thrift): load only the one configured.

/**
 * A warning about the transport's security (unverified collector, spans sent in clear): to the
 * tracer's logger, or — when none was given — as a process warning (`HyperionTracingWarning`,
 * code `HYPERION_OTLP_TLS`), printed on stderr by default. It went to the no-op logger, so an
 * insecure setting passed without a logger was silent.
 */
function warnTls(logger: Logger, message: string): void {
  warnAtCreation(logger, message, 'HYPERION_OTLP_TLS');
}

/**
 * A warning made while the tracer is built: to `logger`, else a process warning — a tracer built
 * without a `logger` option gets createApp's only later, and the jaeger exporter's warnings went
 * to the silent logger of that moment.
 */
function warnAtCreation(logger: Logger, message: string, code: string): void {
  if (logger === noopLogger) process.emitWarning(message, { type: 'HyperionTracingWarning', code });
  else logger.warn(message);
}

/** Builds the exporter `name` for `endpoint`. `none` has no exporter. */
export function createExporter(
  name: Exclude<ExporterName, 'none'>,
  options: Pick<ResolvedOptions, 'endpoint' | 'headers' | 'batch'> &
    Partial<Pick<ResolvedOptions, 'tls' | 'compression' | 'otlpTimeoutMillis'>>,
  logger: Logger,
  sdk: Sdk,
  agents?: ExportAgents,
  requests?: RequestTracker,
): SdkSpanExporter {
  const url = options.endpoint;
  const headers = { ...options.headers };
  if (options.tls && name !== 'otlp')
    warnTls(
      logger,
      `tracing: the tls option applies to the otlp exporter only; the ${name} exporter ignores it`,
    );
  // A private CA or client certificate says the export was meant to be encrypted: an http: endpoint
  // (a typo, or an OTEL_EXPORTER_OTLP_ENDPOINT override) sends the spans and every header in clear.
  if (options.tls && name === 'otlp' && url?.startsWith('http:'))
    warnTls(
      logger,
      'tracing: tls is set but the otlp endpoint is http:, so tls is ignored and spans and headers ' +
        '(authorization included) are sent unencrypted; use an https: endpoint',
    );
  if (options.tls?.rejectUnauthorized === false && name === 'otlp' && url?.startsWith('https:'))
    warnTls(
      logger,
      'tracing: tls.rejectUnauthorized is false, so the collector certificate and host name are not verified: ' +
        'anyone on the network path can pose as the collector and read the spans and headers (for tests only)',
    );
  switch (name) {
    case 'memory':
      return new sdk.InMemorySpanExporter();
    case 'console':
      return guardStdout(new sdk.ConsoleSpanExporter());
    case 'otlp': {
      const m = loadPeer<typeof import('@opentelemetry/exporter-trace-otlp-proto')>(
        '@opentelemetry/exporter-trace-otlp-proto',
        "exporter: 'otlp'",
      );
      // Its own timeout (10 s by default, OTEL_EXPORTER_OTLP_TIMEOUT), never above the processor's
      // export timeout (options.ts); the processor bounds the export by it too (tracer.ts).
      return new m.OTLPTraceExporter({
        url,
        headers,
        timeoutMillis: options.otlpTimeoutMillis ?? options.batch.exportTimeoutMillis,
        // From OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION, checked in env.ts (unset: the exporter's default, none).
        ...(options.compression
          ? {
              // The exporter's CompressionAlgorithm enum has these very values ('gzip', 'none').
              compression: options.compression as NonNullable<
                ConstructorParameters<typeof m.OTLPTraceExporter>[0]
              >['compression'],
            }
          : {}),
        // Our agent (see agent.ts): the tracer cuts its sockets on close, connection errors are not
        // retried on the exporter's uncancellable timers, and `tls` (private CA / mutual TLS) applies
        // to https endpoints. Without one, `tls` goes straight to the exporter's own agent.
        ...(agents
          ? { httpAgentOptions: (protocol: string) => agents.factory(protocol) }
          : options.tls
            ? { httpAgentOptions: { keepAlive: true, ...options.tls } }
            : {}),
      }) as unknown as SdkSpanExporter;
    }
    case 'zipkin': {
      const m = loadPeer<typeof import('@opentelemetry/exporter-zipkin')>(
        '@opentelemetry/exporter-zipkin',
        "exporter: 'zipkin'",
      );
      const inner = new m.ZipkinExporter({ url, headers }) as unknown as SdkSpanExporter;
      // Zipkin marks a failed span by its `error` tag, which the exporter writes only from a
      // status description — and HTTP status errors carry none (the conventions: the status code
      // says it), so Jaeger and Zipkin showed them as successful.
      const zipkin: SdkSpanExporter = {
        export: (spans, done) => inner.export(spans.map(withErrorDescription), done),
        forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
        shutdown: () => inner.shutdown(),
      };
      if (!requests) return zipkin;
      // It sends with the global agent and no request timeout: its requests are tracked so that
      // close() can cut them (agent.ts).
      return {
        export: (spans, done) => requests.capture(() => zipkin.export(spans, done)),
        forceFlush: () => zipkin.forceFlush?.() ?? Promise.resolve(),
        shutdown: () => zipkin.shutdown(),
      };
    }
    case 'jaeger': {
      // Upstream ended the thrift exporter at 2.11: it pins the 2.x core and SDK, whose API peer
      // range excludes the 1.10 API of the 3.x line (loading it would bring a second API copy).
      if (sdk.line !== 2)
        throw new TracingError(
          'otel_exporter_unsupported',
          `tracing: exporter 'jaeger' (thrift) exists only for OpenTelemetry JS 2.x, and ${sdk.packageName} ` +
            `${sdk.version} is installed: use exporter 'otlp' instead (Jaeger accepts OTLP natively, ` +
            'e.g. endpoint http://jaeger:4318/v1/traces)',
        );
      const m = loadPeer<typeof import('@opentelemetry/exporter-jaeger')>(
        '@opentelemetry/exporter-jaeger',
        "exporter: 'jaeger'",
      );
      if (Object.keys(headers).length > 0)
        warnAtCreation(
          logger,
          'tracing: the jaeger exporter cannot send custom headers; they are ignored',
          'HYPERION_JAEGER_EXPORTER',
        );
      // Credentials travel as basic auth; keep them out of the URL the sender logs.
      const u = new URL(url!);
      const username = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      u.username = '';
      u.password = '';
      // Its HTTP sender posts to the URL's path alone and sends basic auth only when it has both
      // a user name and a password: a gateway's `?api_key=…` or a token as the user name alone
      // (`https://<token>@host`) were dropped without a word, and every export was refused.
      if (u.search)
        warnAtCreation(
          logger,
          "tracing: the jaeger exporter posts to the endpoint's path only: its query string is not sent",
          'HYPERION_JAEGER_EXPORTER',
        );
      if (Boolean(username) !== Boolean(password))
        warnAtCreation(
          logger,
          'tracing: the jaeger exporter sends basic auth only when the endpoint has both a user name and ' +
            'a password: the one given alone is not sent',
          'HYPERION_JAEGER_EXPORTER',
        );
      // `maxSpanBatchSize` reaches its HTTP sender (the exporter hands its whole config on), which
      // otherwise posts every 100 spans and waits for each answer before appending more: a batch of
      // 512 took 6 round trips one after the other, so a collector answering in 1.5 s got none of
      // them delivered within close's budget. One request per batch, as otlp and zipkin send.
      const jaeger = new m.JaegerExporter({
        endpoint: u.href,
        ...(username ? { username, password } : {}),
        maxSpanBatchSize: options.batch.maxExportBatchSize,
      } as ConstructorParameters<typeof m.JaegerExporter>[0]);
      const ownSender = hasJaegerSender(jaeger);
      // Through warnAtCreation as the warnings above: with logger.warn it went to the silent
      // logger of a tracer built without a `logger` option.
      if (!ownSender)
        warnAtCreation(
          logger,
          'tracing: the installed jaeger exporter differs from the one hyperion was tested with; ' +
            'using its own shutdown, which may keep the process alive for its flush timeout',
          'HYPERION_JAEGER_EXPORTER',
        );
      // Built against sdk-trace 2.11; the ReadableSpan shape it reads is the same in 2.12.
      const inner = jaeger as unknown as SdkSpanExporter;
      // Its HTTP sender's requests are tracked too, so close() can cut them (agent.ts).
      const tracked = <T>(fn: () => T): T => (requests ? requests.capture(fn) : fn());
      return {
        export: (spans, done) => tracked(() => inner.export(spans, done)),
        forceFlush: () => tracked(() => jaeger.forceFlush()),
        // Its own shutdown races the last flush against a timer that is not unref'd, which keeps
        // the process alive for the whole timeout: flush under our own (unref'd) bound instead,
        // then close the HTTP sender's keep-alive agent.
        async shutdown() {
          if (!ownSender) return jaeger.shutdown();
          try {
            await withTimeout(
              tracked(() => jaeger.forceFlush()),
              options.batch.exportTimeoutMillis,
              () => new Error(`export did not finish within ${options.batch.exportTimeoutMillis} ms`),
              { unref: true },
            );
          } finally {
            closeJaegerSender(jaeger);
          }
        },
      };
    }
  }
}

/**
 * The watch of one output stream, shared by every console exporter writing to it: one 'error'
 * listener while any of their writes is pending, and once the stream failed, failed for all.
 */
interface StreamGuard {
  pending: number;
  gone: Error | undefined;
  readonly onError: (err: Error) => void;
}

const streamGuards = new WeakMap<object, StreamGuard>();

function guardOf(out: object): StreamGuard {
  let guard = streamGuards.get(out);
  if (!guard) {
    const g: StreamGuard = {
      pending: 0,
      gone: undefined,
      onError: (err) => {
        g.gone ??= err;
      },
    };
    streamGuards.set(out, g);
    guard = g;
  }
  return guard;
}

/**
 * The console exporter with stdout going away under it. The SDK's exporter writes with
 * `console.dir`, and the global console ignores a write error only while the write call runs:
 * stdout closing (`node app | head`, a log pipe whose reader went away: EPIPE) is an 'error' event
 * emitted a moment later, with no listener — an uncaught exception that ended the process.
 * While a write is pending, a listener is kept on the stream; once stdout failed, every export
 * fails (counted and logged as any export failure) instead of writing. The listener is one for
 * all the console exporters of the process (of the stream): one each put 11 on stdout when 11
 * tracers exported at once (apps closed together, tracers made in a loop), and Node printed a
 * MaxListenersExceededWarning.
 */
export function guardStdout(
  inner: SdkSpanExporter,
  out: NodeJS.WritableStream & { destroyed?: boolean | undefined } = process.stdout,
): SdkSpanExporter {
  const g = guardOf(out);
  const release = () => {
    g.pending--;
    // Kept for good once stdout failed: its error may still be on its way.
    if (g.pending === 0 && g.gone === undefined) out.removeListener('error', g.onError);
  };
  return {
    export(spans, done) {
      if (g.gone !== undefined || out.destroyed === true) {
        g.gone ??= new Error('stdout is closed');
        return done({
          code: ExportResultCode.FAILED,
          error: Object.assign(new Error(`console exporter: stdout failed (${g.gone.message})`), {
            code: (g.gone as { code?: unknown }).code,
          }),
        });
      }
      if (g.pending++ === 0) out.on('error', g.onError);
      try {
        inner.export(spans, done);
      } finally {
        // Called once the writes before it are done (or failed: then the stream is gone).
        out.write('', (err) => {
          if (err) g.gone ??= err;
          release();
        });
      }
    },
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
    shutdown: () => inner.shutdown(),
  };
}

const STATUS_ERROR = 2;

/**
 * `span`, or — when its status is an error without a description — a view of it whose description
 * is its `error.type` (`"502"`, `"aborted"`, `"TypeError"`), else `"error"`: what the zipkin
 * exporter needs to write the `error` tag. The span itself is left as it is.
 */
export function withErrorDescription(span: FinishedSpan): FinishedSpan {
  const status = span.status;
  if (status.code !== STATUS_ERROR || status.message) return span;
  const type = span.attributes['error.type'];
  const message = typeof type === 'string' && type !== '' ? type : 'error';
  return Object.create(span, { status: { value: { code: STATUS_ERROR, message }, enumerable: true } });
}

/** Export counters of a tracer since it was created (the core `TracerStats`). */
export type ExportStats = TracerStats;

const NO_DROPS: Readonly<Record<SpanDropReason, number>> = { queue_full: 0, export_failed: 0, shutdown: 0 };

/**
 * An endpoint as the export records show it: scheme, host and path, its credentials and query
 * (which may hold secrets) left out; `undefined` when it does not parse.
 */
export function shownEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined || !URL.canParse(endpoint)) return undefined;
  const u = new URL(endpoint);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** A full endpoint URL per exporter, for the hint of an export sent to a path with no receiver. */
const ENDPOINT_EXAMPLES: Record<string, string> = {
  otlp: 'http://collector:4318/v1/traces',
  zipkin: 'http://zipkin:9411/api/v2/spans',
  jaeger: 'http://jaeger:14268/api/traces',
};

/** Each exporter's receiver path and the receiver's default port. */
const RECEIVER_PATHS: Record<string, { path: string; port: number }> = {
  otlp: { path: '/v1/traces', port: 4318 },
  zipkin: { path: '/api/v2/spans', port: 9411 },
  jaeger: { path: '/api/traces', port: 14268 },
};

/**
 * What to check after an export failure that no retry fixes. Node's and the collector's own words
 * ("self-signed certificate", "Unauthorized") name neither the option to set nor the header: the
 * Redis cache says which (`check tls.ca`), the export error log did not.
 */
export function exportHint(
  code: unknown,
  message: string,
  exporter = 'otlp',
  body?: unknown,
  endpoint?: string,
  /**
   * The request's credentials were the endpoint's `user:password@` (sent as basic auth), no
   * `authorization` header being given: a 401/403 named only `headers`, which the user had not set.
   */
  endpointCredentials = false,
): string | undefined {
  // `tls` and the OTEL_EXPORTER_OTLP_* variables reach the otlp exporter only: the zipkin and
  // jaeger exporters' certificate errors pointed to tls.ca / tls.servername / tls.cert, which
  // they ignore (with a warning at creation), so following the hint changed nothing.
  const otlp = exporter === 'otlp';
  // The zipkin and jaeger exporters carry the status in their message only: their 401/403 got no
  // hint at all. So does an answer cut short (agent.ts), whatever the exporter.
  const status =
    typeof code === 'number'
      ? code
      : Number(
          /status code from zipkin: (\d{3})\b|server responded with HTTP (\d{3})\b|collector answered HTTP (\d{3}) and closed/
            .exec(message)
            ?.slice(1)
            .find(Boolean),
        );
  if ((status === 401 || status === 403) && endpointCredentials && exporter !== 'jaeger')
    return `the collector refused the credentials: check the user:password in the endpoint, sent as basic auth; an authorization header in headers${otlp ? ' / OTEL_EXPORTER_OTLP_HEADERS' : ''} would replace it`;
  if (status === 401 || status === 403)
    return otlp
      ? 'the collector refused the credentials: check the authorization (or API key) header in headers / OTEL_EXPORTER_OTLP_HEADERS'
      : exporter === 'jaeger'
        ? 'the collector refused the credentials: the jaeger exporter sends no headers, only basic auth from user:password@ in the endpoint, else from OTEL_EXPORTER_JAEGER_USER / OTEL_EXPORTER_JAEGER_PASSWORD (use the otlp exporter for a bearer token or an API key header)'
        : 'the collector refused the credentials: check the authorization (or API key) header in headers';
  // Plain HTTP sent to a TLS port: Go's TLS listener (the OpenTelemetry Collector, Jaeger v2)
  // answers 400 with this body, and the export failed as only "Bad Request".
  if (status === 400 && typeof body === 'string' && /HTTP request to an HTTPS server/i.test(body))
    return otlp
      ? 'the collector port speaks TLS: use an https:// endpoint (with tls.ca for a private CA)'
      : 'the collector port speaks TLS: use an https:// endpoint';
  const text = `${typeof code === 'string' ? code : ''} ${message}`;
  // TLS sent to a plain-HTTP port: OpenSSL's "wrong version number" (EPROTO) named neither.
  if (/wrong version number|ERR_SSL_WRONG_VERSION_NUMBER|packet length too long/i.test(text))
    return 'the collector did not answer with TLS: a plain-HTTP port? use an http:// endpoint for it (spans and headers then go unencrypted), or turn TLS on at the receiver';
  // Nothing at the endpoint's path (404, or 405 from a server that has the path for other methods):
  // an endpoint without its path (`http://collector:4318`, which posts to `/`) lost every span
  // with only the collector's "Not Found" in the log. The zipkin and jaeger exporters carry the
  // status in their message only.
  if (
    code === 404 ||
    code === 405 ||
    /status code from zipkin: 40[45]\b|server responded with HTTP 40[45]\b|collector answered HTTP 40[45] and closed/.test(
      message,
    )
  ) {
    const receiver = otlp ? 'OTLP/HTTP trace receiver' : `${exporter} receiver`;
    // The endpoint's path is the receiver's own already (the default endpoint, or a full URL):
    // "give the full URL" sent the user to fix a path that was right, when the host or port is
    // another server's (an application, a UI port).
    const path = endpoint !== undefined && URL.canParse(endpoint) ? new URL(endpoint).pathname : undefined;
    const standard = RECEIVER_PATHS[exporter];
    if (standard !== undefined && path?.replace(/\/+$/, '') === standard.path)
      return `nothing at this address answers as the ${receiver}, though the path (${standard.path}) is its own: check the host and port — another server answers there (the receiver's default port is ${standard.port})`;
    return `the collector has no ${receiver} at this path: the endpoint is used as given, so give the full URL (e.g. ${ENDPOINT_EXAMPLES[exporter] ?? ENDPOINT_EXAMPLES.otlp})`;
  }
  if (/CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|certificate has expired|certificate is not yet valid/i.test(text))
    return "the collector's certificate has expired (or is not yet valid)";
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i.test(text))
    return otlp
      ? "the collector's certificate does not name the endpoint's host: check the endpoint, or tls.servername"
      : `the collector's certificate does not name the endpoint's host: check the endpoint (the ${exporter} exporter takes no tls option)`;
  if (
    /SELF_SIGNED|UNABLE_TO_VERIFY_LEAF|UNABLE_TO_GET_ISSUER|self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer/i.test(
      text,
    )
  )
    return otlp
      ? "the collector's certificate is not signed by a trusted CA: give its CA as tls.ca (config tls.ca_file, or OTEL_EXPORTER_OTLP_CERTIFICATE)"
      : `the collector's certificate is not signed by a trusted CA: the ${exporter} exporter takes no tls option; trust the CA process-wide with NODE_EXTRA_CA_CERTS (read at start), or use the otlp exporter with tls.ca`;
  if (/alert (certificate required|bad certificate|unknown ca)|tlsv13 alert certificate required/i.test(text))
    return otlp
      ? 'the collector refused the client certificate (mutual TLS): check tls.cert and tls.key'
      : `the collector asks for a client certificate (mutual TLS), which the ${exporter} exporter cannot send: use the otlp exporter with tls.cert and tls.key`;
  return undefined;
}

/**
 * Counts exported, failed and dropped spans and logs losses rate-limited: while the tracer runs,
 * at most one record per `intervalMs` (export failures and dropped spans share the limit; each
 * record sums what happened since the previous one; losses held back are written when the
 * interval ends). `closed()` writes the one summary record of
 * shutdown (undelivered spans plus anything not reported yet), whatever the interval.
 */
export function createExportErrorReporter(options: {
  logger: Logger;
  exporter: string;
  /**
   * The collector the spans go to, as shown in the records: scheme, host and path (no credentials,
   * no query). A 5xx or 4xx named no collector ("Internal Server Error", code 500) and a service
   * exporting to several left the operator guessing which one.
   */
  endpoint?: string | undefined;
  /** The endpoint's `user:password@` is what authenticates the export (`exportHint`). */
  endpointCredentials?: boolean | undefined;
  intervalMs: number;
  now: () => number;
}) {
  const { logger, exporter } = options;
  const where = options.endpoint === undefined ? {} : { endpoint: options.endpoint };
  /**
   * The injected clock, or `Date.now()` when it throws or gives no number: it runs inside the
   * exporter's response callback, where its throw was an uncaught exception that ended the
   * process at the first export failure, and a `NaN` from it logged every loss (no rate limit).
   */
  const now = (): number => {
    try {
      const t = options.now();
      if (typeof t === 'number' && !Number.isNaN(t)) return t;
    } catch {
      // the clock's own failure: fall back below
    }
    return Date.now();
  };
  let lastLog = Number.NEGATIVE_INFINITY;
  // Since the last record.
  let failedExports = 0;
  let lostSpans = 0;
  let dropped = { ...NO_DROPS };
  let lastError: unknown;
  // Since creation.
  let exportedSpans = 0;
  let totalFailed = 0;
  const totalDropped = { ...NO_DROPS };
  const totalLost = () => totalDropped.queue_full + totalDropped.export_failed + totalDropped.shutdown;
  /** Lost spans when close began; from then on, losses go into the one summary record. */
  let lostAtClose: number | undefined;
  /** `closed()` wrote its summary; `'warned'` once a later loss was said (see `dropped`). */
  let afterClose: 'closed' | 'warned' | undefined;

  const errorFields = () => {
    if (lastError === undefined) return {};
    const err = lastError as
      | { message?: unknown; code?: unknown; originalCode?: unknown; data?: unknown }
      | undefined;
    const code = err?.originalCode ?? err?.code;
    const error = typeof err?.message === 'string' ? err.message : String(err);
    const hint = exportHint(code, error, exporter, err?.data, options.endpoint, options.endpointCredentials);
    return { error, ...(code !== undefined ? { code } : {}), ...(hint ? { hint } : {}) };
  };
  const reset = () => {
    failedExports = 0;
    lostSpans = 0;
    dropped = { ...NO_DROPS };
    lastError = undefined;
  };
  const log = () => {
    if (failedExports > 0)
      logger.error('tracing: span export failed', {
        exporter,
        ...where,
        failedExports,
        lostSpans,
        ...(lostSpans !== dropped.export_failed ? { dropped } : {}),
        ...errorFields(),
      });
    else logger.warn('tracing: spans dropped', { exporter, lostSpans, dropped });
    reset();
  };
  // A loss inside the interval is held back; this timer writes it when the interval ends, so a
  // burst of losses is never left unlogged until the next loss (which may come days later) or
  // close. Unref'd: it never keeps the process alive; close's summary takes over from it.
  let trailing: NodeJS.Timeout | undefined;
  /** When the trailing timer is due, on `now()`'s clock, and the delay it was armed with. */
  let dueAt = 0;
  let armedFor = 0;
  const arm = (ms: number) => {
    dueAt = now() + ms;
    armedFor = ms;
    trailing = setTimeout(writeHeldBack, ms);
    trailing.unref();
  };
  const writeHeldBack = () => {
    trailing = undefined;
    if (lostAtClose !== undefined || (lostSpans === 0 && failedExports === 0)) return;
    const t = now();
    // A Node timer can fire a millisecond or two before the clock says its delay passed (libuv's
    // loop clock is ms-truncated): written then, the record came less than an interval after the
    // previous one. The rest is waited for — unless more than the whole delay seems left, a clock
    // stepped back, which must not hold the losses back for as long as the step.
    const rest = dueAt - t;
    if (rest > 0 && rest <= armedFor) return arm(rest);
    lastLog = t;
    log();
  };
  const maybeLog = () => {
    if (lostAtClose !== undefined) return;
    const t = now();
    const wait = lastLog + options.intervalMs - t;
    if (wait <= 0) {
      // This record carries what the held-back timer would have written: a timer overdue under a
      // busy event loop wrote a second record right after it (at every interval under load).
      clearTimeout(trailing);
      trailing = undefined;
      lastLog = t;
      log();
    } else if (trailing === undefined) {
      // Capped at what a Node timer holds: a longer errorLogIntervalMs fired it after 1 ms, and
      // every loss was logged (with a TimeoutOverflowWarning) instead of one per interval.
      arm(Math.min(wait, options.intervalMs, MAX_TIMER_MS));
    }
  };
  const drop = (reason: SpanDropReason, spans: number) => {
    totalDropped[reason] += spans;
    dropped[reason] += spans;
    lostSpans += spans;
  };
  return {
    succeeded(spans: number) {
      exportedSpans += spans;
    },
    /** An export request failed: its spans are lost (`export_failed`). */
    failed(spans: number, error: unknown) {
      totalFailed++;
      failedExports++;
      drop('export_failed', spans);
      lastError = error;
      maybeLog();
    },
    /** Spans lost without an export request (`queue_full`, `shutdown`). */
    dropped(reason: SpanDropReason, spans = 1) {
      if (spans <= 0) return;
      drop(reason, spans);
      // A span ended once close() had finished (a handler still running, its server not drained)
      // comes after the summary: it was only counted, and with the app closed nobody read the
      // count, so such spans were lost without a log line. Said once; later ones are counted.
      if (afterClose === 'closed') {
        afterClose = 'warned';
        logger.warn('tracing: span ended after the tracer closed: not exported', {
          exporter,
          reason,
          hint: 'close the tracer after the last request handler: register drainServer (app.defer) so the server drains first',
        });
        reset();
        return;
      }
      maybeLog();
    },
    /** Logs what was not reported yet (ignores the interval). */
    flush() {
      if (lostSpans > 0 || failedExports > 0) log();
    },
    /** Close began: losses from now on are reported by `closed()`, in one record. */
    beginClose() {
      lostAtClose ??= totalLost();
      clearTimeout(trailing);
      trailing = undefined;
    },
    /**
     * The summary record of shutdown: `undelivered` = spans lost since `beginClose()` (failed
     * exports, spans given up on when the budget ran out), plus every loss not reported before.
     * Nothing is written when nothing was lost.
     */
    closed(extra: Record<string, unknown> = {}) {
      afterClose ??= 'closed';
      const undelivered = totalLost() - (lostAtClose ?? totalLost());
      if (lostSpans === 0 && failedExports === 0) return;
      logger.warn('tracing: spans not delivered (summary at close)', {
        exporter,
        ...where,
        undelivered,
        lostSpans,
        dropped,
        failedExports,
        ...errorFields(),
        ...extra,
      });
      reset();
    },
    /** Counters since creation. */
    stats: (): ExportStats => ({
      exportedSpans,
      failedExports: totalFailed,
      lostSpans: totalLost(),
      droppedSpans: { ...totalDropped },
    }),
  };
}

export type ExportErrorReporter = ReturnType<typeof createExportErrorReporter>;

/** Wraps `inner` so that every failure (callback or throw) reaches `reporter`, never the console. */
export function guardExporter(inner: SdkSpanExporter, reporter: ExportErrorReporter): SdkSpanExporter {
  return {
    export(spans, done) {
      const finish = (result: ExportResult) => {
        if (result.code === ExportResultCode.SUCCESS) reporter.succeeded(spans.length);
        else reporter.failed(spans.length, result.error ?? new Error('export failed'));
        done(result);
      };
      try {
        inner.export(spans, finish);
      } catch (error) {
        finish({ code: ExportResultCode.FAILED, error: error as Error });
      }
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
