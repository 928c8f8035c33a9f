/** Span helpers that work with any `Tracer` through the explicit `ctx`. */

import { injectInto, isHeaderMap, lowercaseHeaders, plainHeaders, staleTracestate } from './carrier.js';
import { type AppContext, type AppParts, assertContext, childContext } from './context.js';
import type { Attributes, HeaderCarrier, HeaderMap, Span, SpanKind, SpanOptions } from './contracts.js';
import { ConfigError, typeName } from './errors.js';
import { bindLogger, dropLogResult } from './log-binding.js';
import { suggestKey } from './options.js';
import { readSpanContext } from './w3c.js';

/**
 * Starts a child span of `ctx.span` carrying `ctx.attributes`; returns it with the child context,
 * whose logger is bound to the span (records carry `trace_id`, `span_id`, `trace_flags`).
 */
export function startSpan<P extends AppParts = AppParts>(
  ctx: AppContext<P>,
  name: string,
  options?: Omit<SpanOptions, 'parent'>,
): { ctx: AppContext<P>; span: Span } {
  assertContext(ctx, 'startSpan');
  // `null` (JavaScript callers) is no options, as `undefined` is: it threw a TypeError.
  const o = options ?? NO_OPTIONS;
  if (o !== NO_OPTIONS) checkOptions(ctx, o);
  const own = o.attributes;
  const inherited = ctx.attributes;
  // A merged copy only when the context carries attributes: most contexts carry none, and the
  // tracer copies the values at start anyway (the copy was ~8 % of a sampled span here).
  const attributes = own ? (hasKeys(inherited) ? merge(inherited, own) : own) : inherited;
  // The fields of SpanOptions named one by one: a spread of `options` plus two overrides took
  // ~40 % of this function's time in a CPU profile (V8 cloned, then rewrote, the object).
  const kind = o.kind;
  const spanOptions: SpanOptions = {
    kind: kind === undefined || KIND_NAMES.has(kind) ? kind : undefined,
    attributes,
    parent: ctx.span,
    startTime: o.startTime,
    root: o.root,
    links: o.links,
  };
  let span: Span;
  try {
    span = ctx.tracer.startSpan(name, spanOptions);
  } catch (err) {
    // A tracer of another make that throws on a broken parent (one whose spanContext() throws):
    // the span starts without it, as our tracers do, instead of failing the request.
    if (ctx.span === undefined || readSpanContext(ctx.span) !== undefined) throw err;
    warnBrokenParent(ctx);
    span = ctx.tracer.startSpan(name, { ...spanOptions, parent: undefined });
  }
  try {
    return { ctx: childContext(ctx, span, bindLogger(ctx.logger, span)), span };
  } catch (err) {
    // A context of the caller's own whose getter (or `with`) throws: the span had started and was
    // never ended (never exported, its context kept). It ends, with the error, and the error is thrown.
    span.recordError(err);
    span.end();
    throw err;
  }
}

/** Tracers already warned about a broken parent (one warning each). */
const warnedTracers = new WeakSet<object>();

function warnBrokenParent(ctx: AppContext): void {
  if (warnedTracers.has(ctx.tracer)) return;
  warnedTracers.add(ctx.tracer);
  try {
    dropLogResult(
      ctx.logger.warn("tracing: the parent span's spanContext() throws; the span starts without a parent"),
    );
  } catch {
    // the span still starts
  }
}

const NO_OPTIONS: Omit<SpanOptions, 'parent'> = Object.freeze({});

const KIND_NAMES: ReadonlySet<string> = new Set<SpanKind>([
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
]);

/** Per tracer, the option problems already warned about (one warning each). */
const warnedOptions = new WeakMap<object, Set<string>>();

/**
 * Warns once per tracer about a key `SpanOptions` does not have (`attribute:` for `attributes:`,
 * `parent`, which `ctx.span` gives) or a `kind` that is not one of the five (`'SERVER'`): the
 * compiler catches both in an object literal, but options built elsewhere (JavaScript, a spread)
 * lost them silently. Such a key is ignored and such a kind is `internal`, as before; a request
 * is never failed for them. A few keys walked per call; nothing is allocated unless one is wrong.
 */
