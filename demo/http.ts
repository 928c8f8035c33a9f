/**
 * The little HTTP layer the three services share: a route table with `:param` templates, JSON in
 * and out, typed HTTP errors, and the two places where HTTP meets observability, both swappable
 * (demo/instrumentation.ts): `ServeRoute` wraps each route (by default `hyperionServe`:
 * `traceHandler`'s server span, parent taken from the W3C headers, plus `instrument`'s latency
 * histogram labelled with the route template, the trace id as exemplar) and `ClientFetch` makes
 * the calls to other services (by default `tracedFetch`: client span, trace headers injected).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AppContext } from '../lib/core/context.js';
import type { Attributes, Span } from '../lib/core/contracts.js';
import { isRefusalAware, refusalAware, refusalOf } from '../lib/core/refusal.js';
import { answeredByNode, cutAtShutdown, requestTimedOut } from '../lib/core/response-error.js';
import { isValidSpanContext } from '../lib/core/w3c.js';
import type { PrometheusMetrics } from '../lib/metrics/prometheus/index.js';
import { type HttpHandler, tracedFetch, traceHandler } from '../lib/tracing/http.js';
import { isDatabaseUnavailable } from './db.js';

/** `Retry-After` (seconds) of a `503` caused by a dependency that is down (the database). */
export const RETRY_AFTER_SECONDS = '5';

/** What a handler sees of a request. */
export interface DemoRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** Parsed JSON body (POST/PUT), else `undefined`. */
  readonly body: unknown;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Handlers receive the request's context explicitly: its span is the server span. */
export type Handler = (ctx: AppContext, req: DemoRequest) => Promise<Reply> | Reply;

export interface Route {
  readonly method: 'GET' | 'POST';
  /** Template such as `/users/:id`; also the `route` metric label and the `http.route` attribute. */
  readonly path: string;
  readonly handler: Handler;
}

/** An error with an HTTP status and a JSON body, thrown by handlers. */
export class HttpError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** Extra response headers (e.g. `connection: close` after a refused body). */
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: number,
    message: string,
    extra: Record<string, unknown> = {},
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.name = 'HttpError';
    this.status = status;
    this.body = { error: message, ...extra };
    this.headers = options?.headers ?? {};
  }
}

/** Largest accepted request body, bytes. */
const MAX_BODY = 64 * 1024;

function compile(path: string): (p: string) => Record<string, string> | undefined {
  const parts = path.split('/');
  return (actual) => {
    const got = actual.split('/');
    if (got.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const want = parts[i]!;
      const have = got[i]!;
      if (want.startsWith(':')) {
        if (have === '') return undefined;
        params[want.slice(1)] = decodeURIComponent(have);
      } else if (want !== have) return undefined;
    }
    return params;
  };
}

/** Past MAX_BODY the rest of a body is read and discarded up to this size, then the 413 goes out anyway. */
const MAX_DISCARD = 1024 * 1024;

const expectsContinue = (req: IncomingMessage) => req.headers.expect?.toLowerCase() === '100-continue';

/**
 * The server's `checkContinue` listener: `100 Continue` only for a body that may be accepted (its
 * announced length within the limit); the request goes on to the request listeners either way,
 * where a larger one gets its 413 before the client sent any of it. Without a listener node:http
 * invites every body, so a client uploaded megabytes only to be refused.
 */
export function checkContinue(this: Server, req: IncomingMessage, res: ServerResponse): void {
  if (!(Number(req.headers['content-length']) > MAX_BODY)) res.writeContinue();
  this.emit('request', req, res);
}

/**
 * Why a request body cannot be read as JSON, from its headers, or `undefined`: a `Content-Type`
 * other than `application/json` (or `application/…+json`), a charset other than UTF-8 (RFC 8259
 * 8.1), or a `Content-Encoding` (bodies are read as sent, never decompressed).
 */
