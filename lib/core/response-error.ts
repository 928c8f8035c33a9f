/**
 * The `error.type` of a failed server response, shared by the server span and the request metric
 * of the same response. `traceHandler` answers a handler that threw with a bare 500 itself, so a
 * `metrics.instrument()` wrapped around it never sees the error: it recorded `error_type="500"`
 * while the span said `TypeError`. `traceHandler` notes the class here; `instrument` reads it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from './contracts.js';

const types = new WeakMap<ServerResponse, string>();

/** The longest `name` taken as an error's type, in UTF-16 code units. */
const MAX_TYPE_LENGTH = 256;

/**
 * `s` when it can name an error's type: a non-empty, well-formed string of at most 256 code units
 * (at most 768 UTF-8 bytes, within a metric label value's 2048). An error whose `name` was longer
 * (or held a lone surrogate) became an `error_type` the request metric refused: that request was
 * not recorded at all.
 */
function typeName(s: unknown): string | undefined {
  return typeof s === 'string' &&
    s !== '' &&
    s.length <= MAX_TYPE_LENGTH &&
    // Node 20+; its type is in the ES2024 lib, newer than ours.
    (s as string & { isWellFormed(): boolean }).isWellFormed()
    ? s
    : undefined;
}

/** The name of `x`'s constructor, when it can name a type. */
function constructorName(x: object): string | undefined {
  const ctor: unknown = (x as { constructor?: unknown }).constructor;
  return typeof ctor === 'function' ? typeName(ctor.name) : undefined;
}

/**
 * The `error.type` of an `Error` instance, one rule for the server span and the request metric:
 * its `name` when one was given (`TypeError`, `HttpError`, a `DOMException`'s `TimeoutError`),
 * else — the `name` every subclass inherits, `Error` — its constructor's name (`class
 * PaymentDeclined extends Error {}`), else `Error`. The span read the name alone (`Error` for such
 * a class) and the metric the constructor alone (`DOMException` for a timeout), so one request
 * was recorded apart depending on whether `instrument()` wrapped a `traceHandler`.
 */
export function errorClassName(err: Error): string {
  try {
    const name = typeName(err.name);
    if (name !== undefined && name !== 'Error') return name;
    return constructorName(err) ?? 'Error';
  } catch {
    // A name or constructor getter that throws (a Proxy): the base class.
    return 'Error';
  }
}

/**
 * The `error.type` of any thrown value, one rule for the server span and the request metric: an
 * `Error` by `errorClassName`; another object by its `name` when it is a non-empty string (an
 * Error-shaped `{ name, message }`), else its constructor's name, else `Object`; anything else by
 * its type (`string`, `object` for `null`). The span said `Error` for all of these and the metric
 * named an Error-shaped object `Object`, so a handler's `throw { name: 'NotFound' }` or
 * `throw 'denied'` was recorded apart depending on whether `instrument()` wrapped a
 * `traceHandler`. Never throws: a value whose fields throw when read (a revoked Proxy) is `Error`.
 */
export function thrownErrorType(err: unknown): string {
  if (err === null || typeof err !== 'object') return typeof err;
  try {
    // `instanceof` itself throws for a revoked Proxy (its prototype cannot be read).
    if (err instanceof Error) return errorClassName(err);
    return typeName((err as { name?: unknown }).name) ?? constructorName(err) ?? 'Object';
  } catch {
    return 'Error';
  }
}

/** Notes that `res` failed with `errorType` (the class name of what the handler threw). */
export function noteResponseError(res: ServerResponse, errorType: string): void {
  types.set(res, errorType);
}

/** The `errorType` noted for `res`, if any. */
export function responseErrorType(res: ServerResponse): string | undefined {
  return types.get(res);
}

/**
 * The server span `traceHandler` started for `res`, for the exemplar of a `metrics.instrument()`
 * wrapped around it without a `span` option: it fell back to the `traceparent` header, so a
 * request that started its trace here (no header) had no exemplar, and one whose header the
 * tracer's propagators do not read (b3 only) pointed at a trace the span is not in.
 */
const spans = new WeakMap<ServerResponse, Span>();

/** Notes `span` as the server span of `res`. */
export function noteResponseSpan(res: ServerResponse, span: Span): void {
  spans.set(res, span);
}

/** The server span noted for `res`, if any. */
export function responseSpan(res: ServerResponse): Span | undefined {
  return spans.get(res);
}

