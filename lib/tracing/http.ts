/**
 * HTTP propagation helpers that work with any core `Tracer` (no-op, OpenTelemetry, …): a wrapper
 * for `node:http` request handlers (server span, parent from the incoming headers) and a `fetch`
 * wrapper (client span, trace headers injected). Attribute names follow the OpenTelemetry HTTP
 * semantic conventions.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { whenAborted } from '../core/abort.js';
import { staleTracestate } from '../core/carrier.js';
import { type AppContext, type AppParts, assertContext } from '../core/context.js';
import type { Attributes, SpanContext } from '../core/contracts.js';
import { ConfigError, typeName } from '../core/errors.js';
import { dropLogResult } from '../core/log-binding.js';
import { optionKeys, suggestKey, unknownKeyIssues } from '../core/options.js';
import { refusalAware, refusalOf } from '../core/refusal.js';
import { onResponseClose } from '../core/response-close.js';
import {
  answeredByNode,
  cutAtShutdown,
  noteResponseError,
  noteResponseSpan,
  noteShutdownCut,
  requestTimedOut,
  responseCutError,
  thrownErrorType,
} from '../core/response-error.js';
import { injectHeaders, startSpan } from '../core/span.js';
import { isValidSpanContext } from '../core/w3c.js';
import {
  currentOptIn,
  fullUrl,
  httpServerRequestAttributes,
  isKnownMethod,
  type SemconvOptIn,
  withHttpDup,
} from './semconv.js';

/**
 * A request handler that receives the request's context (its span is the server span), with the
 * part types of the context given to `traceHandler` (see `AppParts`).
 */
export type HttpHandler<P extends AppParts = AppParts> = (
  ctx: AppContext<P>,
  req: IncomingMessage,
  res: ServerResponse,
) => unknown;

export interface TraceHandlerOptions {
  /** Route template (`/users/:id`): becomes `http.route` and the span name `METHOD route`. Default: none (name `METHOD`). */
  route?: string | undefined;
  /** Extra attributes for every server span of this handler. */
  attributes?: Attributes | undefined;
}

const TRACE_HANDLER_KEYS = optionKeys<TraceHandlerOptions>({ route: true, attributes: true });

/**
 * Options checked once, when the handler is made: a misspelt key (`rout:`) or a `route` that is
 * not a non-empty string used to be taken silently — every span then lost its `http.route` and
 * was named by the method alone, or carried a number as `http.route`.
 */
function checkTraceHandlerOptions(options: TraceHandlerOptions): void {
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError('traceHandler: options must be an object', [
      { path: 'options', expected: 'an object', received: typeName(options), message: 'is not an object' },
    ]);
  }
  const issues = unknownKeyIssues(options, TRACE_HANDLER_KEYS);
  const { route, attributes } = options;
  if (route !== undefined && (typeof route !== 'string' || route === ''))
    issues.push({
      path: 'route',
      expected: 'a non-empty string (a route template such as /users/:id)',
      received: typeName(route),
      message: 'must be a non-empty string',
    });
  const collection = attributes === undefined ? undefined : collectionKind(attributes);
  if (
    attributes !== undefined &&
    (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes) || collection)
  )
    issues.push({
      path: 'attributes',
      expected: 'an object of attributes ({ name: value })',
      received: collection ?? typeName(attributes),
      message: collection ? `must be a plain object, not a ${collection}` : 'must be an object',
    });
  if (issues.length > 0) throw new ConfigError('traceHandler: invalid options', issues);
}

/**
 * Wraps `handler` as a `node:http` listener. Each request gets a server span whose parent and
 * baggage come from the request headers, named `METHOD route`, with the OpenTelemetry HTTP server
 * attributes (semconv.ts: `http.request.method`, `http.route`, `url.scheme`, `url.path`,
 * `url.query` redacted, `server.address`/`server.port`, `client.address`, `network.peer.*`) and,
 * when the response finishes, `http.response.status_code`; 5xx responses and thrown errors set
 * the error status and `error.type` (the status code, or the class of the error thrown or the
 * response was destroyed with). A handler that throws or rejects gets its
 * error recorded and, if nothing was sent yet, a bare 500 response. `ctx.signal` aborts when the
 * client goes away before the response is complete, or when the signal of `ctx` (if any) aborts. `OTEL_SEMCONV_STABILITY_OPT_IN` is read when
 * the handler is created (semconv.ts `currentOptIn`).
 */
