/** The core `Span` on top of an OpenTelemetry span (attribute filtering: attributes.ts). */
import type {
  Context,
  Exception,
  Link,
  Span as OtelSpan,
  SpanContext as OtelSpanContext,
  TraceState,
} from '@opentelemetry/api';
import type { Attributes, Span, SpanContext, SpanLink, SpanStatus, SpanTime } from '../../core/contracts.js';
import { isValidSpanContext } from '../../core/w3c.js';
import type { AttributeFilter } from './attributes.js';
import { otelLinks } from './links.js';
import { api } from './peers.js';
import { checkedTime, epochMs, isDate } from './times.js';
import { traceStateFrom } from './tracecontext.js';

const { SpanKind: OtelSpanKind, ROOT_CONTEXT, SpanStatusCode, TraceFlags, trace, createContextKey } = api;

/**
 * The context key under which OpenTelemetry's B3 propagators keep an incoming debug flag (`b3: …-d`,
 * `X-B3-Flags: 1`) and read it back when injecting. The package does not export it; it is made with
 * `createContextKey`, i.e. `Symbol.for` of this description, so this is the same key.
 */
export const B3_DEBUG_FLAG = createContextKey('OpenTelemetry Context Key B3 Debug Flag');
/** The enum's type (the value above comes from the loaded package). */
type SpanStatusCode = import('@opentelemetry/api').SpanStatusCode;
/** The enum's type (the value above comes from the loaded package). */
type OtelSpanKind = import('@opentelemetry/api').SpanKind;

/**
 * Core span kinds → OpenTelemetry's enum; unknown strings fall back to internal. Without a
 * prototype: `kind: 'constructor'` (or `'toString'`) found `Object.prototype`'s function, which
 * became the span's kind.
 */
export const KINDS: Readonly<Record<string, OtelSpanKind>> = Object.assign(Object.create(null), {
  internal: OtelSpanKind.INTERNAL,
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
});

/** Without a prototype, as `KINDS`: `code: 'constructor'` set a function as the status code. */
const STATUS: Readonly<Record<SpanStatus['code'], SpanStatusCode>> = Object.assign(Object.create(null), {
  unset: SpanStatusCode.UNSET,
  ok: SpanStatusCode.OK,
  error: SpanStatusCode.ERROR,
});

/**
 * The W3C Trace Context Level 2 random flag (`traceparent` flags `02`): "at least the right-most 7
 * bytes of the trace-id are random". It belongs to the trace id, so a span that continues its
 * parent's trace id carries it on. The SDK (2.x and 3.x) sets a new span's flags from its sampling
 * decision alone, which dropped it: `-02` in, `-00` out (the W3C suite's TraceContext2Test).
 */
export const RANDOM_TRACE_FLAG = 0x02;

/**
 * Gives `span` (just started under `parentCtx`) its parent's random flag when it continues the
 * parent's trace. The SDK's `spanContext()` is the span's own object (also what is exported: OTLP
 * carries the flags), created for this span alone; were it a copy, nothing changes.
 */
export function keepRandomFlag(span: OtelSpan, parentCtx: Context): void {
  const psc = trace.getSpanContext(parentCtx);
  if (psc === undefined || (psc.traceFlags & RANDOM_TRACE_FLAG) === 0) return;
  const sc = span.spanContext();
  if ((sc.traceFlags & RANDOM_TRACE_FLAG) === 0 && sc.traceId === psc.traceId)
    sc.traceFlags |= RANDOM_TRACE_FLAG;
}

/** Converts an OpenTelemetry span context to the core shape (trace state as its header string). */
export function toCoreSpanContext(sc: OtelSpanContext): SpanContext {
  const out: { -readonly [K in keyof SpanContext]: SpanContext[K] } = {
    traceId: sc.traceId,
    spanId: sc.spanId,
    traceFlags: sc.traceFlags,
  };
  if (sc.isRemote) out.isRemote = true;
  const ts = sc.traceState?.serialize();
  if (ts) out.traceState = ts;
  return out;
}

/**
 * The OpenTelemetry span behind any core span: ours directly, a foreign one through its context.
 * A foreign span whose `spanContext()` throws (or gives no object) has none: `undefined`, and
 * `broken` hears what it threw. It used to throw into the caller of `startSpan` / `inject`.
 */