export function unsupportedBody(headers: IncomingMessage['headers']): string | undefined {
  const shown = (v: string) => JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity')
    return `Content-Encoding ${shown(encoding)} is not supported: send the JSON body uncompressed`;
  const type = headers['content-type'];
  if (!type) return 'a body needs Content-Type: application/json';
  const [media = '', ...params] = type.split(';');
  const m = media.trim().toLowerCase();
  if (m !== 'application/json' && !/^application\/[a-z0-9.!#$&^_-]+\+json$/.test(m))
    return `Content-Type must be application/json, got ${shown(m)}`;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return `JSON must be UTF-8, got charset ${shown(charset)}`;
  }
  return undefined;
}

/**
 * The client closed its connection before its request body had all arrived (the request stream's
 * `aborted` / ECONNRESET): no one is left to answer, and it is not a server fault.
 */
class ClientClosedError extends Error {
  override readonly name = 'ClientClosedError';
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    // The 413 is sent once the client has finished sending (so it is not reset by unread data and
    // reads the answer), or at once past MAX_DISCARD; the connection closes after the reply.
    const refuse = () =>
      reject(
        new HttpError(
          413,
          `request body larger than ${MAX_BODY} bytes`,
          {},
          { headers: { connection: 'close' } },
        ),
      );
    // A client that waits for `100 Continue` before sending (curl does for bodies over 1 KB) and
    // announces too much is answered at once: nothing was sent, nothing needs reading.
    if (expectsContinue(req) && Number(req.headers['content-length']) > MAX_BODY) return refuse();
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (tooLarge) {
        if (size - c.length <= MAX_DISCARD && size > MAX_DISCARD) refuse();
        return;
      }
      if (size > MAX_BODY) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    // Its ECONNRESET used to be taken for a database error: the gateway, which has no database,
    // logged `database unavailable` (with a stack) for every client that hung up mid-body.
    req.on('error', (err) =>
      reject(
        new ClientClosedError('the client closed the connection before sending the whole body', {
          cause: err,
        }),
      ),
    );
    req.on('end', () => {
      if (tooLarge) return refuse();
      const raw = Buffer.concat(chunks);
      // No body at all needs no Content-Type (the schema answers 400 for the missing fields).
      if (raw.length === 0) return resolve(undefined);
      // Checked once the body is read, so the client reads the answer (no reset by unread data).
      const unsupported = unsupportedBody(req.headers);
      if (unsupported)
        return reject(
          new HttpError(415, unsupported, {}, { headers: { 'accept-post': 'application/json' } }),
        );
      const text = raw.toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'request body is not valid JSON'));
      }
    });
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * The origin-form target of a request: `/users/1?x` as sent, or the path and query of an
 * absolute-form target (`GET http://host/users/1`), which a server must accept (RFC 9112 3.2.2).
 */
export function requestPath(url: string | undefined): string {
  if (!url) return '/';
  if (url.startsWith('/')) return url;
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return url; // matches no route: 404
  }
}

/** A `node:http` request listener. */
export type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Wraps the handler of one route (template `route`) as a listener: the server span (whose context
 * the handler receives) and the request metrics.
 */
export type ServeRoute = (ctx: AppContext, route: string, handler: HttpHandler) => Listener;

/** The `route` of a request that matched no route (404, a malformed path): the metrics' label. */
export const UNMATCHED = 'unmatched';

/**
 * The demo's own `ServeRoute`: `traceHandler`, then the Prometheus adapter's `instrument` (when
 * given). A request that matched no route gets a span named by its method alone, without
 * `http.route` (the OpenTelemetry HTTP conventions; it was `GET unmatched` with
 * `http.route="unmatched"`, a template no route has); its metrics keep `http_route="unmatched"`.
 */
export function hyperionServe(metrics: PrometheusMetrics | undefined): ServeRoute {
  return (ctx, route, handler) => {
    const spans = new WeakMap<IncomingMessage, Span>();
    const traced = traceHandler(
      ctx,
      (c, req, res) => {
        if (c.span) spans.set(req, c.span);
        return handler(c, req, res);
      },
      route === UNMATCHED ? {} : { route },
    );
    return metrics ? metrics.instrument(traced, { route, span: (req) => spans.get(req) }) : traced;
  };
}