export function traceHandler<P extends AppParts = AppParts>(
  ctx: AppContext<P>,
  handler: HttpHandler<P>,
  options: TraceHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  // The app given for app.ctx: every request failed with a TypeError (ctx.with). Refused at startup.
  assertContext(ctx, 'traceHandler');
  // A handler that is not a function (a route-table lookup that missed) was accepted, and every
  // request then failed with a 500 "handler is not a function": refused here, at startup.
  if (typeof handler !== 'function')
    throw new ConfigError('traceHandler: handler must be a function', [
      { path: 'handler', expected: 'a function', received: typeName(handler), message: 'is not a function' },
    ]);
  // `null` options (JavaScript callers) are no options, as for startSpan: they threw a TypeError.
  options ??= {};
  checkTraceHandlerOptions(options);
  const route = options.route;
  // Read once for the handler's life (semconv.ts `currentOptIn`: it was a `process.env` read per span).
  const optIn = currentOptIn();
  // Refusal-aware (core/refusal.ts): a request `drainServer` refuses during a shutdown comes
  // through here too, gets its server span (503) and is answered without calling `handler`.
  return refusalAware(function tracedRequest(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? 'GET';
    // The conventions name a span of an unknown method (recorded as `_OTHER`) `HTTP`.
    const spanMethod = isKnownMethod(method) ? method : 'HTTP';
    const { parent, baggage } = ctx.tracer.extract(req.headers);
    const abort = new AbortController();
    // The request's signal, joined with the one `ctx` carries (an app-wide shutdown signal, …): it
    // used to replace it, and a handler never heard of that cancellation. Joined through one
    // listener for all requests (`follow`), left when the response closes: `AbortSignal.any`
    // leaves an entry per request on the long-lived signal that Node 20 never frees (~60 bytes a
    // request, without bound).
    const unfollow = ctx.signal ? follow(ctx.signal, abort) : undefined;
    const signal = abort.signal;
    const base = ctx.with({ span: parent, baggage, signal });
    const own = withHttpDup(httpServerRequestAttributes(req, route), 'server', optIn);
    // No incoming trace context: a new trace (`root`), also in active-context mode, where the
    // span active when the server was created (a startup span) became every request's parent.
    const { ctx: child, span } = startSpan(base, route ? `${spanMethod} ${route}` : spanMethod, {
      kind: 'server',
      root: true,
      attributes: options.attributes ? { ...options.attributes, ...own } : own,
    });
    // The exemplar of a `metrics.instrument()` wrapped around this handler (response-error.ts).
    noteResponseSpan(res, span);

    let done = false;
    let errorType: string | undefined;
    let aborted = false;
    let timedOut = false;
    let shutdown = false;
    let failed = false;
    /**
     * The answer node:http wrote itself when it cut the request: 408 at its timeout, 400 (431,
     * 413) for a request it could not parse (response-error.ts `answeredByNode`).
     */
    let nodeAnswer: number | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      // `http.response.status_code` only when a status went out: `res.statusCode` is 200 until
      // the handler sets it, also for a request the client gave up on before any answer.
      // The 408 or 400 node:http wrote itself is the status the client got, whatever `res` says.
      const status = nodeAnswer ?? (res.headersSent ? res.statusCode : undefined);
      // A 5xx is the server's failure: error.type is the status code (4xx is the client's), or
      // the class of the error the handler threw.
      if (status !== undefined && status >= 500) errorType ??= String(status);
      const attrs: Record<string, number | string> = {};
      if (status !== undefined) attrs['http.response.status_code'] = status;
      if (errorType !== undefined) attrs['error.type'] = errorType;
      span.setAttributes(withHttpDup(attrs, 'server', optIn));
      // No description for a status error: the status code says it (the conventions' rule). A
      // response not sent in full is an error too (the conventions: "cancelled … or an error
      // preventing the server from sending the response fully").
      // A handler that threw already has its error status from recordError, with its message.
      if (!failed && status !== undefined && status >= 500) span.setStatus({ code: 'error' });
      else if (!failed && aborted)
        span.setStatus({
          code: 'error',
          // node:http closed the connection without its 408: part of the response had gone out,
          // or a `clientError` listener of the server destroyed the socket with the error (it
          // said "answered 408"). A listener that ends the socket with an answer of its own
          // leaves no timeout error on it: that request reads as the client going away.
          message: timedOut
            ? "the request outlived the server's requestTimeout or headersTimeout (node:http closed the connection)"
            : shutdown
              ? 'the server shut down before the response completed (cut at the end of the drain grace period)'
              : 'the client went away before the response completed',
        });
      span.end();
    };
    // One listener, not 'finish' + 'close': Node emits 'close' on every response, one tick after
    // 'finish' when it completed (writableFinished), alone when the client went away first (and,
    // on Node 20, not at all for a pipelined response still queued then: onResponseClose).
    onResponseClose(req, res, () => {
      unfollow?.();
      // `writableEnded` too: a node:http2 compatibility response (`http2.createServer(handler)`)
      // whose stream the client cancelled says `writableFinished` (its stream is closed) though
      // the handler never ended it — its span ended as complete. Over node:http a finished
      // response is always ended, so this changes nothing there.
      if (!(res.writableFinished && res.writableEnded) && !done) {
        abort.abort();
        // Destroyed by the server with an error (`await pipeline(source, res)` whose source
        // failed, `res.destroy(err)`): its own failure, not the client going away (a client that
        // leaves leaves none: response-error.ts). On Node 24 this 'close' comes before the
        // handler rejects with that error: the span said `aborted`, "the client went away", and
        // lost it.
        const cut = failed ? undefined : responseCutError(res);
        nodeAnswer = cut === undefined && !failed ? answeredByNode(req, res) : undefined;
        if (cut !== undefined) {
          failed = true;
          errorType = errorClass(cut);
          try {
            span.recordError(cut);
          } catch {}
        } else if (nodeAnswer !== undefined) {
          // Cut at the server's requestTimeout / headersTimeout, and node:http answered `408`
          // itself — or `400` (431, 413) to a request it could not parse (a malformed chunked
          // body, garbage pipelined behind it): the span records that status, and — a 4xx on a
          // server span, the client's failure — no error status and no error.type (the HTTP
          // conventions). It recorded no status at all, or the 200 of a bare `writeHead(200)`,
          // with the error status (for a parse error `aborted`, "the client went away"): the
          // client got Node's answer.
        } else {
          aborted = true;
          // The client went away — unless the handler failed first and `fail` cut the response:
          // then error.type keeps the class of what it threw — or Node cut it at the server's
          // `requestTimeout`, or `drainServer` at the end of its grace period (response-error.ts).
          timedOut = requestTimedOut(req);
          shutdown = !timedOut && cutAtShutdown(res);
          errorType ??= timedOut ? 'timeout' : shutdown ? 'shutdown' : 'aborted';
        }
      }
      finish();
    });

    const fail = (err: unknown) => {
      // The handler gave up because its request was cut (the client went away, node:http's
      // timeout, the end of a drain): it rejected with the abort of `ctx.signal` — a `tracedFetch`
      // or a query that followed it — or with the premature close of the response it was
      // streaming into (`await pipeline(source, res)`). Its span and request metric already say
      // so (`aborted`, `timeout`, `shutdown`) and nobody is left to answer: an info record, not a
      // failure. Every client hanging up on such a handler used to log `request handler failed`
      // at error level, with a stack.
      if ((aborted || nodeAnswer !== undefined) && stoppedByCut(err, signal)) {
        try {
          dropLogResult(
            child.logger.info('request handler stopped: its request was cut', {
              route,
              method,
              reason:
                errorType ?? (nodeAnswer === undefined ? 'aborted' : `answered ${nodeAnswer} by node:http`),
            }),
          );
        } catch {}
        return;
      }
      // The handler gave up because the signal of `ctx` (an app-wide shutdown signal) aborted while
      // its client still waited: the server is shutting down, as `drainServer` says with its 503.
      // It got a bare 500 (keep-alive) and `request handler failed` at error level with a stack,
      // for every request a deploy stopped. Now: a 503 with `Connection: close` when nothing was
      // sent yet (a cut response when something was), recorded as `shutdown` like a request
      // the drain cuts, and an info record.
      if (!aborted && nodeAnswer === undefined && stoppedByShutdown(err, signal, ctx.signal)) {
        errorType = 'shutdown';
        noteResponseError(res, 'shutdown');
        try {
          dropLogResult(
            child.logger.info('request handler stopped: the server is shutting down', {
              route,
              method,
              reason: 'shutdown',
            }),
          );
        } catch {}
        // Its connection already gone (the drain cut it in the same turn, its 'close' still to
        // come): nothing can be sent, and a 503 written there is one the client never got.
        if (res.destroyed || cutAtShutdown(res) || res.socket?.destroyed === true) return;
        if (!res.headersSent) {
          try {
            const body = 'service is shutting down\n';
            res.writeHead(503, {
              connection: 'close',
              'content-type': 'text/plain; charset=utf-8',
              'content-length': Buffer.byteLength(body),
            });
            res.end(body);
            return;
          } catch {}
        }
        if (!res.writableEnded) {
          noteShutdownCut(res);
          res.destroy();
        }
        return;
      }
      failed = true;
      errorType = errorClass(err);
      // For a request metric wrapped around this handler, which never sees the error.
      noteResponseError(res, errorType);
      // Nothing here may throw (it runs as the handler's rejection callback: a throw would be an
      // unhandled rejection, and the client would get no answer): span and log are best effort.
      try {
        span.recordError(err);
        dropLogResult(child.logger.error('request handler failed', { error: err, route, method }));
      } catch {}
      // A response already destroyed (the handler cut it, or `pipeline(source, res)` did when its
      // source failed, before rejecting) can send nothing: `end()` on it still marks the headers
      // as sent, and the span and request metric recorded a 500 the client never got (it saw a
      // reset). Likewise a connection destroyed in the same turn, before the response saw it close.
      if (res.destroyed || res.socket?.destroyed === true) return;
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else if (!res.writableEnded) res.destroy(err instanceof Error ? err : undefined);
    };
    const refuse = refusalOf(req);
    if (refuse) {
      // Refused while draining: the span records the 503 (its status makes it an error, with
      // error.type "503", when the response finishes) and says why; the handler never runs.
      span.setAttributes({ 'hyperion.http.refused': 'draining' });
      refuse();
      return;
    }
    const run = () => handler(child, req, res);
    try {
      const result = ctx.tracer.activate ? ctx.tracer.activate(span, run, child.baggage) : run();
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
        (result as PromiseLike<unknown>).then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  });
}

