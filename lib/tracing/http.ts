/**
 * HTTP propagation helpers that work with any core `Tracer` (no-op, OpenTelemetry, …): a wrapper
 * for `node:http` request handlers (server span, parent from the incoming headers) and a `fetch`
 * wrapper (client span, trace headers injected). Attribute names follow the OpenTelemetry HTTP
 * semantic conventions.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../core/context.js';
import type { Attributes, SpanContext } from '../core/contracts.js';
import { injectHeaders, startSpan } from '../core/span.js';
import { isValidSpanContext } from '../core/w3c.js';
import { currentOptIn, httpServerRequestAttributes, redactUrl, withHttpDup } from './semconv.js';

/** A request handler that receives the request's context (its span is the server span). */
export type HttpHandler = (ctx: AppContext, req: IncomingMessage, res: ServerResponse) => unknown;

export interface TraceHandlerOptions {
  /** Route template (`/users/:id`): becomes `http.route` and the span name `METHOD route`. Default: none (name `METHOD`). */
  route?: string;
  /** Extra attributes for every server span of this handler. */
  attributes?: Attributes;
}

/**
 * Wraps `handler` as a `node:http` listener. Each request gets a server span whose parent and
 * baggage come from the request headers, named `METHOD route`, with the OpenTelemetry HTTP server
 * attributes (semconv.ts: `http.request.method`, `http.route`, `url.scheme`, `url.path`,
 * `url.query` redacted, `server.address`/`server.port`, `client.address`, `network.peer.*`) and,
 * when the response finishes, `http.response.status_code`; 5xx responses and thrown errors set
 * the error status and `error.type` (the status code, or the thrown error's class). A handler that throws or rejects gets its
 * error recorded and, if nothing was sent yet, a bare 500 response. `ctx.signal` aborts when the
 * client goes away before the response is complete.
 */
export function traceHandler(
  ctx: AppContext,
  handler: HttpHandler,
  options: TraceHandlerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const route = options.route;
  return function tracedRequest(req, res) {
    const method = req.method ?? 'GET';
    const { parent, baggage } = ctx.tracer.extract(req.headers);
    const abort = new AbortController();
    const base = ctx.with({ span: parent, baggage, signal: abort.signal });
    // The opt-in is read once per request: each read is a `process.env` lookup (~1 µs, ~5 µs per
    // request of the demo's profile when it was read at every attribute set).
    const optIn = currentOptIn();
    const own = withHttpDup(httpServerRequestAttributes(req, route), 'server', optIn);
    const { ctx: child, span } = startSpan(base, route ? `${method} ${route}` : method, {
      kind: 'server',
      attributes: options.attributes ? { ...options.attributes, ...own } : own,
    });

    let done = false;
    let errorType: string | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      const status = res.statusCode;
      // A 5xx is the server's failure: error.type is the status code (4xx is the client's), or
      // the class of the error the handler threw.
      if (status >= 500) errorType ??= String(status);
      span.setAttributes(
        withHttpDup(
          errorType === undefined
            ? { 'http.response.status_code': status }
            : { 'http.response.status_code': status, 'error.type': errorType },
          'server',
          optIn,
        ),
      );
      if (status >= 500) span.setStatus({ code: 'error', message: `HTTP ${status}` });
      span.end();
    };
    res.once('finish', finish);
    res.once('close', () => {
      if (!res.writableFinished && !done) {
        abort.abort();
        errorType = 'aborted';
      }
      finish();
    });

    const fail = (err: unknown) => {
      errorType = (err as Error | undefined)?.name ?? 'Error';
      span.recordError(err);
      child.logger.error('request handler failed', { error: err, route, method });
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      } else if (!res.writableEnded) res.destroy(err instanceof Error ? err : undefined);
    };
    const run = () => handler(child, req, res);
    try {
      const result = ctx.tracer.activate ? ctx.tracer.activate(span, run) : run();
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
        (result as PromiseLike<unknown>).then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  };
}

export interface TracedFetchOptions {
  /** Span name. Default: the request method (`GET`), as the HTTP conventions ask. */
  name?: string;
  /** Extra attributes for the client span. */
  attributes?: Attributes;
}

/**
 * `fetch` inside a client span: the trace context and baggage of `ctx` (continued by the new span)
 * are written into the request headers. Credentials in the URL are sent as basic auth. Sets
 * `http.request.method`, `url.full` (credentials and sensitive query values replaced by
 * `REDACTED`), `server.address`, `server.port`, `http.response.status_code`; a status ≥ 400 or a
 * network error sets the error status and `error.type` (the status code or the error class; a
 * network error is rethrown). Uses `ctx.signal` when
 * `init.signal` is not given.
 */
export async function tracedFetch(
  ctx: AppContext,
  url: string | URL,
  init: RequestInit = {},
  options: TracedFetchOptions = {},
): Promise<Response> {
  const target = new URL(url);
  const method = (init.method ?? 'GET').toUpperCase();
  // Read once per call (a `process.env` lookup), as in traceHandler.
  const optIn = currentOptIn();
  const own = withHttpDup(
    {
      'http.request.method': method,
      'url.full': redactUrl(target),
      'server.address': target.hostname,
      'server.port': target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80,
    },
    'client',
    optIn,
  );
  const { ctx: child, span } = startSpan(ctx, options.name ?? method, {
    kind: 'client',
    attributes: options.attributes ? { ...options.attributes, ...own } : own,
  });
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(injectHeaders(child))) headers.set(k, v);
  // fetch refuses URLs with credentials; send them the way a browser would, as basic auth.
  if (target.username || target.password) {
    if (!headers.has('authorization')) {
      const creds = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
      headers.set('authorization', `Basic ${Buffer.from(creds).toString('base64')}`);
    }
    target.username = '';
    target.password = '';
  }
  const started = performance.now();
  let status: number | undefined;
  let errorType: string | undefined;
  try {
    const res = await fetch(target, { ...init, headers, signal: init.signal ?? ctx.signal ?? null });
    status = res.status;
    if (res.status >= 400) {
      errorType = String(res.status);
      span.setStatus({ code: 'error', message: `HTTP ${res.status}` });
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
    errorType = (err as Error)?.name ?? 'Error';
    span.setAttributes({ 'error.type': errorType });
    span.recordError(err);
    throw err;
  } finally {
    span.end();
    recordClientMetric(ctx, span.spanContext(), target, method, status, errorType, started);
  }
}

/** Reports the call to `ctx.metrics.observeHttpClient` (`http_client_request_duration_seconds`), when it has one. */
function recordClientMetric(
  ctx: AppContext,
  sc: SpanContext,
  target: URL,
  method: string,
  status: number | undefined,
  errorType: string | undefined,
  started: number,
): void {
  if (!ctx.metrics.observeHttpClient) return;
  const scheme = target.protocol.slice(0, -1);
  try {
    ctx.metrics.observeHttpClient({
      method,
      serverAddress: target.hostname,
      serverPort: target.port ? Number(target.port) : scheme === 'https' ? 443 : 80,
      scheme,
      status,
      errorType,
      seconds: (performance.now() - started) / 1000,
      traceId: (sc.traceFlags & 1) === 1 && isValidSpanContext(sc) ? sc.traceId : undefined,
    });
  } catch (err) {
    // A metric must never fail the call it measures.
    ctx.logger.warn('recording http_client_request_duration_seconds failed', { error: err });
  }
}
