/**
 * The HTTP side of the raw-SDK twin, hand-written on the OpenTelemetry API and prom-client: a
 * server span per request (parent from the W3C headers, the HTTP server attributes of the
 * conventions, status at the end) with the latency histogram, and `fetch` in a client span with
 * the trace context injected and the client latency histogram. Same span names, attributes and
 * metric labels as the demo's `traceHandler` / `instrument` / `tracedFetch`; none of their code.
 * (Not copied, since the benchmark never needs it: query redaction and `Forwarded` parsing.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Attributes,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { ClientFetch, Listener } from '../../demo/http.js';
import type { AppContext } from '../../lib/core/context.js';
import type { HttpHandler } from '../../lib/tracing/http.js';
import type { PeerMetrics } from './metrics.js';
import { extractContext, injectContext, PeerSpan } from './tracing.js';

const sampledTraceId = (span: PeerSpan): string | undefined => {
  const sc = span.otel.spanContext();
  return (sc.traceFlags & 1) === 1 ? sc.traceId : undefined;
};

/** The server span's attributes known when the request arrives (OpenTelemetry HTTP conventions). */
function serverAttributes(req: IncomingMessage, route: string): Attributes {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const socket = req.socket;
  const [host, port] = (req.headers.host ?? '').split(':');
  const forwarded = req.headers['x-forwarded-for'];
  return {
    'http.request.method': req.method,
    'http.route': route,
    'url.scheme': 'http',
    'url.path': q === -1 ? url : url.slice(0, q),
    'url.query': q === -1 ? undefined : url.slice(q + 1),
    'server.address': host || socket.localAddress,
    'server.port': host ? Number(port ?? 80) : socket.localPort,
    'client.address':
      (typeof forwarded === 'string' ? forwarded.split(',')[0]?.trim() : undefined) ?? socket.remoteAddress,
    'network.peer.address': socket.remoteAddress,
    'network.peer.port': socket.remotePort,
    'network.protocol.version': req.httpVersion,
    'user_agent.original': req.headers['user-agent'],
  };
}

/** Wraps one route: server span (handed to the handler as `ctx.span`) and `http_server_request_duration_seconds`. */
export function peerServe(otel: Tracer, metrics: PeerMetrics) {
  return (root: AppContext, route: string, handler: HttpHandler): Listener =>
    (req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      const method = req.method ?? 'GET';
      const parent = extractContext(req.headers);
      const otelSpan = otel.startSpan(
        `${method} ${route}`,
        { kind: SpanKind.SERVER, attributes: serverAttributes(req, route) },
        parent,
      );
      const span = new PeerSpan(otelSpan, trace.setSpan(parent, otelSpan));
      const abort = new AbortController();
      let errorType: string | undefined;
      // 'close' comes after 'finish', and alone when the client went away first.
      res.once('close', () => {
        const status = res.statusCode;
        if (!res.writableFinished) {
          abort.abort();
          errorType = 'aborted';
        } else if (status >= 500) errorType ??= String(status);
        otelSpan.setAttribute('http.response.status_code', status);
        if (errorType !== undefined) otelSpan.setAttribute('error.type', errorType);
        if (status >= 500) otelSpan.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
        otelSpan.end();
        const labels: Record<string, string | number> = {
          http_request_method: method,
          http_route: route,
          url_scheme: 'http',
        };
        if (res.headersSent) labels.http_response_status_code = status;
        if (errorType !== undefined) labels.error_type = errorType;
        metrics.observeServer(labels, (performance.now() - started) / 1000, sampledTraceId(span));
      });
      const fail = (err: unknown) => {
        errorType = (err as Error | undefined)?.name ?? 'Error';
        span.recordError(err);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else if (!res.writableEnded) res.destroy();
      };
      try {
        const result = handler(root.with({ span, signal: abort.signal }), req, res);
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function')
          (result as PromiseLike<unknown>).then(undefined, fail);
      } catch (err) {
        fail(err);
      }
    };
}

/** `fetch` in a client span, trace context injected, `http_client_request_duration_seconds` recorded. */
export function peerFetch(otel: Tracer, metrics: PeerMetrics): ClientFetch {
  return async (ctx, url, init, options) => {
    const parent = ctx.span instanceof PeerSpan ? ctx.span.ctx : ROOT_CONTEXT;
    const target = new URL(url);
    const method = init.method ?? 'GET';
    const port = Number(target.port || 80);
    const span = otel.startSpan(
      options.name,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          ...(options.attributes as Attributes),
          'http.request.method': method,
          'url.full': url,
          'server.address': target.hostname,
          'server.port': port,
        },
      },
      parent,
    );
    const headers = { ...(init.headers as Record<string, string>) };
    injectContext(trace.setSpan(parent, span), headers);
    const started = performance.now();
    let status: number | undefined;
    let errorType: string | undefined;
    try {
      const res = await fetch(target, { ...init, headers, signal: init.signal ?? ctx.signal ?? null });
      status = res.status;
      span.setAttribute('http.response.status_code', status);
      if (status >= 400) {
        errorType = String(status);
        span.setAttribute('error.type', errorType);
        span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
      }
      return res;
    } catch (err) {
      errorType = (err as Error)?.name ?? 'Error';
      span.setAttribute('error.type', errorType);
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      throw err;
    } finally {
      span.end();
      const labels: Record<string, string | number> = {
        http_request_method: method,
        server_address: target.hostname,
        server_port: port,
        url_scheme: 'http',
      };
      if (status !== undefined) labels.http_response_status_code = status;
      if (errorType !== undefined) labels.error_type = errorType;
      const sc = span.spanContext();
      metrics.observeClient(
        labels,
        (performance.now() - started) / 1000,
        (sc.traceFlags & 1) === 1 ? sc.traceId : undefined,
      );
    }
  };
}