export function toOtelSpan(span: Span, broken?: (error: unknown) => void): OtelSpan | undefined {
  if (span instanceof OtelSpanAdapter) return span.otel;
  if (span instanceof UnsampledSpan) return span.otelSpan();
  let sc: SpanContext;
  try {
    sc = span.spanContext();
  } catch (err) {
    broken?.(err);
    return undefined;
  }
  if (sc === null || typeof sc !== 'object' || !isValidSpanContext(sc)) return undefined;
  // Ids in lowercase, the only form W3C and B3 allow: a span of the user's own may report them in
  // uppercase (valid for `isValidSpanContext`), and its children then carried the uppercase trace
  // id in their own context and in the export, and the `b3` header went out in uppercase.
  return trace.wrapSpanContext({
    traceId: sc.traceId.toLowerCase(),
    spanId: sc.spanId.toLowerCase(),
    traceFlags: sc.traceFlags,
    isRemote: sc.isRemote ?? true,
    traceState: sc.traceState ? traceStateFrom(sc.traceState) : undefined,
  });
}

/** An OpenTelemetry context whose active span is `span` (cached on our spans: children reuse it). */
export function contextOf(span: Span, broken?: (error: unknown) => void): Context {
  if (span instanceof OtelSpanAdapter || span instanceof UnsampledSpan) return span.context();
  const otel = toOtelSpan(span, broken);
  return otel ? trace.setSpan(ROOT_CONTEXT, otel) : ROOT_CONTEXT;
}

/**
 * The message of `error` as a string, whatever it is: a getter that throws, a Symbol or an object
 * as `message`, a value `String()` refuses — never an exception of its own.
 */
function errorMessage(error: unknown): string {
  try {
    if (error instanceof Error) {
      const m: unknown = error.message;
      return typeof m === 'string' ? m : String(m);
    }
    // A thrown object of the Error shape that is not an Error (`{ message, name }`): its message,
    // not "[object Object]".
    const m = errorLike(error)?.message;
    return m ?? String(error);
  } catch {
    return 'unknown error';
  }
}

/**
 * A thrown value that is not an `Error` but has a string `message` or `name`: its fields (else
 * undefined). With a name alone (`{ name: 'NotFound' }`) the name is the message too: it was
 * recorded as `"[object Object]"` with no `exception.type`.
 */
function errorLike(
  error: unknown,
): { message: string; name?: string | undefined; stack?: string | undefined } | undefined {
  if (error === null || typeof error !== 'object' || error instanceof Error) return undefined;
  const { message, name, stack } = error as { message?: unknown; name?: unknown; stack?: unknown };
  if (typeof message !== 'string' && typeof name !== 'string') return undefined;
  return {
    message: typeof message === 'string' ? message : (name as string),
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof stack === 'string' ? { stack } : {}),
  };
}

/**
 * What the SDK's `recordException` is given for `error`. The SDK takes `exception.type` from the
 * error's `code` when it has one, else from its `name`: a `DOMException` carries a numeric legacy
 * code, so an `AbortError` was recorded as type `"20"` and a `TimeoutError` (`AbortSignal.timeout`)
 * as `"23"`. A string code (Node's `ECONNREFUSED`) is still the type, as OpenTelemetry JS makes it;
 * any other code gives way to the name (the class name, as the semantic conventions define the
 * type). A thrown object of the Error shape (`{ message, name }`) is recorded by its fields
 * (it was `"[object Object]"`), any other value by its string form.
 */
function exceptionOf(error: unknown, message: string): Exception {
  if (error instanceof Error) {
    const code: unknown = (error as { code?: unknown }).code;
    if (code === undefined || code === null || typeof code === 'string') return error;
    const name = errorName(error);
    const stack: unknown = error.stack;
    return {
      message,
      ...(name === undefined ? {} : { name }),
      ...(typeof stack === 'string' ? { stack } : {}),
    };
  }
  return errorLike(error) ?? message;
}

/**
 * A span or event name as a string: `name` itself when it is one (the usual case), else its string
 * form (`42` → `'42'`, `undefined` → `'undefined'`), `'unknown'` when even that throws. A name
 * that is not a string reached the exporters as it was: an `undefined` one failed the whole OTLP
 * or Jaeger export request, an object one was refused by Zipkin (400), losing every other span of
 * that batch.
 */
export function spanName(name: unknown): string {
  if (typeof name === 'string') return name;
  try {
    return String(name);
  } catch {
    return 'unknown';
  }
}

