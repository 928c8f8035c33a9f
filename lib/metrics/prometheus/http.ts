/** Request instrumentation for `node:http` handlers and the trace id used as a latency exemplar. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '../../core/contracts.js';
import { isValidSpanContext, parseTraceparent } from '../../core/w3c.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Upper-cases known HTTP methods; anything else is `OTHER`, so a client cannot invent label values. */
export function normalizeMethod(method: string | undefined): string {
  if (!method) return 'OTHER';
  if (METHODS.has(method)) return method;
  const up = method.toUpperCase();
  return METHODS.has(up) ? up : 'OTHER';
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
    const sc = span.spanContext();
    if (isValidSpanContext(sc)) return (sc.traceFlags & 1) === 1 ? sc.traceId : undefined;
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
  status: number | string;
  /** Duration in seconds. */
  seconds: number;
  /** Trace id of a sampled trace: attached as the `trace_id` exemplar. */
  traceId?: string | undefined;
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
  span?: (req: Req) => Span | undefined;
}

/** Status label of a response that was cut off before its headers went out (nginx's "client closed request"). */
export const ABORTED_STATUS = 499;

/** Wraps `handler` so every response is recorded through `record`; the handler's own result is returned untouched. */
export function instrumentHandler<Req extends IncomingMessage, Res extends ServerResponse>(
  handler: NodeHandler<Req, Res>,
  options: InstrumentOptions<Req>,
  record: (o: RequestObservation) => void,
  now: () => number,
): NodeHandler<Req, Res> {
  const { route, span } = options;
  return function instrumented(req, res) {
    const start = now();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const r = typeof route === 'string' ? route : route(req);
      record({
        method: normalizeMethod(req.method),
        route: r ?? 'unmatched',
        status: res.headersSent || res.writableFinished ? res.statusCode : ABORTED_STATUS,
        seconds: (now() - start) / 1000,
        traceId: sampledTraceId(span?.(req), req.headers),
      });
    };
    res.once('finish', finish);
    res.once('close', finish);
    return handler(req, res);
  };
}
