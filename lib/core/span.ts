/** Span helpers that work with any `Tracer` through the explicit `ctx`. */

import type { AppContext } from './context.js';
import type { HeaderCarrier, Span, SpanOptions } from './contracts.js';
import { bindLogger } from './log-binding.js';

/**
 * Starts a child span of `ctx.span` carrying `ctx.attributes`; returns it with the child context,
 * whose logger is bound to the span (records carry `trace_id`, `span_id`, `trace_flags`).
 */
export function startSpan(
  ctx: AppContext,
  name: string,
  options: Omit<SpanOptions, 'parent'> = {},
): { ctx: AppContext; span: Span } {
  const attributes = options.attributes ? { ...ctx.attributes, ...options.attributes } : ctx.attributes;
  const span = ctx.tracer.startSpan(name, { ...options, attributes, parent: ctx.span });
  return { ctx: ctx.with({ span, logger: bindLogger(ctx.logger, span) }), span };
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

/**
 * Runs `fn` inside a new span: ends it when `fn` returns (or its promise settles), records a thrown
 * error or rejection on the span and rethrows it. Works for sync and async functions alike.
 */
export function withSpan<T>(
  ctx: AppContext,
  name: string,
  fn: (ctx: AppContext, span: Span) => T,
  options?: Omit<SpanOptions, 'parent'>,
): T {
  const { ctx: child, span } = startSpan(ctx, name, options);
  const run = () => fn(child, span);
  let result: T;
  try {
    result = ctx.tracer.activate ? ctx.tracer.activate(span, run) : run();
  } catch (err) {
    span.recordError(err);
    span.end();
    throw err;
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        span.recordError(err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}

/** Writes the trace context and baggage of `ctx` into `headers` (created if omitted) and returns it. */
export function injectHeaders(ctx: AppContext, headers: Record<string, string> = {}): Record<string, string> {
  ctx.tracer.inject(headers, { span: ctx.span, baggage: ctx.baggage });
  return headers;
}

/** A context whose parent span and baggage come from incoming request headers. */
export function contextFromHeaders(ctx: AppContext, headers: Readonly<HeaderCarrier>): AppContext {
  const { parent, baggage } = ctx.tracer.extract(headers);
  return ctx.with({ span: parent, baggage });
}