/**
 * Whether node:http cut the request because it outlived the server's `requestTimeout` (default
 * 300 s: a slow upload, a handler that never answers): Node then answers `408` on the socket
 * itself and destroys it. The response closes unfinished exactly as when the client goes away,
 * so the server span said "the client went away" and the metric `aborted` — blaming the client
 * for the server's own limit. Node leaves its `ERR_HTTP_REQUEST_TIMEOUT` on the socket.
 */
export function requestTimedOut(req: IncomingMessage): boolean {
  try {
    const errored: unknown = (req.socket as { errored?: unknown } | null | undefined)?.errored;
    return (errored as { code?: unknown } | null | undefined)?.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  } catch {
    return false;
  }
}

/**
 * The status node:http wrote on the socket itself as the answer to `res` when it cut the connection
 * for the client's fault: `408` at the server's `requestTimeout` / `headersTimeout`
 * (`requestTimedOut`), and — by the same rule in the same place of Node (`socketOnError`) — `400`
 * for a request it could not parse once the handler was running (a malformed chunked body, garbage
 * pipelined behind the request), `431` / `413` for a header block / chunk extensions too large.
 * The parse errors were recorded as the client going away (`aborted`), though the client was
 * there and got Node's 400. `undefined` when Node wrote nothing. It writes its answer only when
 * the server has no `clientError` listener (one that exists decides alone) and none of the
 * in-flight response's bytes are on the wire yet — that response being the socket's current one
 * (`_httpMessage`, `res` itself unless a pipelined response ahead of it is still being answered).
 * `res.headersSent` says nothing here: after a bare `writeHead(200)` it is true, yet the client
 * got the 408 (and the span said 200). A request that ended mid-body with the client's FIN
 * (`HPE_INVALID_EOF_STATE`) is the client going away, not an answer. Read after the response
 * closed: Node leaves these fields as they were when it cut the request.
 */
export function answeredByNode(req: IncomingMessage, res: ServerResponse): number | undefined {
  try {
    const socket = req.socket as
      | (IncomingMessage['socket'] & {
          server?: { listenerCount(e: string): number };
          _httpMessage?: unknown;
        })
      | null;
    const status = answerTo((socket?.errored as { code?: unknown } | null | undefined)?.code);
    if (status === undefined || !socket || socket._httpMessage !== res) return undefined;
    if ((res as { _headerSent?: unknown })._headerSent === true) return undefined;
    return socket.server && socket.server.listenerCount('clientError') === 0 ? status : undefined;
  } catch {
    return undefined;
  }
}

/**
 * node:http's own answer to the error it destroyed the socket with (its `socketOnError`), or
 * `undefined` for an error it answers nothing to: one not its parser's (`ECONNRESET`, a
 * `res.destroy(err)`), or the client's FIN mid-request — a client that went away, to which Node's
 * 400 is written in vain.
 */
function answerTo(code: unknown): number | undefined {
  if (typeof code !== 'string') return undefined;
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'HPE_INVALID_EOF_STATE':
      return undefined;
    default:
      // Any other error of its HTTP parser (llhttp's `HPE_…` codes).
      return code.startsWith('HPE_') ? 400 : undefined;
  }
}

/** Responses `drainServer` cut at the end of its grace period (their connection destroyed). */
const shutdownCuts = new WeakSet<ServerResponse>();

/**
 * Notes that `drainServer` is cutting `res` at the end of its grace period. Its connection is then
 * destroyed, and the response closes unfinished exactly as when the client goes away: the server
 * span and the request metric said `aborted`, and an operator could not tell the requests a
 * deploy cut from clients hanging up. They now say `shutdown`.
 */
export function noteShutdownCut(res: ServerResponse): void {
  shutdownCuts.add(res);
}

/** Whether `drainServer` cut `res` at the end of its grace period (`noteShutdownCut`). */
export function cutAtShutdown(res: ServerResponse): boolean {
  return shutdownCuts.has(res);
}

/** Codes of a connection that went away: Node 24 destroys a queued pipelined response with `ECONNRESET`. */
const CONNECTION_GONE = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * The error the server side destroyed `res` with (`res.destroy(err)`, `pipeline(source, res)`
 * whose source failed), if any: the response's failure, not the client going away. A client that
 * leaves leaves `res.errored` empty — except for a pipelined response still queued when it left,
 * which Node 24 destroys with `ECONNRESET` ("aborted"): that one is the client's.
 */
export function responseCutError(res: ServerResponse): Error | undefined {
  try {
    const errored: unknown = (res as { errored?: unknown }).errored;
    if (!(errored instanceof Error)) return undefined;
    const code: unknown = (errored as { code?: unknown }).code;
    return typeof code === 'string' && CONNECTION_GONE.has(code) ? undefined : errored;
  } catch {
    return undefined;
  }
}