export interface TracedFetchOptions {
  /** Span name. Default: the request method (`GET`), as the HTTP conventions ask. */
  name?: string | undefined;
  /** Extra attributes for the client span. */
  attributes?: Attributes | undefined;
}

/**
 * `fetch` inside a client span: the trace context and baggage of `ctx` (continued by the new span)
 * are written into the request headers. `url` is a string, a `URL` or a `Request` (its method,
 * headers, body and signal are used; `init` overrides them as in `fetch`). Credentials in the URL are sent as basic auth. Sets
 * `http.request.method`, `url.full` (credentials and sensitive query values replaced by
 * `REDACTED`), `server.address`, `server.port`, `http.response.status_code`; a status ≥ 400 or a
 * network error sets the error status and `error.type` (the status code or the error class; a
 * network error is rethrown). Uses `ctx.signal` when
 * `init.signal` is not given (joined with a Request's own signal); `signal: null` is no signal.
 */
export async function tracedFetch(
  ctx: AppContext,
  url: string | URL | Request,
  init: RequestInit = {},
  options: TracedFetchOptions = {},
): Promise<Response> {
  // The app given for app.ctx: refused by startSpan below, whose message named startSpan, a call
  // the caller never made (and a bad `options` was first logged through the app's logger).
  assertContext(ctx, 'tracedFetch');
  // `null` from JavaScript is no init (as `fetch(url, null)` takes it) and no options: both threw
  // a TypeError before anything was sent.
  init ??= {};
  options ??= {};
  // Options that are not an object (a span name given alone, `'checkout'`) are none: walked as an
  // object, a string got one warning per index (`option \`0\``, `\`1\``, …) and a number none.
  if (typeof options !== 'object' || Array.isArray(options)) {
    warnFetchOption(ctx, undefined, Array.isArray(options) ? 'an array' : typeof options);
    options = {};
  }
  for (const key in options) if (key !== 'name' && key !== 'attributes') warnFetchOption(ctx, key);
  const extra = fetchAttributes(ctx, options.attributes);
  // A Request, as fetch takes one: its URL, method, headers, body and signal (it was read as a
  // URL string, "[object Request]": TypeError Invalid URL, nothing sent).
  const request = url instanceof Request ? url : undefined;
  const target = request ? new URL(request.url) : targetUrl(url as string | URL);
  // The Request constructor already normalised its method as fetch does.
  const method = request && init.method === undefined ? request.method : sentMethod(init.method);
  // A URL writes an IPv6 literal in brackets (`[::1]`); `server.address` is the address alone, as
  // server spans record it and the conventions list it (`server.port` beside it).
  const host = target.hostname;
  const serverAddress = host.charCodeAt(0) === 91 /* [ */ ? host.slice(1, -1) : host;
  const serverPort = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  const optIn = currentOptIn();
  const known = isKnownMethod(method);
  const { ctx: child, span } = startSpan(ctx, options.name ?? (known ? method : 'HTTP'), {
    kind: 'client',
    attributes: clientAttributes(
      extra,
      known ? method : '_OTHER',
      known ? undefined : method,
      target,
      serverAddress,
      serverPort,
      optIn,
    ),
  });
  const started = performance.now();
  let status: number | undefined;
  let errorType: string | undefined;
  let call: CallSignal | undefined;
  try {
    // Inside the try: a header the caller passed that Headers refuses ends the span too.
    // `init.headers` replace a Request's own, as in fetch.
    const headers = requestHeaders(child, init.headers ?? request?.headers, target);
    // `init.signal` given — `null` too, which in fetch means no signal, not even the Request's
    // own — replaces `ctx.signal` and the Request's. A `null` was taken as none given: the call
    // still followed both (fetch would not have followed the Request's).
    const own = init.signal !== undefined;
    call = own ? undefined : callSignal(request, ctx.signal);
    const res = await fetch(
      request ?? target,
      requestInit(init, headers, own ? (init.signal ?? null) : (call?.signal ?? request?.signal ?? null)),
    );
    // The signals must still cancel the body read: the call's signal (or, without one, the
    // Request whose signal fetch follows) lives as long as the response or its body stream (which
    // a reader holds) is reachable. A response without a body has nothing left to cancel.
    const keep = call?.signal ?? (own ? undefined : request);
    if (res.body === null) call?.release();
    else if (keep) keepWith(res, res.body, keep);
    status = res.status;
    if (res.status >= 400) {
      errorType = String(res.status);
      // No description: the status code says it (the conventions' rule).
      span.setStatus({ code: 'error' });
    }
    span.setAttributes(
      withHttpDup(
        errorType === undefined
          ? { 'http.response.status_code': res.status }
          : { 'http.response.status_code': res.status, 'error.type': errorType },
        'client',
        optIn,
      ),
    );
    return res;
  } catch (err) {
    call?.release();
    errorType = networkErrorType(err);
    span.setAttributes({ 'error.type': errorType });
    span.recordError(err);
    throw err;
  } finally {
    span.end();
    recordClientMetric(
      ctx,
      span.spanContext(),
      target,
      serverAddress,
      serverPort,
      known ? method : '_OTHER',
      status,
      errorType,
      started,
    );
  }
}

