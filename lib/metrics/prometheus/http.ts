/** Request instrumentation for `node:http` handlers and the trace id used as a latency exemplar. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger, Span } from '../../core/contracts.js';
import { MetricsError, typeName } from '../../core/errors.js';
import { forwardedProto } from '../../core/forwarded.js';
import { isKnownMethod } from '../../core/http-methods.js';
import { unknownKeyIssues } from '../../core/options.js';
import { isRefusalAware, refusalAware, refusalOf } from '../../core/refusal.js';
import { onResponseClose } from '../../core/response-close.js';
import {
  answeredByNode,
  cutAtShutdown,
  requestTimedOut,
  responseCutError,
  responseErrorType,
  responseSpan,
  thrownErrorType,
} from '../../core/response-error.js';
import { isValidSpanContext, parseTraceparent, readSpanContext } from '../../core/w3c.js';
import { labelValueTooLong, MAX_LABEL_VALUE_BYTES, OVERFLOW_VALUE } from './series.js';

/** `String.prototype.isWellFormed` (Node 20+; its type is in the ES2024 lib, newer than ours). */
type WellFormed = string & { isWellFormed(): boolean };

/**
 * Upper-cases known HTTP methods; anything else is `OTHER`, so a client cannot invent label values.
 * The known ones are the spans' (`OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` replaces them): a
 * WebDAV `PROPFIND` made known was its method on the span and `_OTHER` in the metrics.
 */
export function normalizeMethod(method: string | undefined): string {
  if (!method) return 'OTHER';
  if (isKnownMethod(method)) return method;
  const up = method.toUpperCase();
  return isKnownMethod(up) ? up : 'OTHER';
}

/**
 * The method of a request `instrument()` sees, matched as the server span matches it: exactly,
 * since methods are case-sensitive (RFC 9110) and node:http2 passes `:method` on as the client sent
 * it. `get` is `OTHER` (the span's `_OTHER`), which `normalizeMethod` would have upper-cased to
 * `GET`: such a request's metric said `GET` while its span said `_OTHER`.
 */
export function requestMethod(method: string | undefined): string {
  return method !== undefined && isKnownMethod(method) ? method : 'OTHER';
}

/**
 * The trace id of a sampled trace, or `undefined`: from `span` when given (a core Span, e.g. the
 * request span a tracing middleware started), else from the request's `traceparent` header.
 */
export function sampledTraceId(
  span: Span | undefined,
  headers?: IncomingMessage['headers'],
): string | undefined {
  if (span) {
    // A span whose spanContext() throws, or a value that is no span at all (what a `span` option
    // returned), counts as one without a trace context, as in the core: it threw out of the
    // recording, and the request's metric was lost, not only its exemplar.
    const sc = readSpanContext(span);
    if (sc && isValidSpanContext(sc)) return (sc.traceFlags & 1) === 1 ? sc.traceId : undefined;
  }
  const raw = headers?.traceparent;
  const sc = parseTraceparent(Array.isArray(raw) ? raw[0] : raw);
  return sc && (sc.traceFlags & 1) === 1 ? sc.traceId : undefined;
}

/** One finished request, as recorded by `observeRequest`. */
export interface RequestObservation {
  method: string;
  /** Route TEMPLATE (`/users/:id`), never the raw path. */
  route: string;
  /** Response status; `undefined` when the response was cut off before its headers went out. */
  status: number | string | undefined;
  /** Duration in seconds. */
  seconds: number;
  /** Trace id of a sampled trace: attached as the `trace_id` exemplar. */
  traceId?: string | undefined;
  /** `http` or `https` (`url_scheme`). Default `http`. */
  scheme?: string | undefined;
  /**
   * `error_type` of a failed request: the class name of the error that failed it. Default: the
   * status as a string for a 5xx, `aborted` for a response cut off, none otherwise (`instrument()`
   * also records `timeout` and `shutdown`: see the README).
   */
  errorType?: string | undefined;
}

export type NodeHandler<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (req: Req, res: Res) => unknown;

