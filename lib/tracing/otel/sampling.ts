/**
 * The fast path for spans the sampler drops. The SDK spends most of an unsampled span on drawing
 * two random ids and sanitizing attributes nobody will see; when the provider's sampler decides
 * without looking at either (parent-based delegates that are `AlwaysOffSampler`), we make the
 * same decision up front and return an `UnsampledSpan` whose ids are drawn only if asked for.
 * Anything we cannot prove equivalent (ratio sampling of a new trace, custom samplers, tracing
 * suppressed, a tracer that is not the SDK's) goes through the SDK unchanged.
 */
import {
  type Tracer as ApiTracer,
  context as contextApi,
  createNoopMeter,
  isSpanContextValid,
  type SpanContext as OtelSpanContext,
  SamplingDecision,
  trace,
} from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import { AlwaysOffSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { Span } from '../../core/contracts.js';
import { type IdSource, OtelSpanAdapter, UnsampledSpan } from './span.js';

/** Which parent situations the sampler always drops, without consulting anything. */
interface DropPlan {
  root: boolean;
  remoteSampled: boolean;
  remoteNotSampled: boolean;
  localSampled: boolean;
  localNotSampled: boolean;
}

/** The SDK tracer's internals we read (present in sdk-trace-base 2.x; checked before use). */
interface SdkTracerShape {
  _sampler?: unknown;
  _idGenerator?: Partial<IdSource>;
  _tracerMetrics?: {
    startedSpans?: { add?: unknown };
    startSpan?: (parent: OtelSpanContext | undefined, decision: SamplingDecision) => unknown;
  };
}

/** Exact class, not a subclass: a subclass may decide differently. */
const isExactly = (v: unknown, cls: abstract new (...args: never[]) => unknown) =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === cls.prototype;

function planOf(sampler: unknown): DropPlan | undefined {
  if (isExactly(sampler, AlwaysOffSampler))
    return {
      root: true,
      remoteSampled: true,
      remoteNotSampled: true,
      localSampled: true,
      localNotSampled: true,
    };
  if (!isExactly(sampler, ParentBasedSampler)) return undefined;
  const s = sampler as unknown as Record<string, unknown>;
  const off = (k: string) => isExactly(s[k], AlwaysOffSampler);
  const plan: DropPlan = {
    root: off('_root'),
    remoteSampled: off('_remoteParentSampled'),
    remoteNotSampled: off('_remoteParentNotSampled'),
    localSampled: off('_localParentSampled'),
    localNotSampled: off('_localParentNotSampled'),
  };
  return Object.values(plan).some(Boolean) ? plan : undefined;
}

// What TracerMetrics keys the parent origin on (none / remote / local).
const LOCAL_PARENT = { traceId: '', spanId: '', traceFlags: 0, isRemote: false } as OtelSpanContext;

/** Shortcuts for dropped spans: each returns an `UnsampledSpan`, or `undefined` = ask the SDK. */
export interface DropPath {
  /** For spans without an explicit parent; absent when such spans can never be dropped up front. */
  root: (() => Span | undefined) | undefined;
  /** For spans with `parent`. */
  child: (parent: Span) => Span | undefined;
}

/**
 * The drop shortcuts for `otel`, or `undefined` when it is not an SDK tracer with a sampler we
 * understand (then every span goes through the SDK).
 */
export function createDropPath(otel: ApiTracer, activeContext: boolean): DropPath | undefined {
  const t = otel as unknown as SdkTracerShape;
  const plan = planOf(t._sampler);
  const gen = t._idGenerator;
  if (!plan || typeof gen?.generateTraceId !== 'function' || typeof gen.generateSpanId !== 'function')
    return undefined;
  const ids = gen as IdSource;
  // The SDK counts started spans (otel.sdk.span.started) when given a meter provider; do the same,
  // but skip the call when its counter is the no-op one (the default).
  const metrics = t._tracerMetrics;
  const noopCounter = createNoopMeter().createCounter('x').constructor;
  if (metrics && typeof metrics.startSpan !== 'function') return undefined;
  const count =
    metrics?.startSpan && metrics.startedSpans?.constructor !== noopCounter
      ? metrics.startSpan.bind(metrics)
      : undefined;

  const dropRoot = plan.root;
  const dropLocalNotSampled = plan.localNotSampled;
  const fromContext = (psc: OtelSpanContext | undefined): Span | undefined => {
    if (psc === undefined) return dropRoot ? drop(undefined) : undefined;
    const byParent = psc.isRemote
      ? psc.traceFlags & 1
        ? plan.remoteSampled
        : plan.remoteNotSampled
      : psc.traceFlags & 1
        ? plan.localSampled
        : plan.localNotSampled;
    // Validating ids costs two regex tests: only pay for them when the answer could be "drop".
    if (!byParent && !dropRoot) return undefined;
    const valid = isSpanContextValid(psc);
    if (valid ? !byParent : !dropRoot) return undefined;
    count?.(psc, SamplingDecision.NOT_RECORD);
    return new UnsampledSpan(ids, valid ? psc.traceId : undefined, valid ? psc.traceState : undefined);
  };
  const drop = (psc: undefined): Span => {
    count?.(psc, SamplingDecision.NOT_RECORD);
    return new UnsampledSpan(ids, undefined, undefined);
  };

  return {
    // Without active-context mode a root span's fate is known now: decide once, not per span.
    root: activeContext
      ? () => {
          // The parent is whatever OTel span is active; suppressed tracing is the SDK's to handle.
          const ctx = contextApi.active();
          return isTracingSuppressed(ctx) ? undefined : fromContext(trace.getSpanContext(ctx));
        }
      : dropRoot
        ? () => drop(undefined)
        : undefined,
    child: (parent) => {
      // The usual unsampled child: its parent was dropped here too (local, valid, not sampled).
      if (parent instanceof UnsampledSpan) {
        if (!dropLocalNotSampled) return undefined;
        count?.(LOCAL_PARENT, SamplingDecision.NOT_RECORD);
        return new UnsampledSpan(ids, parent.trace(), parent.state());
      }
      if (parent instanceof OtelSpanAdapter) return fromContext(parent.otel.spanContext());
      return undefined; // a foreign core span: the SDK path converts it
    },
  };
}