/**
 * Aborts `controller` when `outer` aborts (with its reason), at once when it already has; returns
 * the function that stops following it. One `abort` listener on `outer` for all the requests
 * following it (core/abort.ts): a listener per request put an 11th on a long-lived signal (an
 * app-wide shutdown signal) as soon as 11 requests ran at once, and Node printed a
 * MaxListenersExceededWarning ("possible EventTarget memory leak").
 */
function follow(outer: AbortSignal, controller: AbortController): () => void {
  if (outer.aborted) {
    controller.abort(outer.reason);
    return () => {};
  }
  return whenAborted(outer, () => controller.abort(outer.reason));
}

/** The signal `tracedFetch` gives fetch, and the way to stop following its sources at once. */
interface CallSignal {
  readonly signal: AbortSignal;
  /** Stops following the sources now (the call failed, or its response has no body). */
  release(): void;
}

/**
 * The calls following one source signal (`ctx.signal`, a Request's own): one `abort` listener on
 * it for all of them, each call held only weakly.
 */
interface Followers {
  readonly calls: Set<WeakRef<AbortSignal>>;
  readonly onAbort: () => void;
}

const followersOf = new WeakMap<AbortSignal, Followers>();
/**
 * Each call signal's controller, and the Request it was given: both alive exactly as long as the
 * signal is. The Request's own signal follows the signal it was made with only while the Request
 * lives (fetch holds it weakly): a caller that let the Request go could no longer abort the body
 * read with its signal.
 */