export interface ServiceListenerOptions {
  /** The app's root context. */
  ctx: AppContext;
  routes: readonly Route[];
  /** Server span and request metrics around each route (default: `hyperionServe()`, tracing only). */
  serve?: ServeRoute;
  /** `GET /metrics`. Omit for none. */
  scrape?: Listener | undefined;
  /** Extra `GET /healthz` details (e.g. the breaker state). */
  health?: () => Record<string, unknown>;
  /**
   * The dependencies `/healthz` reports and `/readyz` requires, each `up` or `down` (e.g. the
   * database, pinged with a bound). Omit for none: always ready.
   */
  checks?: () => Promise<Record<string, 'up' | 'down'>>;
  /**
   * The public edge (the gateway): no request comes from another demo service, so none bounds its
   * calls by an `x-demo-timeout-ms` (a client can send `x-demo-peer` as well as anyone).
   */
  edge?: boolean;
}

/** Builds the `node:http` listener of a service: its routes plus `/healthz` and `/metrics`. */
export function createServiceListener(options: ServiceListenerOptions): Listener {
  const paramsOf = new WeakMap<IncomingMessage, Record<string, string>>();
  const { ctx, scrape } = options;
  const serve = options.serve ?? hyperionServe(undefined);

  const wrap = (route: string, inner: HttpHandler) =>
    serve(ctx, route, (c, req, res) => {
      if (c.span) {
        // Lets a client (and `npm run demo`) find the request's trace in Jaeger.
        const sc = c.span.spanContext();
        if ((sc.traceFlags & 1) === 1 && isValidSpanContext(sc)) res.setHeader('x-trace-id', sc.traceId);
      }
      // One line per request. c.logger is bound to the server span: the record carries
      // trace_id / span_id / trace_flags, so a log line leads to its trace in Jaeger.
      const started = performance.now();
      const ms = () => Math.round((performance.now() - started) * 100) / 100;
      res.once('finish', () =>
        c.logger.info('request', { method: req.method, route, status: res.statusCode, duration_ms: ms() }),
      );
      // A request whose answer was never sent in full (the client went away, Node cut it at the
      // request timeout, drainServer at the end of its grace) never finishes: it had no line at
      // all. Its line names it as /metrics and the span do — Node's own 408 as that status, a
      // drain's cut `shutdown`, not every one `aborted` — without a status when none was sent.
      res.once('close', () => {
        if (res.writableFinished) return;
        const status = answeredByNode(req, res);
        const fields =
          status !== undefined
            ? { status }
            : { error_type: requestTimedOut(req) ? 'timeout' : cutAtShutdown(res) ? 'shutdown' : 'aborted' };
        c.logger.info('request', { method: req.method, route, ...fields, duration_ms: ms() });
      });
      return inner(c, req, res);
    });

  const table = options.routes.map((r) => ({
    method: r.method,
    path: r.path,
    match: compile(r.path),
    listener: wrap(r.path, async (c, req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      try {
        const body = r.method === 'POST' ? await readBody(req) : undefined;
        const reply = await r.handler(options.edge ? c : withCallerDeadline(c, req), {
          method: r.method,
          path: url.pathname,
          params: paramsOf.get(req) ?? {},
          query: url.searchParams,
          body,
        });
        sendJson(res, reply.status, reply.body, reply.headers as Record<string, string>);
      } catch (err) {
        if (err instanceof ClientClosedError) {
          // Nothing to send it to; the request is recorded as aborted (error.type) by the wrapper.
          c.logger.info('request body not received', { route: r.path, reason: err.message });
          return;
        }
        if (err instanceof HttpError) {
          if (err.status >= 500) c.span?.recordError(err);
          sendJson(res, err.status, err.body, { ...err.headers });
          return;
        }
        c.span?.recordError(err);
        if (isDatabaseUnavailable(err)) {
          // Not this request's fault and not a bug: the database is down or unreachable. Try later.
          c.logger.warn('database unavailable', { route: r.path, error: err });
          sendJson(res, 503, { error: 'database unavailable' }, { 'retry-after': RETRY_AFTER_SECONDS });
          return;
        }
        c.logger.error('request failed', { route: r.path, error: err });
        sendJson(res, 500, { error: 'internal error' });
      }
    }),
  }));
  const notFound = wrap(UNMATCHED, (_c, _req, res) => sendJson(res, 404, { error: 'no such route' }));
  // `/users/%E0%A4%A`: a path parameter that is not valid percent-encoded UTF-8 is the client's
  // mistake, not a missing route.
  const malformed = wrap(UNMATCHED, (_c, _req, res) =>
    sendJson(res, 400, { error: 'malformed percent-encoding in the path' }),
  );
  // A known path asked with a method it does not take: 405 with the `Allow` header HTTP requires,
  // traced and counted under the path's template like any other answer of that route.
  const allowed = new Map<string, string[]>();
  for (const r of options.routes) {
    const methods = allowed.get(r.path) ?? [];
    methods.push(r.method, ...(r.method === 'GET' ? ['HEAD'] : []));
    allowed.set(r.path, methods);
  }
  // What `OPTIONS *` lists: every method some path takes (/healthz and /readyz take GET and HEAD).
  const serverMethods = [
    ...new Set(['GET', 'HEAD', ...options.routes.flatMap((r) => (r.method === 'GET' ? [] : [r.method]))]),
  ].join(', ');
  const notAllowed = new Map(
    [...allowed].map(([path, methods]) => {
      const allow = [...new Set(methods)].join(', ');
      return [
        path,
        wrap(path, (_c, _req, res) => sendJson(res, 405, { error: 'method not allowed' }, { allow })),
      ] as const;
    }),
  );

  /**
   * `/healthz` (liveness): 200 while the process serves, `status` `ok` or `degraded` (a dependency
   * is down, named in `checks`). `/readyz` (readiness): 200 `ready`, or 503 `unavailable` with
   * `Retry-After` while a dependency is down, so a load balancer or orchestrator routes elsewhere.
   */
  const health = async (readiness: boolean, res: ServerResponse) => {
    let checks: Record<string, 'up' | 'down'> = {};
    try {
      checks = (await options.checks?.()) ?? {};
    } catch {
      checks = { checks: 'down' };
    }
    const down = Object.values(checks).includes('down');
    const extra = { ...options.health?.(), ...(Object.keys(checks).length ? { checks } : {}) };
    if (!readiness) return sendJson(res, 200, { status: down ? 'degraded' : 'ok', ...extra });
    if (down)
      return sendJson(res, 503, { status: 'unavailable', ...extra }, { 'retry-after': RETRY_AFTER_SECONDS });
    return sendJson(res, 200, { status: 'ready', ...extra });
  };

  // A request drainServer refuses (503 during a shutdown) goes to a route's listener when that
  // records it (traceHandler / instrument: its span and metric show the 503); anything else —
  // /healthz, /metrics, another `serve` layer — is answered the 503 without being served.
  const dispatch = (listener: Listener, req: IncomingMessage, res: ServerResponse) => {
    const refuse = refusalOf(req);
    if (refuse && !isRefusalAware(listener)) return refuse();
    return listener(req, res);
  };

  return refusalAware(function serviceListener(req: IncomingMessage, res: ServerResponse) {
    const raw = requestPath(req.url);
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    if (refusalOf(req) && (path === '/metrics' || path === '/healthz' || path === '/readyz' || raw === '*'))
      return refusalOf(req)!();
    if (raw === '*') {
      // The asterisk-form target asks about the server, not a resource (RFC 9110 9.3.7): `OPTIONS *`
      // gets 200 with the methods the server takes (it used to be a 404 "no such route"); any
      // other method may not use that form (RFC 9112 3.2.4). Server-level, like /healthz: not
      // traced or counted as a route.
      if (req.method === 'OPTIONS') {
        res.writeHead(200, { allow: serverMethods, 'content-length': 0 });
        return void res.end();
      }
      return sendJson(res, 400, { error: 'the request target * is only for OPTIONS' });
    }
    if (path === '/metrics' && scrape) return scrape(req, res);
    if (path === '/healthz' || path === '/readyz') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
      return void health(path === '/readyz', res);
    }
    // HEAD is served by the GET route (node:http sends the headers, no body).
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    let mismatch: string | undefined;
    for (const r of table) {
      let params: Record<string, string> | undefined;
      try {
        params = r.match(path);
      } catch {
        return dispatch(malformed, req, res); // decodeURIComponent refused a parameter
      }
      if (!params) continue;
      if (r.method !== method) {
        mismatch ??= r.path;
        continue;
      }
      paramsOf.set(req, params);
      return dispatch(r.listener, req, res);
    }
    if (mismatch !== undefined) return dispatch(notAllowed.get(mismatch)!, req, res);
    return dispatch(notFound, req, res);
  });
}

