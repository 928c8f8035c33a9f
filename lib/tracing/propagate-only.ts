/**
 * A propagate-only `Tracer` that needs no package at all (`hyperion/tracing`): what
 * `exporter: 'none'` means, for applications that load no OpenTelemetry (`createAppFromConfig`
 * uses it for `tracing.exporter: none`). Nothing is recorded; every span gets a new span id under
 * its parent's trace (flags and validated `tracestate` kept), a span without a valid parent starts
 * a new trace whose sampled flag follows `sampleRate`, and W3C `traceparent` / `tracestate` /
 * `baggage` are read and written. Same behaviour as `createOtelTracer({ exporter: 'none' })` with
 * the default propagators.
 */
import { randomFillSync } from 'node:crypto';
import type {
  Baggage,
  ExtractedContext,
  HeaderCarrier,
  Span,
  SpanContext,
  Tracer,
} from '../core/contracts.js';
import { normalizeTracestate } from '../core/tracestate.js';
import { formatTraceparent, headerValue, isValidSpanContext, parseTraceparent } from '../core/w3c.js';

/** Random lowercase hex ids, never all zeros (the W3C invalid value), from a pooled buffer. */
export function createIdSource(): { traceId(): string; spanId(): string } {
  const pool = Buffer.allocUnsafe(4096);
  let offset = pool.length;
  const hex = (bytes: number): string => {
    for (;;) {
      if (offset + bytes > pool.length) {
        randomFillSync(pool);
        offset = 0;
      }
      const id = pool.toString('hex', offset, offset + bytes);
      offset += bytes;
      if (/[^0]/.test(id)) return id;
    }
  };
  return { traceId: () => hex(16), spanId: () => hex(8) };
}

class PropagatingSpan implements Span {
  constructor(private readonly sc: SpanContext) {}
  setAttributes() {
    return this;
  }
  addEvent() {
    return this;
  }
  recordError() {
    return this;
  }
  setStatus() {
    return this;
  }
  updateName() {
    return this;
  }
  end() {}
  spanContext() {
    return this.sc;
  }
  isRecording() {
    return false;
  }
}

const EMPTY_BAGGAGE: Baggage = Object.freeze({});

/** W3C `baggage`: `key=value` list members, percent-encoded, properties after `;` ignored. */
function parseBaggage(header: string | undefined): Baggage {
  if (!header) return EMPTY_BAGGAGE;
  const out: Record<string, string> = {};
  for (const member of header.split(',')) {
    const pair = member.split(';')[0]!;
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      const key = decodeURIComponent(pair.slice(0, eq).trim());
      if (key) out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // a malformed member is skipped, never thrown
    }
  }
  return Object.keys(out).length > 0 ? out : EMPTY_BAGGAGE;
}

function formatBaggage(baggage: Baggage): string {
  const parts: string[] = [];
  for (const k in baggage) {
    const v = baggage[k];
    if (typeof v === 'string') parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.join(',');
}

export interface PropagateOnlyOptions {
  /** Sampled flag of new traces: the fraction sampled, 0..1. Default 1. */
  sampleRate?: number;
  /** Random source for that decision. Default `Math.random`. */
  random?: () => number;
}

/** The propagate-only tracer (see the module comment). */
export function createPropagateOnlyTracer(options: PropagateOnlyOptions = {}): Tracer {
  const ids = createIdSource();
  const rate = options.sampleRate ?? 1;
  const random = options.random ?? Math.random;
  return {
    startSpan(_name, spanOptions) {
      const psc = spanOptions?.parent?.spanContext();
      if (psc && isValidSpanContext(psc)) {
        const sc: SpanContext = {
          traceId: psc.traceId,
          spanId: ids.spanId(),
          traceFlags: psc.traceFlags & 0x03,
        };
        return new PropagatingSpan(psc.traceState ? { ...sc, traceState: psc.traceState } : sc);
      }
      const sampled = rate >= 1 || (rate > 0 && random() < rate);
      return new PropagatingSpan({
        traceId: ids.traceId(),
        spanId: ids.spanId(),
        traceFlags: sampled ? 1 : 0,
      });
    },
    inject(carrier, { span, baggage }) {
      const sc = span?.spanContext();
      if (sc && isValidSpanContext(sc)) {
        carrier.traceparent = formatTraceparent(sc);
        if (sc.traceState) carrier.tracestate = sc.traceState;
      }
      if (baggage) {
        const b = formatBaggage(baggage);
        if (b) carrier.baggage = b;
      }
    },
    extract(carrier: Readonly<HeaderCarrier>): ExtractedContext {
      if (!carrier || typeof carrier !== 'object') return { baggage: EMPTY_BAGGAGE };
      const baggage = parseBaggage(headerValue(carrier, 'baggage'));
      const sc = parseTraceparent(
        headerValue(carrier, 'traceparent'),
        normalizeTracestate(headerValue(carrier, 'tracestate')),
      );
      return sc ? { parent: new PropagatingSpan(sc), baggage } : { baggage };
    },
  };
}