const callOf = new WeakMap<AbortSignal, { controller: AbortController; request: Request | undefined }>();
/**
 * Keeps a call signal (or a Request) alive while its response, or the response's body stream, is
 * reachable.
 */
const keptBy = new WeakMap<object, object>();
/** A call signal collected (its request and response are gone): its sources stop following it. */
const collected = new FinalizationRegistry<Unfollow>((held) => unfollowAll(held));

interface Unfollow {
  readonly sources: readonly AbortSignal[];
  readonly ref: WeakRef<AbortSignal>;
}

/**
 * The signal of a call without `init.signal`: `ctx.signal` (and, given a Request, the Request's
 * own, which passing any signal replaces), followed by a signal of the call's own. It used
 * `AbortSignal.any([request.signal, ctx.signal])`, which records every call on the long-lived
 * `ctx.signal`; Node 20 never frees those records (~60–110 bytes a request, without bound). A listener
 * removed when fetch resolves is no answer: `ctx.signal` must still cancel the body read after
 * that. So each source has one listener for all its calls, holding each call's signal weakly; a
 * call leaves it when its signal is collected (no request, response or body stream left), when
 * fetch rejects, or when the response has no body. Passing `ctx.signal` to fetch as is (a URL
 * call) left fetch's own listener per call on it until a GC: past 1,500 calls between two GCs,
 * Node printed a MaxListenersExceededWarning for every further call.
 */
function callSignal(
  request: Request | undefined,
  ctxSignal: AbortSignal | undefined,
): CallSignal | undefined {
  if (!ctxSignal) return undefined;
  const sources = request ? [request.signal, ctxSignal] : [ctxSignal];
  const controller = new AbortController();
  const signal = controller.signal;
  const aborted = sources.find((s) => s.aborted);
  if (aborted) {
    controller.abort(aborted.reason);
    return { signal, release: () => {} };
  }
  callOf.set(signal, { controller, request });
  const held: Unfollow = { sources, ref: new WeakRef(signal) };
  for (const source of sources) followersFor(source).calls.add(held.ref);
  collected.register(signal, held, held);
  return {
    signal,
    release: () => {
      collected.unregister(held);
      unfollowAll(held);
    },
  };
}