/** A downstream JSON call's outcome. */
export interface CallResult<T = unknown> {
  readonly status: number;
  readonly body: T;
  /** The answer's `Retry-After` header, passed on with a `503`. */
  readonly retryAfter?: string | undefined;
}

/**
 * A `fetch` to another service inside a client span named `options.name` (with `attributes`),
 * the trace context of `ctx` injected into the headers; `tracedFetch`'s signature.
 */
export type ClientFetch = (
  ctx: AppContext,
  url: string,
  init: RequestInit,
  options: { name: string; attributes: Attributes },
) => Promise<Response>;

/**
 * The app component (`ctx.components`) that replaces `tracedFetch` for calls to other services:
 * how an instrumentation layer other than the demo's own (demo/instrumentation.ts) plugs in.
 */
export const CLIENT_FETCH = 'clientFetch';

/**
 * The app component (`ctx.components`) holding the bound of one call to another service, ms
 * (`startService({ callTimeoutMs })`, env `CALL_TIMEOUT_MS`); absent → {@link DEFAULT_CALL_TIMEOUT_MS}.
 */
export const CALL_TIMEOUT = 'callTimeoutMs';

/** Default bound for one downstream call, ms. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/**
 * Marks a call from one demo service to another. A service that is stopping still serves these
 * (they finish work that was in flight at the edge), while new requests from clients get a 503.
 */