function checkOptions(ctx: AppContext, o: Omit<SpanOptions, 'parent'>): void {
  let problem: string | undefined;
  try {
    // Options that are not an object (a kind given alone, `'server'`, from JavaScript) are none:
    // walked as an object, the warning named their indices (`span option \`0\``).
    if (typeof o !== 'object' || Array.isArray(o))
      problem = `span options must be an object, got ${Array.isArray(o) ? 'an array' : typeof o}: they are ignored`;
    else
      for (const key in o) {
        if (
          key !== 'kind' &&
          key !== 'attributes' &&
          key !== 'startTime' &&
          key !== 'root' &&
          key !== 'links'
        ) {
          problem = `span option \`${key.slice(0, 64)}\` is not a SpanOptions field and is ignored${key === 'parent' ? ' (the parent is ctx.span)' : `; known: kind, attributes, startTime, root, links${suggestion(key)}`}`;
          break;
        }
      }
    const kind = o.kind;
    if (problem === undefined && kind !== undefined && !KIND_NAMES.has(kind))
      problem = `span kind ${typeof kind === 'string' ? `'${kind.slice(0, 64)}'` : typeof kind} is not one of internal, server, client, producer, consumer: the span is internal`;
  } catch {
    return; // options whose keys or kind cannot be read: the tracer copes with what it can read
  }
  if (problem === undefined) return;
  let seen = warnedOptions.get(ctx.tracer);
  if (!seen) {
    seen = new Set();
    warnedOptions.set(ctx.tracer, seen);
  }
  if (seen.has(problem) || seen.size >= 32) return;
  seen.add(problem);
  try {
    dropLogResult(ctx.logger.warn(`tracing: ${problem}`));
  } catch {
    // the span still starts
  }
}

function suggestion(key: string): string {
  const hint = suggestKey(key, ['kind', 'attributes', 'startTime', 'root', 'links']);
  return hint === undefined ? '' : `; did you mean \`${hint}\`?`;
}

/**
 * `inherited` overridden by `own`. A value of `own` that throws when read (a getter, a Proxy)
 * threw out of the spread into the caller's request: such properties are then carried over as
 * they are (descriptors, not values), for the tracer to drop with its warning; `own` alone when
 * even its keys cannot be listed.
 */