/** The followers of `source`, its one `abort` listener added when the first call comes. */
function followersFor(source: AbortSignal): Followers {
  let followers = followersOf.get(source);
  if (followers) return followers;
  const calls = new Set<WeakRef<AbortSignal>>();
  const onAbort = () => {
    followersOf.delete(source);
    for (const ref of calls) {
      const signal = ref.deref();
      if (signal) callOf.get(signal)?.controller.abort(source.reason);
    }
    calls.clear();
  };
  source.addEventListener('abort', onAbort, { once: true });
  followers = { calls, onAbort };
  followersOf.set(source, followers);
  return followers;
}

/** A call leaves its sources; a source left with no call loses its listener. */
function unfollowAll({ sources, ref }: Unfollow): void {
  for (const source of sources) {
    const followers = followersOf.get(source);
    if (!followers?.calls.delete(ref) || followers.calls.size > 0) continue;
    source.removeEventListener('abort', followers.onAbort);
    followersOf.delete(source);
  }
}

/**
 * Keeps `kept` (a call signal, with its controller and Request, or a Request) alive while `res`
 * or its body stream is reachable. Fetch itself holds a Request's signal weakly: a Request the
 * caller let go no longer aborted the body read when its signal did (nor does it with `fetch` itself).
 */
function keepWith(res: Response, body: ReadableStream<Uint8Array>, kept: object): void {
  keptBy.set(res, kept);
  keptBy.set(body, kept);
}

/** The methods fetch upper-cases before sending (the Fetch standard's "normalize a method"). */
const FETCH_NORMALIZED: ReadonlySet<string> = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/**
 * The method fetch puts on the request line for `init.method`: `get` goes out as `GET`, but any
 * other method as written — `patch` stays `patch`, which the conventions' case-sensitive rule
 * records as `_OTHER` (with `http.request.method_original`), not as `PATCH`.
 */
function sentMethod(given: string | undefined): string {
  if (given === undefined) return 'GET';
  const upper = given.toUpperCase();
  return FETCH_NORMALIZED.has(upper) ? upper : given;
}

/**
 * `url` parsed; one that does not parse is a `TypeError` (`code` `ERR_INVALID_URL`, as `new URL`
 * throws) whose message and `input` show it without what may be a credential. `new URL`'s own
 * error kept the whole text in its enumerable `input`: `JSON.stringify(err)` or a logger that
 * writes an error's fields showed the password of `http://user:pass@host:99999/`.
 */
function targetUrl(url: string | URL): URL {
  try {
    return new URL(url);
  } catch {
    const shown = shownBadUrl(String(url));
    throw Object.assign(new TypeError(`tracedFetch: invalid URL "${shown}"`), {
      code: 'ERR_INVALID_URL',
      input: shown,
    });
  }
}

/**
 * A URL that does not parse, as an error may show it: everything before its last `@` (after the
 * scheme) and its query and fragment become `[redacted]`. Unparsed, the user info has no known
 * end (a password may hold `/` or `#`), so all that precedes the `@` goes.
 */