export const PEER_HEADER = 'x-demo-peer';

/**
 * The bound, in ms, the calling service gave the call it made to this one (`callService` sends it).
 * A request carrying it may use only {@link CALLEE_SHARE} of it for its own calls to other
 * services (see {@link withCallerDeadline}).
 */
export const TIMEOUT_HEADER = 'x-demo-timeout-ms';

/**
 * Share of the caller's bound a called service leaves itself for its own calls: below 1, so that
 * the service that did not answer is named (its caller's 502 comes first), and above the 80 % a
 * database may take (two waits of 40 % of the call timeout), so that its 503 still comes through.
 */
export const CALLEE_SHARE = 0.9;

/**
 * `ctx`, whose signal also aborts {@link CALLEE_SHARE} of the caller's bound (the request's
 * `x-demo-timeout-ms`, from another demo service) after the request came in; `ctx` itself without
 * that header or without {@link PEER_HEADER}. With one call
 * timeout for every service, a call two services deep had the same bound as the call around it:
 * the outer caller gave up first and named the service in between (gateway → user-service →
 * order-service hung: `user-service did not answer`), whose own 502 naming order-service was
 * answered to no one, and the user service logged the request as aborted.
 */
function withCallerDeadline(ctx: AppContext, req: IncomingMessage): AppContext {
  // Only from another demo service (the gateway, the public edge, takes none: see `edge`).
  if (req.headers[PEER_HEADER] === undefined) return ctx;
  const text = req.headers[TIMEOUT_HEADER];
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text) || Number(text) < 1) return ctx;
  const deadline = AbortSignal.timeout(Math.max(1, Math.floor(Number(text) * CALLEE_SHARE)));
  return ctx.with({ signal: ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline });
}

/** Error codes of a connection the peer closed under a request (not a refusal, not a timeout). */
const CLOSED_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** The `code` of a fetch failure (undici puts the socket error in `cause`). */
function networkCode(err: unknown): string | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 4;
    e = e.cause as typeof e, i++
  )
    if (typeof e.code === 'string') return e.code;
  return undefined;
}

