/**
 * Propagate-only mode, the meaning of `exporter: 'none'`: nothing is recorded or exported, but
 * every span still gets its own identity, so the trace continues across this service. A span with
 * a valid parent keeps the parent's trace id, flags (sampled, and the Level 2 random flag) and
 * trace state under a new span id; a span without one starts a new trace whose sampled flag is
 * the configured `sampleRate`'s decision (so downstream services that follow their parent record
 * the traces this one would have). A request without a valid `traceparent` therefore still leaves
 * with one, and the next service joins the same trace instead of starting an unrelated one.
 */
import type { SpanContext } from '@opentelemetry/api';
import type { Span, SpanOptions } from '../../core/contracts.js';
import { createIdSource, ratioDecision } from '../propagate-only.js';
import type { AttributeFilter } from './attributes.js';
import { api } from './peers.js';
import { OtelSpanAdapter, toOtelSpan } from './span.js';

const { context: contextApi, isSpanContextValid, trace } = api;

/** Sampled flag plus the W3C Level 2 random flag: the bits a child passes on. */
const PROPAGATED_FLAGS = 0x03;

/**
 * `startSpan` for propagate-only mode. `activeContext`: a span without an explicit parent
 * continues the active OpenTelemetry span, as in recording mode.
 */
export function createPropagateOnly(options: {
  sampleRate: number;
  /** `false`: every span's sampled flag is the rate's own decision, not the parent's (env.ts). */
  parentBased?: boolean | undefined;
  activeContext: boolean;
  filter: AttributeFilter;
  random?: (() => number) | undefined;
  /** Told what a parent's `spanContext()` threw (the parent then counts as none). */
  brokenParent?: ((error: unknown) => void) | undefined;
}): (name: string, spanOptions?: SpanOptions) => Span {
  const ids = createIdSource();
  const random = options.random;
  const rate = options.sampleRate;
  const { filter, activeContext } = options;
  const parentBased = options.parentBased !== false;
  // A new trace is decided by its trace id, as the recording tracer's parent-based ratio sampler
  // decides a root (the SDK's TraceIdRatioBasedSampler): `exporter: 'none'` and a recording
  // service agree on every trace id. It was a `Math.random()` draw. A `random` given still decides.
  const decide = (traceId: string) =>
    random && parentBased
      ? rate >= 1 || (rate > 0 && random() < rate)
        ? 1
        : 0
      : ratioDecision(traceId, rate);
  return (_name, spanOptions) => {
    const parent = spanOptions?.parent;
    let psc: SpanContext | undefined;
    if (parent) psc = toOtelSpan(parent, options.brokenParent)?.spanContext();
    else if (activeContext && spanOptions?.root !== true) psc = trace.getSpanContext(contextApi.active());
    const traceId = psc && isSpanContextValid(psc) ? undefined : ids.traceId();
    const child =
      psc && traceId === undefined
        ? {
            traceId: psc.traceId,
            spanId: ids.spanId(),
            traceFlags: parentBased
              ? psc.traceFlags & PROPAGATED_FLAGS
              : (psc.traceFlags & PROPAGATED_FLAGS & ~1) | ratioDecision(psc.traceId, rate),
            traceState: psc.traceState,
          }
        : { traceId: traceId!, spanId: ids.spanId(), traceFlags: decide(traceId!) };
    // A non-recording OpenTelemetry span: every method but spanContext() does nothing.
    return new OtelSpanAdapter(trace.wrapSpanContext(child), filter);
  };
}
