/** W3C trace-context parsing and formatting, used by the no-op tracer to pass context through. */
import type { SpanContext } from './contracts.js';
import { trimOws } from './tracestate.js';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE = '0'.repeat(32);
const INVALID_SPAN = '0'.repeat(16);

export const INVALID_SPAN_CONTEXT: SpanContext = Object.freeze({
  traceId: INVALID_TRACE,
  spanId: INVALID_SPAN,
  traceFlags: 0,
});

/**
 * `span.spanContext()`, or `undefined` when it throws or gives no object: a span object of the
 * user's own that fails this way counts as no span (it threw into the caller's request).
 */
export function readSpanContext(span: { spanContext(): SpanContext }): SpanContext | undefined {
  try {
    const sc = span.spanContext();
    return sc !== null && typeof sc === 'object' ? sc : undefined;
  } catch {
    return undefined;
  }
}

const TRACE_ID = /^[0-9a-f]{32}$/i;
const SPAN_ID = /^[0-9a-f]{16}$/i;

/**
 * True when `sc` has a hex trace id of 32 digits and span id of 16, neither all zeros (the W3C
 * rule; either case, as OpenTelemetry's `isSpanContextValid`: uppercase ids go out lowercased).
 * Ids that are not strings or not hex are invalid: a span object of the user's own whose
 * `spanContext()` gave `{}` made `startSpan`, `injectHeaders` and every `ctx.logger` call in its
 * context throw a `TypeError` (`undefined.length`), and 32 non-hex characters were taken as a
 * parent whose trace could never be sent on.
 */
export function isValidSpanContext(sc: SpanContext): boolean {
  // No object at all (`null`, `undefined`: what a span of the user's own may give) is invalid too;
  // it threw a TypeError ("Cannot destructure property 'traceId'").
  if (sc === null || typeof sc !== 'object') return false;
  const { traceId, spanId } = sc;
  return (
    typeof traceId === 'string' &&
    typeof spanId === 'string' &&
    TRACE_ID.test(traceId) &&
    SPAN_ID.test(spanId) &&
    traceId !== INVALID_TRACE &&
    spanId !== INVALID_SPAN
  );
}

/**
 * Parses a `traceparent` header; `undefined` when it is absent or malformed. Ids and flags are
 * lowercase hex only (W3C Trace Context §3.2.2: `HEXDIGLC`; a header with other characters MUST be
 * ignored): `00-4BF92F…-00F067…-01` is refused like any invalid header and a new trace starts, as
 * OpenTelemetry JS's `W3CTraceContextPropagator` does.
 */
export function parseTraceparent(header: string | undefined, tracestate?: string): SpanContext | undefined {
  if (typeof header !== 'string' || header === '') return undefined;
  // Only spaces and tabs around it (HTTP's OWS), as the OpenTelemetry tracer reads it:
  // `String.prototype.trim` also took a no-break space (a latin1 0xA0 byte in an HTTP header), a
  // BOM or a line break for whitespace, so the no-op and propagate-only tracers continued a trace
  // from a header that the OpenTelemetry tracer — and the specification — refuse.
  const m = TRACEPARENT.exec(trimOws(header));
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  // Version ff is forbidden; version 00 must not carry extra fields.
  if (version === 'ff' || (version === '00' && rest)) return undefined;
  const sc: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & 0xff, isRemote: true };
  if (!isValidSpanContext(sc)) return undefined;
  return tracestate ? { ...sc, traceState: tracestate } : sc;
}

/**
 * The trace flags a `traceparent` may carry: sampled (0x01) and Level 2's random (0x02). The
 * others are reserved: "Vendors MUST set those to zero" (W3C Trace Context, trace-flags).
 */
export const KNOWN_TRACE_FLAGS = 0x03;

/**
 * The `traceparent` for `sc`, ids in lowercase (the only form the specification allows): a span
 * context built elsewhere with uppercase hex ids still goes out as a valid header. Reserved flag
 * bits are not sent: the no-op tracer's pass-through sent an incoming `-ff` on as `-ff`.
 */
export function formatTraceparent(sc: SpanContext): string {
  const flags = (sc.traceFlags & KNOWN_TRACE_FLAGS).toString(16).padStart(2, '0');
  return `00-${lowerHex(sc.traceId)}-${lowerHex(sc.spanId)}-${flags}`;
}

const UPPER = /[A-F]/;

/** `id` with A-F lowercased (no new string in the usual, already lowercase case). */
export function lowerHex(id: string): string {
  return UPPER.test(id) ? id.toLowerCase() : id;
}

/**
 * The text of header `name`: a string, or repeated headers (an array of strings, as node:http
 * gives them) joined by `,`; `undefined` for anything else (a number, an object, an array holding
 * one), which is ignored rather than thrown on — the no-op tracer used to crash on those.
 */
export function headerValue(
  carrier: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  let v: unknown;
  try {
    v = carrier[name];
  } catch {
    // A header object of the user's own whose getter throws (a Proxy): no such header, as the
    // OpenTelemetry tracer takes it; the no-op and propagate-only tracers threw into the request.
    return undefined;
  }
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) return undefined;
  for (const x of v) if (typeof x !== 'string') return undefined;
  return v.join(',');
}

/**
 * Sets baggage entry `key` on `out` as an own, enumerable property, whatever the key: a plain
 * assignment of `__proto__` changes the object's prototype instead (the entry was lost, and a
 * value that named an object would have become its prototype).
 */
export function setBaggageEntry(out: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