/**
 * Calls another service over HTTP inside a client span (trace context injected by `tracedFetch`).
 * A `GET` whose keep-alive connection was closed under it is sent again, up to twice (idempotent;
 * this is what happens when the peer is draining). A peer that refuses or closes connections
 * (stopping) becomes `HttpError(503)`, timeouts and other failures `HttpError(502)`; any HTTP
 * status is returned as is (a non-JSON body as text).
 */
export async function callService<T = unknown>(
  ctx: AppContext,
  target: { service: string; baseUrl: string },
  method: 'GET' | 'POST',
  path: string,
  options: { template?: string; body?: unknown } = {},
): Promise<CallResult<T>> {
  const { body } = options;
  const template = options.template ?? path;
  const bound = (ctx.components[CALL_TIMEOUT] as number | undefined) ?? DEFAULT_CALL_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(bound);
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
  const clientFetch = (ctx.components[CLIENT_FETCH] as ClientFetch | undefined) ?? tracedFetch;
  // Each attempt is a client span of its own; a repeat says which one it is in
  // `http.request.resend_count` (1, 2), as the HTTP conventions ask of every resent request.
  const send = (resends: number) =>
    clientFetch(
      ctx,
      `${target.baseUrl}${path}`,
      {
        method,
        signal,
        headers: {
          [PEER_HEADER]: '1',
          [TIMEOUT_HEADER]: String(bound),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      // `{method} {url.template}`: the span name the HTTP conventions give a client span with a template.
      {
        name: `${method} ${template}`,
        // No peer.service (deprecated): server.address/server.port name the callee.
        attributes:
          resends === 0
            ? { 'url.template': template }
            : { 'url.template': template, 'http.request.resend_count': resends },
      },
    );
  try {
    let res: Response;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await send(attempt - 1);
        break;
      } catch (err) {
        // A GET whose pooled connection the peer closed (it is draining) goes out once more.
        const code = networkCode(err);
        if (method !== 'GET' || attempt >= 3 || signal.aborted || !code || !CLOSED_CODES.has(code)) throw err;
      }
    }
    const text = await res.text();
    const json = (res.headers.get('content-type') ?? '').includes('json');
    // A non-JSON body (e.g. a proxy's or a draining server's plain-text 503) is passed on as text.
    return {
      status: res.status,
      body: (json && text ? JSON.parse(text) : text || undefined) as T,
      retryAfter: res.headers.get('retry-after') ?? undefined,
    };
  } catch (err) {
    const code = networkCode(err);
    // Refused or closed under us: the peer is stopping (or not started): unavailable, try again.
    // With `Retry-After`, as every other 503 of the demo (it had none, so a client could not tell
    // when to come back; the gateway passes it on) — when trying again is safe: the peer never got
    // the request (refused), or it is a GET. A POST whose connection closed under it may have been
    // written: no invitation to send the order twice.
    if (code && (code === 'ECONNREFUSED' || CLOSED_CODES.has(code)))
      throw new HttpError(
        503,
        `${target.service} is not accepting requests`,
        { reason: code },
        {
          cause: err,
          headers: code === 'ECONNREFUSED' || method === 'GET' ? { 'retry-after': RETRY_AFTER_SECONDS } : {},
        },
      );
    const reason = code ?? (err as { name?: string })?.name;
    throw new HttpError(
      502,
      `${target.service} did not answer ${method} ${template}`,
      reason ? { reason } : {},
      { cause: err },
    );
  }
}

/**
 * The status to answer when a downstream call did not succeed: a downstream 4xx stays a 4xx
 * (the client's request was wrong), 503 stays 503 (the peer is stopping: try again), anything
 * else is 502.
 */
export function downstreamStatus(status: number): number {
  if (status >= 400 && status < 500) return status;
  if (status === 503) return 503;
  return 502;
}

/** The `Retry-After` header of a downstream `503` to pass on, as response headers. */
export function retryAfterOf(r: Pick<CallResult, 'status' | 'retryAfter'>): Record<string, string> {
  return r.status === 503 && r.retryAfter ? { 'retry-after': r.retryAfter } : {};
}