export interface InstrumentOptions<Req extends IncomingMessage = IncomingMessage> {
  /**
   * The route template used as the `route` label (`/users/:id`), or a function returning it,
   * called when the response finishes (so a router may have matched by then). `undefined` from
   * the function records `unmatched`. Never pass the raw URL: every id would become a series.
   */
  route: string | ((req: Req) => string | undefined);
  /** The request's span (e.g. from a tracing middleware), read when the response finishes. */
  span?: ((req: Req) => Span | undefined) | undefined;
}

/**
 * The class name of a thrown value (`TypeError`), for `error_type`: as the server span names it
 * (response-error.ts) — an instance of an anonymous class is `Object` (its constructor name '' gave
 * no error_type at all).
 */
function errorName(err: unknown): string {
  return thrownErrorType(err);
}

const INSTRUMENT_KEYS = ['route', 'span'];

/**
 * Throws `MetricsError('invalid_option')` unless `handler` is a function and `options` is
 * `{ route, span? }` with a string or function `route`. Checked when wrapping: `instrument(handler)`
 * threw a TypeError destructuring `undefined`, and `{ rout: '/users/:id' }`, `{ route: 5 }` or
 * `{ span: 'x' }` were taken, then recorded every request as `unmatched` (or without its span)
 * with a warning that "the route function threw"; a handler that is not a function threw in
 * every request.
 */
function checkInstrumentArgs(handler: unknown, options: unknown): void {
  const bad = (what: string) => new MetricsError('invalid_option', `instrument(handler, options): ${what}`);
  if (typeof handler !== 'function') throw bad(`handler must be a function, received ${typeName(handler)}`);
  if (typeof options !== 'object' || options === null)
    throw bad(
      `options must be { route } (the route template, or a function returning it), received ${typeName(options)}`,
    );
  const unknown = unknownKeyIssues(options, INSTRUMENT_KEYS);
  if (unknown.length > 0) throw bad(unknown.map((i) => `${i.path} ${i.message}`).join('; '));
  const { route, span } = options as Record<string, unknown>;
  if (typeof route !== 'string' && typeof route !== 'function')
    throw bad(
      `route must be the route template ("/users/:id") or a function returning it, received ${typeName(route)}`,
    );
  if (span !== undefined && typeof span !== 'function')
    throw bad(`span must be a function returning the request's span, received ${typeName(span)}`);
}

/**
 * Wraps `handler` so every response is recorded through `record`. The handler's result is returned
 * as it is, except that a promise it returns is replaced by one settling the same way (so a
 * rejection can name `error_type`; an unhandled one stays unhandled).
 */