function shownBadUrl(text: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/*/.exec(text)?.[0] ?? '';
  let rest = text.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  if (at >= 0) rest = `[redacted]${rest.slice(at)}`;
  const q = rest.search(/[?#]/);
  if (q >= 0) rest = `${rest.slice(0, q + 1)}[redacted]`;
  const shown = scheme + rest;
  return shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
}

/**
 * The request headers (trace headers of `child` injected) — with the URL's credentials, which
 * fetch refuses, moved into basic auth the way a browser sends them (`target` loses them).
 */
function requestHeaders(child: AppContext, given: RequestHeaders | undefined, target: URL): RequestHeaders {
  const headers = traceHeaders(child, given);
  if (!target.username && !target.password) return headers;
  const withAuth = new Headers(headers);
  if (!withAuth.has('authorization')) {
    // A malformed escape is sent as written: decodeURIComponent threw here, after the span had
    // started, and the span was never ended.
    const creds = `${decodeLenient(target.username)}:${decodeLenient(target.password)}`;
    withAuth.set('authorization', `Basic ${Buffer.from(creds).toString('base64')}`);
  }
  target.username = '';
  target.password = '';
  return withAuth;
}

/**
 * Whether `err` is what a handler rejects with when its request is cut under it: the reason of
 * its aborted `ctx.signal`, an `AbortError`, or a stream's premature close (`pipeline` into the
 * response, `finished(res)`).
 */
function stoppedByCut(err: unknown, signal: AbortSignal): boolean {
  if (err === signal.reason || errorClass(err) === 'AbortError') return true;
  try {
    return (err as { code?: unknown } | null | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
  } catch {
    return false;
  }
}

/**
 * Whether `err` is the handler giving up because `outer` — the signal of the `ctx` given to
 * `traceHandler`, an app-wide shutdown signal — aborted: the request's `signal` was aborted by it
 * (with its reason), not by the client going away.
 */
function stoppedByShutdown(err: unknown, signal: AbortSignal, outer: AbortSignal | undefined): boolean {
  return (
    outer?.aborted === true && signal.aborted && signal.reason === outer.reason && stoppedByCut(err, signal)
  );
}

/** `error.type` for a thrown value, as the request metric names it (response-error.ts). */
function errorClass(err: unknown): string {
  return thrownErrorType(err);
}

/**
 * `error.type` of a failed `fetch`: the code of the socket error undici puts in `cause`
 * (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_SOCKET`) when there is one, else the error class. fetch
 * rejects every network failure with the same `TypeError('fetch failed')`, so the class alone
 * made a refused peer, an unknown host and a reset connection one `error.type="TypeError"`; the
 * HTTP conventions allow a low-cardinality error identifier of the component in its place.
 */
function networkErrorType(err: unknown): string {
  const type = errorClass(err);
  if (type !== 'TypeError') return type;
  try {
    let e: unknown = (err as { cause?: unknown }).cause;
    for (let i = 0; i < 3 && e !== null && typeof e === 'object'; i++, e = (e as { cause?: unknown }).cause) {
      const code: unknown = (e as { code?: unknown }).code;
      // Only a code shaped like Node's (upper case, short): it becomes a metric label.
      if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,39}$/.test(code)) return code;
    }
  } catch {
    // A cause whose getter throws: the class it is.
  }
  return type;
}