/** `error.name` when it is a string and reading it does not throw. */
function errorName(error: unknown): string | undefined {
  try {
    const name: unknown = (error as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A core span over an OpenTelemetry span. One small class (not a closure per span) because spans
 * are the hot path. Calls after `end()` do nothing, and nothing is converted for unsampled spans.
 */
export class OtelSpanAdapter implements Span {
  readonly otel: OtelSpan;
  private readonly filter: AttributeFilter;
  private ended: boolean;
  private ctx: Context | undefined;
  private sc: SpanContext | undefined;
  /**
   * The B3 debug flag of the trace (`B3_DEBUG_FLAG`'s value), set on a remote parent extracted
   * with one and handed on to its descendants (before their `context()` is first built), so the
   * flag goes on downstream, as the OpenTelemetry B3 specification requires ("MUST preserve a debug
   * trace flag, if received, and propagate it with subsequent requests"). It was dropped: the
   * next service got `-1`.
   */
  b3Debug: unknown;
  /**
   * The span was started with a `startTime`: the SDK then takes the end of `end()` without a time
   * from the wall clock (`Date.now()`), not from its start plus the monotonic time since.
   */
  private readonly givenStart: boolean;

  constructor(otel: OtelSpan, filter: AttributeFilter, b3Debug?: unknown, givenStart = false) {
    // Plain assignments in one place: one hidden class, the cheapest construction V8 offers.
    this.otel = otel;
    this.filter = filter;
    this.ended = false;
    this.ctx = undefined;
    this.sc = undefined;
    this.b3Debug = b3Debug;
    this.givenStart = givenStart;
  }

  /** The OpenTelemetry context with this span active (and the B3 debug flag, if any), built once. */
  context(): Context {
    if (this.ctx === undefined) {
      const ctx = trace.setSpan(ROOT_CONTEXT, this.otel);
      this.ctx = this.b3Debug === undefined ? ctx : ctx.setValue(B3_DEBUG_FLAG, this.b3Debug);
    }
    return this.ctx;
  }

  setAttributes(attributes: Attributes): this {
    if (!this.ended && this.otel.isRecording() && this.filter.usable(attributes)) {
      try {
        this.otel.setAttributes(this.filter.filter(attributes));
      } catch {
        // Values that throw when the SDK reads them (a getter, a Proxy): what can be read is set.
        this.otel.setAttributes(this.filter.copy(attributes));
      }
    }
    return this;
  }

  addEvent(name: string, attributes?: Attributes, time?: SpanTime): this {
    if (!this.ended && this.otel.isRecording()) {
      const eventName = spanName(name);
      // The SDK's `addEvent(name, time)` form (JavaScript callers coming from it): a number or a
      // Date where the attributes go is the time, as the SDK takes it — not attributes to drop.
      if (
        time === undefined &&
        attributes !== undefined &&
        (typeof attributes === 'number' || isDate(attributes))
      ) {
        time = attributes as SpanTime;
        attributes = undefined;
      }
      if (attributes !== undefined && !this.filter.usable(attributes)) attributes = undefined;
      const at = time === undefined ? undefined : checkedTime(time, 'event time', this.filter);
      try {
        this.otel.addEvent(eventName, attributes ? this.filter.filter(attributes) : undefined, at);
      } catch {
        // As in setAttributes (the SDK reads them before it adds the event).
        if (attributes) this.otel.addEvent(eventName, this.filter.copy(attributes), at);
      }
    }
    return this;
  }

  /** A link after start, checked as `SpanOptions.links` are (links.ts). */
  addLink(link: SpanLink): this {
    if (!this.ended && this.otel.isRecording()) this.link(otelLinks([link], this.filter));
    return this;
  }

  addLinks(links: readonly SpanLink[]): this {
    if (!this.ended && this.otel.isRecording()) this.link(otelLinks(links, this.filter));
    return this;
  }

  private link(links: Link[] | undefined): void {
    if (links === undefined) return;
    // A span of a provider given in `provider` written against an API before 1.8 has no addLink.
    const otel = this.otel as Partial<Pick<OtelSpan, 'addLink'>>;
    if (typeof otel.addLink === 'function') for (const l of links) otel.addLink(l);
  }

  recordError(error: unknown): this {
    if (this.ended || !this.otel.isRecording()) return this;
    const message = errorMessage(error);
    try {
      this.otel.recordException(exceptionOf(error, message));
    } catch {
      // The SDK reads message, code, name and stack, which a hostile error can make throw: the
      // event is then built from what could be read, and the error status is set regardless.
      const name = errorName(error);
      this.otel.addEvent('exception', {
        'exception.message': message,
        ...(name === undefined ? {} : { 'exception.type': name }),
      });
    }
    this.otel.setStatus({ code: SpanStatusCode.ERROR, message });
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended) return this;
    let code: SpanStatusCode | undefined;
    let message: string | undefined;
    try {
      const given = status?.code;
      code = STATUS[given];
      if (code === undefined) {
        this.filter.unknownStatus(status, given);
        return this;
      }
      const m: unknown = status.message;
      message = m === undefined ? undefined : String(m);
    } catch {
      // A status (or message) that throws when read or stringified: the code alone, or nothing.
      message = undefined;
      if (code === undefined) return this;
    }
    this.otel.setStatus(message === undefined ? { code } : { code, message });
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.otel.updateName(spanName(name));
    return this;
  }

  end(endTime?: SpanTime): void {
    if (this.ended) return;
    this.ended = true;
    // Without a time (the usual call) nothing is read or allocated; a non-recording span checks nothing.
    if (endTime === undefined) {
      if (this.givenStart && this.otel.isRecording()) this.endNowAfterGivenStart();
      else this.otel.end();
      return;
    }
    if (!this.otel.isRecording()) {
      this.otel.end();
      return;
    }
    const at = checkedTime(endTime, 'end time', this.filter);
    // The SDK ends a span whose end is before its start at its start (duration 0), as here, but
    // says so only on its `diag` logger (off by default): the warning goes to the tracer's logger.
    // A `performance.now()` reading is left to the SDK's check alone (times.ts `epochMs`).
    const when = at === undefined ? undefined : epochMs(at);
    const start = when === undefined ? undefined : (this.otel as { startTime?: unknown }).startTime;
    if (when !== undefined && Array.isArray(start) && when < start[0] * 1e3 + start[1] / 1e6 - 0.001) {
      this.filter.endBeforeStart();
      this.otel.end(start.slice() as [number, number]);
      return;
    }
    this.otel.end(at);
  }

  /**
   * `end()` of a span started with a `startTime`: the SDK ends it at `Date.now()`, so a start given
   * from a clock ahead of this host's (a job's `enqueuedAt` stamped on another host) lies after
   * that end, and the SDK cut the span to duration 0 saying so only on its `diag` logger; an
   * explicit `end(Date.now())` got the tracer's warning. Both are warned the same way now.
   */
  private endNowAfterGivenStart(): void {
    const start = (this.otel as { startTime?: unknown }).startTime;
    if (Array.isArray(start) && Date.now() < start[0] * 1e3 + start[1] / 1e6 - 0.001) {
      this.filter.endBeforeStart();
      this.otel.end(start.slice() as [number, number]);
      return;
    }
    this.otel.end();
  }

  spanContext(): SpanContext {
    this.sc ??= toCoreSpanContext(this.otel.spanContext());
    return this.sc;
  }

  isRecording(): boolean {
    return !this.ended && this.otel.isRecording();
  }
}

/** Draws trace and span ids: the provider's own generator, so ids look exactly like the SDK's. */
export interface IdSource {
  generateTraceId(): string;
  generateSpanId(): string;
}

/**
 * A span the sampler dropped, made without the SDK (see sampling.ts): what the SDK would return —
 * a non-recording span with the parent's trace id and state, a new span id and the sampled flag
 * off — but its ids are drawn on first use, since most unsampled spans are never asked for them.
 * Every method besides `spanContext()` does nothing, as on the SDK's non-recording span.
 */
export class UnsampledSpan implements Span {
  private readonly ids: IdSource;
  private traceId: string | undefined;
  private readonly traceState: TraceState | undefined;
  /** `RANDOM_TRACE_FLAG` when the parent had it (the sampled flag is always off), else 0. */
  readonly flags: number;
  private otel: OtelSpan | undefined;
  private ctx: Context | undefined;
  private sc: SpanContext | undefined;

  /** `traceId` undefined = a new trace (root span); `flags`: the parent's (only its random flag is kept). */
  constructor(ids: IdSource, traceId: string | undefined, traceState: TraceState | undefined, flags = 0) {
    this.ids = ids;
    this.traceId = traceId;
    this.traceState = traceState;
    this.flags = traceId === undefined ? 0 : flags & RANDOM_TRACE_FLAG;
    this.otel = undefined;
    this.ctx = undefined;
    this.sc = undefined;
  }

  /** The trace id (drawn now for a root span): what a child inherits. */
  trace(): string {
    this.traceId ??= this.ids.generateTraceId();
    return this.traceId;
  }

  /** Trace state inherited from the parent, passed on to children. */
  state(): TraceState | undefined {
    return this.traceState;
  }

  /** The OpenTelemetry (non-recording) span with this identity, built once. */
  otelSpan(): OtelSpan {
    this.otel ??= trace.wrapSpanContext({
      traceId: this.trace(),
      spanId: this.ids.generateSpanId(),
      traceFlags: TraceFlags.NONE | this.flags,
      traceState: this.traceState,
    });
    return this.otel;
  }

  /** The OpenTelemetry context with this span active, built once. */
  context(): Context {
    this.ctx ??= trace.setSpan(ROOT_CONTEXT, this.otelSpan());
    return this.ctx;
  }

  setAttributes(): this {
    return this;
  }

  addEvent(): this {
    return this;
  }

  recordError(): this {
    return this;
  }

  setStatus(): this {
    return this;
  }

  updateName(): this {
    return this;
  }

  addLink(): this {
    return this;
  }

  addLinks(): this {
    return this;
  }

  end(): void {}

  spanContext(): SpanContext {
    this.sc ??= toCoreSpanContext(this.otelSpan().spanContext());
    return this.sc;
  }

  isRecording(): boolean {
    return false;
  }
}