export function instrumentHandler<Req extends IncomingMessage, Res extends ServerResponse>(
  handler: NodeHandler<Req, Res>,
  options: InstrumentOptions<Req>,
  record: (o: RequestObservation) => void,
  now: () => number,
  logger: Pick<Logger, 'warn'> = { warn() {} },
): NodeHandler<Req, Res> {
  checkInstrumentArgs(handler, options);
  const { route, span } = options;
  // Recording runs in the response's listeners, where a throw is an uncaught exception that ends
  // the process: a bad route function or label costs the label (and one warning), never that.
  let warned = false;
  const warnOnce = (message: string, error?: unknown) => {
    if (warned) return;
    warned = true;
    logger.warn(`instrument(): ${message} (warned once per instrumented handler)`, { error });
  };
  const routeOf = (req: Req): string => {
    let r: unknown;
    try {
      r = typeof route === 'string' ? route : route(req);
    } catch (err) {
      warnOnce('the route function threw; such requests are recorded with route "unmatched"', err);
      return 'unmatched';
    }
    if (r === undefined || r === null || r === '') return 'unmatched';
    if (
      typeof r !== 'string' ||
      !(r as WellFormed).isWellFormed() ||
      labelValueTooLong(r) ||
      r === OVERFLOW_VALUE
    ) {
      const what =
        typeof r !== 'string'
          ? `a ${typeof r}, not a string`
          : labelValueTooLong(r)
            ? `longer than ${MAX_LABEL_VALUE_BYTES} bytes (a raw URL?)`
            : r === OVERFLOW_VALUE
              ? `"${OVERFLOW_VALUE}" (reserved for the cardinality cap's overflow series)`
              : 'not well-formed UTF-16';
      warnOnce(`the route is ${what}; such requests are recorded with route "unmatched"`);
      return 'unmatched';
    }
    return r;
  };
  /** The sampled trace id for the exemplar; a throwing `span` function costs the exemplar, not the request. */
  const traceIdOf = (req: Req, res: Res): string | undefined => {
    let s: Span | undefined;
    try {
      s = span?.(req);
    } catch (err) {
      warnOnce('the span function threw; such requests are recorded without a span', err);
    }
    // Without a `span` option, the server span of a traceHandler inside (response-error.ts).
    if (span === undefined) s = responseSpan(res);
    return sampledTraceId(s, req.headers);
  };
  // Refusal-aware (core/refusal.ts): a request `drainServer` refuses during a shutdown is recorded
  // (status 503) too; `handler` is called for it only when it handles refusals itself.
  const passRefusals = isRefusalAware(handler);
  return refusalAware(function instrumented(req: Req, res: Res) {
    const start = now();
    // Read now, while the request is live: a node:http2 compatibility request's socket is a proxy
    // of its stream's session, which no longer answers once the stream closed, so every HTTP/2
    // request over TLS was recorded with url_scheme="http".
    const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
    let done = false;
    let errorType: string | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      // Closed before the response was sent in full (the client went away, or it was cut): a
      // failed request even when its status had gone out — as the server span records it.
      // A traceHandler inside answered a thrown error itself: its class, as on the server span.
      errorType ??= responseErrorType(res);
      // `writableEnded` too: a node:http2 compatibility response (`http2.createServer(handler)`)
      // whose stream the client cancelled says `writableFinished` (its stream is closed) and emits
      // 'finish', though the handler never ended it — it was recorded as a complete 200.
      const completed = res.writableFinished && res.writableEnded;
      // Destroyed by the server with an error (`pipeline(source, res)` whose source failed): the
      // class of that error, as the server span records it — on Node 24 the response closes
      // before the handler rejects with it, and it was recorded as `aborted` (a client that
      // leaves leaves none: core/response-error.ts).
      const cut = completed ? undefined : responseCutError(res);
      if (cut !== undefined) errorType ??= errorName(cut);
      // Cut at the server's requestTimeout / headersTimeout and answered `408` by node:http
      // itself — or `400` (431, 413) to a request it could not parse (a malformed chunked body,
      // garbage pipelined behind it): that status, and — a 4xx, the client's failure — no
      // error_type, as the server span records it (it was recorded with no status, or the 200 of
      // a bare `writeHead(200)`, and `error_type="timeout"`, or `"aborted"` for a parse error).
      const nodeAnswer = completed || errorType !== undefined ? undefined : answeredByNode(req, res);
      // Cut by node:http at the server's `requestTimeout` without its 408 (part of the response
      // had gone out, or a `clientError` listener destroyed the socket with the error; one that
      // ends it with an answer of its own leaves nothing to tell): `timeout`, as the server span
      // says — not the client going away; cut by `drainServer` at the end of its grace period:
      // `shutdown`.
      if (!completed && nodeAnswer === undefined)
        errorType ??= requestTimedOut(req) ? 'timeout' : cutAtShutdown(res) ? 'shutdown' : 'aborted';
      try {
        record({
          method: requestMethod(req.method),
          route: routeOf(req),
          status: nodeAnswer ?? (res.headersSent || completed ? res.statusCode : undefined),
          seconds: (now() - start) / 1000,
          traceId: traceIdOf(req, res),
          // As the server span's url.scheme: what a proxy reports the client used, else this connection.
          scheme: forwardedProto(req.headers) ?? (encrypted ? 'https' : 'http'),
          errorType,
        });
      } catch (err) {
        warnOnce('recording a request failed; it is not recorded', err);
      }
    };
    res.once('finish', finish);
    onResponseClose(req, res, finish);
    const refuse = passRefusals ? undefined : refusalOf(req);
    if (refuse) return refuse();
    let result: unknown;
    try {
      result = handler(req, res);
    } catch (err) {
      errorType = errorName(err);
      throw err;
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') return result;
    return (result as PromiseLike<unknown>).then(undefined, (err: unknown) => {
      errorType = errorName(err);
      throw err;
    });
  });
}