function merge(inherited: Attributes, own: Attributes): Attributes {
  try {
    return { ...inherited, ...own };
  } catch {
    try {
      return Object.defineProperties({ ...inherited }, Object.getOwnPropertyDescriptors(own));
    } catch {
      return own;
    }
  }
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  // Only objects and functions can be thenables: a primitive result skips the `then` lookup.
  const t = typeof v;
  return (
    ((t === 'object' && v !== null) || t === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

/**
 * Runs `fn` inside a new span: ends it when `fn` returns (or its promise settles), records a thrown
 * error or rejection on the span and rethrows it. Works for sync and async functions alike.
 */
export function withSpan<T, P extends AppParts = AppParts>(
  ctx: AppContext<P>,
  name: string,
  fn: (ctx: AppContext<P>, span: Span) => T,
  options?: Omit<SpanOptions, 'parent'>,
): T {
  assertContext(ctx, 'withSpan');
  // Checked before the span starts: a `fn` that is not a function (a method name misspelt from
  // JavaScript) threw a raw TypeError, "fn is not a function", and a span of that name was
  // exported with that error, as if the operation had run and failed.
  if (typeof fn !== 'function')
    throw new ConfigError('withSpan: the third argument (fn) is not a function', [
      { path: 'fn', expected: 'a function', received: typeName(fn), message: 'is not a function' },
    ]);
  const { ctx: child, span } = startSpan(ctx, name, options);
  let result: T;
  try {
    // The closure only for tracers that activate spans (active-context mode): a closure per span
    // otherwise showed up in the sampled withSpan path for no use.
    result = ctx.tracer.activate
      ? ctx.tracer.activate(span, () => fn(child, span), child.baggage)
      : fn(child, span);
  } catch (err) {
    span.recordError(err);
    span.end();
    throw err;
  }
  try {
    // `isPromiseLike` inside the try: a `then` getter that throws left the span open.
    if (isPromiseLike(result)) {
      // A native promise as it is; any other thenable is adopted by one first. Its `then` need
      // not return a promise (a hand-made one returns nothing): withSpan then resolved to
      // `undefined` and lost the value `await thenable` gives, and one that called both of its
      // callbacks ended the span twice. `then` is still called here, so a throw stays synchronous.
      const settled = result instanceof Promise ? result : adopt(result);
      return settled.then(
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
  } catch (err) {
    // A thenable whose `then` throws (a getter, a hand-made object): the span was left open.
    span.recordError(err);
    span.end();
    throw err;
  }
  span.end();
  return result;
}

/**
 * A native promise settled by `thenable` (called at once: a throw from its `then` propagates,
 * unless `then` had settled it first — `await` ignores such a throw, and withSpan threw it,
 * recording an error on a span whose thenable had resolved).
 */
function adopt<T>(thenable: PromiseLike<T>): Promise<T> {
  let settled = false;
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = (value) => {
      settled = true;
      res(value);
    };
    reject = (reason) => {
      settled = true;
      rej(reason);
    };
  });
  try {
    thenable.then(resolve, reject);
  } catch (err) {
    if (!settled) throw err;
  }
  return promise;
}

/**
 * Writes the trace context and baggage of `ctx` into `headers` (created if omitted) and returns it.
 * `headers` may be a plain object, a WHATWG `Headers` (fetch, undici) or a `Map`: those two are
 * written with `set` (they used to get properties `fetch` never sends). A header of a plain object
 * named as one written, in another case (`Traceparent`), is replaced.
 */
export function injectHeaders<C extends Record<string, string> | HeaderMap = Record<string, string>>(
  ctx: AppContext,
  headers?: C,
): C {
  assertContext(ctx, 'injectHeaders');
  const source = { span: ctx.span, baggage: ctx.baggage };
  if (headers === undefined) {
    const fresh: Record<string, string> = {};
    ctx.tracer.inject(fresh, source);
    return fresh as C;
  }
  if (isHeaderMap(headers)) injectInto(headers, (plain) => ctx.tracer.inject(plain, source));
  else {
    // Through a fresh object, so that a header of the caller's in another case (`Traceparent`)
    // is replaced: kept next to ours, fetch sent both joined (`<theirs>, <ours>`), a traceparent
    // every receiver drops — the next service started a new trace.
    const carrier = headers as Record<string, string>;
    const plain: Record<string, string> = {};
    ctx.tracer.inject(plain, source);
    // A caller's `tracestate` (forwarded from the incoming request) beside a new `traceparent`
    // without one belongs to another trace, or was dropped as invalid: it is removed (carrier.ts).
    if (staleTracestate(plain))
      for (const k in carrier) if (k.toLowerCase() === 'tracestate') delete carrier[k];
    for (const name in plain) {
      for (const k in carrier) if (k !== name && k.toLowerCase() === name) delete carrier[k];
      carrier[name] = plain[name]!;
    }
  }
  return headers;
}

/**
 * A context whose parent span and baggage come from incoming request headers: a plain object (as
 * node:http gives), a WHATWG `Headers` (a fetch `Request`'s) or a `Map` (they used to be read as
 * plain objects, and the incoming trace was lost).
 */
export function contextFromHeaders<P extends AppParts = AppParts>(
  ctx: AppContext<P>,
  headers: Readonly<HeaderCarrier> | HeaderMap,
): AppContext<P> {
  assertContext(ctx, 'contextFromHeaders');
  const { parent, baggage } = ctx.tracer.extract(
    isHeaderMap(headers) ? plainHeaders(headers) : lowercaseHeaders(headers),
  );
  return ctx.with({ span: parent, baggage });
}