/** `decodeURIComponent(s)`, or `s` itself when it holds a malformed escape. */
function decodeLenient(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The client span's attributes: `extra` (options.attributes) overridden by the HTTP ones, built
 * in one object (two spreads before). `url.full` skips the redaction copy when there is nothing
 * to redact (`fullUrl`).
 */
function clientAttributes(
  extra: Attributes | undefined,
  method: string,
  methodOriginal: string | undefined,
  target: URL,
  serverAddress: string,
  serverPort: number,
  optIn: SemconvOptIn,
): Attributes {
  const out: Record<string, Attributes[string]> = extra ? { ...extra } : {};
  out['http.request.method'] = method;
  if (methodOriginal !== undefined) out['http.request.method_original'] = methodOriginal;
  out['url.full'] = fullUrl(target);
  // A URL without a host (`data:`, `blob:`, which fetch serves itself) has no server: it was
  // recorded as `server.address: ""` and `server.port: 80`.
  if (serverAddress !== '') {
    out['server.address'] = serverAddress;
    out['server.port'] = serverPort;
  }
  return withHttpDup(out, 'client', optIn);
}

/**
 * `'Map'`, `'Set'` or `'Headers'` for such a collection given as the attributes, else undefined.
 * Their entries are not properties: spread into the span's attributes, they set nothing.
 */
function collectionKind(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  try {
    if (x instanceof Map) return 'Map';
    if (x instanceof Set) return 'Set';
    if (typeof Headers === 'function' && x instanceof Headers) return 'Headers';
  } catch {
    // a revoked Proxy: taken as an object, as before
  }
  return undefined;
}

/**
 * `tracedFetch`'s `attributes` when they are an object of attributes, else none with one warning
 * per tracer naming what was given: a string, an array, a `Map`, `Set` or fetch `Headers` were
 * dropped without a word (the span carried the HTTP attributes only), where `startSpan` warns.
 */
function fetchAttributes(ctx: AppContext, attributes: unknown): Attributes | undefined {
  if (attributes === undefined || attributes === null) return undefined;
  const collection = collectionKind(attributes);
  if (typeof attributes === 'object' && !Array.isArray(attributes) && collection === undefined)
    return attributes as Attributes;
  warnFetchOption(ctx, 'attributes', collection ?? typeName(attributes));
  return undefined;
}

/** Per tracer, the unknown `tracedFetch` option keys already warned about. */
const warnedFetchOptions = new WeakMap<object, Set<string>>();

/**
 * One warning per tracer and key for a `tracedFetch` option it does not know (`attribute:` for
 * `attributes:`): it used to be lost silently. The call goes on; the key is ignored.
 */
function warnFetchOption(ctx: AppContext, key: string | undefined, notObject?: string): void {
  let seen = warnedFetchOptions.get(ctx.tracer);
  if (!seen) {
    seen = new Set();
    warnedFetchOptions.set(ctx.tracer, seen);
  }
  // Options (or attributes) that are not an object are remembered by their type, apart from the keys.
  const id = notObject === undefined ? (key as string) : `(${key ?? 'options'}) ${notObject}`;
  if (seen.has(id) || seen.size >= 32) return;
  seen.add(id);
  let message: string;
  if (key === undefined)
    message = `tracedFetch: options must be an object ({ name, attributes }), got ${notObject}: they are ignored`;
  else if (notObject !== undefined)
    message = `tracedFetch: option \`${key}\` must be an object of attributes ({ name: value }), got ${article(notObject)}: they are ignored`;
  else {
    const hint = suggestKey(key, ['name', 'attributes']);
    message = `tracedFetch: option \`${key.slice(0, 64)}\` is not known and is ignored (known: name, attributes)${hint === undefined ? '' : `; did you mean \`${hint}\`?`}`;
  }
  try {
    dropLogResult(ctx.logger.warn(message));
  } catch {
    // the request still goes out
  }
}

/** `a Map`, `an array`, `a string`. */
function article(kind: string): string {
  return /^[aeiou]/i.test(kind) ? `an ${kind}` : `a ${kind}`;
}

/** What `RequestInit.headers` accepts (the DOM `HeadersInit`, not in this project's lib types). */
type RequestHeaders = NonNullable<RequestInit['headers']>;

/** A plain object: what `traceHeaders` may copy key by key (not a `Headers`, an array, a `Map`…). */
function isPlainRecord(v: object): v is Record<string, string> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Whether `carrier` has `name`, compared case-insensitively as header names are. */
function hasHeader(carrier: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  for (const k in carrier) if (k.toLowerCase() === lower) return true;
  return false;
}

/**
 * The request headers: `given` with the trace headers of `child` set (replacing the caller's of
 * the same name, case-insensitively). For no headers or a plain object, a plain object: the
 * `Headers` built before cost ~1.4 µs per call against ~0.15 µs (micro-benchmark), and fetch builds
 * its own from either. Anything else
 * (`Headers`, `[name, value][]`) goes through `Headers` as before.
 */
function traceHeaders(child: AppContext, given: RequestHeaders | undefined): RequestHeaders {
  const injected = injectHeaders(child);
  if (given === undefined) return injected;
  // The caller's `tracestate` (headers forwarded from the incoming request) beside our
  // `traceparent` without one belongs to another trace or was dropped as invalid: it is left out,
  // as `injectHeaders(ctx, headers)` does (it used to be sent, merged in here).
  const stale = staleTracestate(injected);
  if (!isPlainRecord(given)) {
    const headers = new Headers(given);
    if (stale) headers.delete('tracestate');
    for (const k in injected) headers.set(k, injected[k]!);
    return headers;
  }
  const out: Record<string, string> = {};
  for (const k in given) {
    if (hasHeader(injected, k) || (stale && k.toLowerCase() === 'tracestate')) continue;
    // An own `__proto__` key must stay a header, not become the prototype.
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: given[k], enumerable: true, writable: true });
    else out[k] = given[k]!;
  }
  for (const k in injected) out[k] = injected[k]!;
  return out;
}

/**
 * `init` with `headers` and `signal` replaced. A spread keeps every `RequestInit` field the caller
 * set; it costs ~20 ns (micro-benchmark), not worth a field list that could miss one.
 */
function requestInit(init: RequestInit, headers: RequestHeaders, signal: AbortSignal | null): RequestInit {
  return { ...init, headers, signal };
}

/** Reports the call to `ctx.metrics.observeHttpClient` (`http_client_request_duration_seconds`), when it has one. */
function recordClientMetric(
  ctx: AppContext,
  sc: SpanContext,
  target: URL,
  serverAddress: string,
  serverPort: number,
  method: string,
  status: number | undefined,
  errorType: string | undefined,
  started: number,
): void {
  // A URL without a host (`data:`, `blob:`) is served by fetch itself: no server to label the
  // series with (the conventions require `server.address`), so nothing is recorded. It was passed
  // on with an empty address, refused, and every such call logged a warning.
  if (!ctx.metrics.observeHttpClient || serverAddress === '') return;
  const scheme = target.protocol.slice(0, -1);
  try {
    ctx.metrics.observeHttpClient({
      method,
      serverAddress,
      serverPort,
      scheme,
      status,
      errorType,
      seconds: (performance.now() - started) / 1000,
      traceId: (sc.traceFlags & 1) === 1 && isValidSpanContext(sc) ? sc.traceId : undefined,
    });
  } catch (err) {
    // A metric must never fail the call it measures.
    dropLogResult(ctx.logger.warn('recording http_client_request_duration_seconds failed', { error: err }));
  }
}
