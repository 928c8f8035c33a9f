/**
 * The fast path for spans the sampler drops. The SDK spends most of an unsampled span on drawing
 * two random ids and sanitizing attributes nobody will see; when the provider's sampler decides
 * without looking at either (parent-based delegates that are `AlwaysOffSampler`), we make the
 * same decision up front and return an `UnsampledSpan` whose ids are drawn only if asked for.
 * Anything we cannot prove equivalent (ratio sampling of a new trace, custom samplers, tracing
 * suppressed, a tracer that is not the SDK's) goes through the SDK unchanged.
 */
import type { Tracer as ApiTracer, SpanContext as OtelSpanContext } from '@opentelemetry/api';
import type { Span } from '../../core/contracts.js';
import { api, core } from './peers.js';
import type { Sdk, SdkIdGenerator, SdkSampler } from './sdk.js';
import type { ParentBasedDelegates, SdkInternals } from './sdk-internals.js';
import { OtelSpanAdapter, UnsampledSpan } from './span.js';

const { context: contextApi, createNoopMeter, isSpanContextValid, SamplingDecision, trace } = api;
/** The enum's type (the value above comes from the loaded package). */
type SamplingDecision = import('@opentelemetry/api').SamplingDecision;
const { isTracingSuppressed } = core;

/** Which parent situations the sampler always drops, without consulting anything. */
interface DropPlan {
  root: boolean;
  remoteSampled: boolean;
  remoteNotSampled: boolean;
  localSampled: boolean;
  localNotSampled: boolean;
}

/** Exact class, not a subclass: a subclass may decide differently. */
const isExactly = (v: unknown, cls: abstract new (...args: never[]) => unknown) =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === cls.prototype;

/**
 * Parent-based sampling with `rate` for new traces. 0 and 1 use the constant samplers: same
 * decisions as the ratio sampler, without hashing every trace id. The delegates are returned too,
 * so the drop path of a provider we build needs no SDK internals. `parentBased: false` (the
 * `always_on`, `always_off` and `traceidratio` of `OTEL_TRACES_SAMPLER`) returns the plain
 * sampler, which decides every span by itself whatever its parent decided.
 */
export function samplerFor(
  sdk: Sdk,
  rate: number,
  parentBased = true,
): { sampler: SdkSampler; delegates: ParentBasedDelegates | undefined } {
  const root =
    rate >= 1
      ? new sdk.AlwaysOnSampler()
      : rate <= 0
        ? new sdk.AlwaysOffSampler()
        : new sdk.TraceIdRatioBasedSampler(rate);
  if (!parentBased) return { sampler: root, delegates: undefined };
  // The SDK's own defaults for the other four, made explicit.
  const delegates: ParentBasedDelegates = {
    root,
    remoteParentSampled: new sdk.AlwaysOnSampler(),
    remoteParentNotSampled: new sdk.AlwaysOffSampler(),
    localParentSampled: new sdk.AlwaysOnSampler(),
    localParentNotSampled: new sdk.AlwaysOffSampler(),
  };
  return { sampler: new sdk.ParentBasedSampler(delegates), delegates };
}

function planOf(
  sdk: Sdk,
  sampler: unknown,
  delegates: ParentBasedDelegates | undefined,
): DropPlan | undefined {
  if (isExactly(sampler, sdk.AlwaysOffSampler))
    return {
      root: true,
      remoteSampled: true,
      remoteNotSampled: true,
      localSampled: true,
      localNotSampled: true,
    };
  if (!delegates || !isExactly(sampler, sdk.ParentBasedSampler)) return undefined;
  const off = (x: unknown) => isExactly(x, sdk.AlwaysOffSampler);
  const plan: DropPlan = {
    root: off(delegates.root),
    remoteSampled: off(delegates.remoteParentSampled),
    remoteNotSampled: off(delegates.remoteParentNotSampled),
    localSampled: off(delegates.localParentSampled),
    localNotSampled: off(delegates.localParentNotSampled),
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
  /** `root` for a span asked to start a new trace (`SpanOptions.root`): the active span is not its parent. */
  newRoot: (() => Span | undefined) | undefined;
}

/**
 * The drop shortcuts of a provider the adapter built with `samplerFor` and `ids`: everything is
 * known from what we passed it (no SDK internals), and no meter provider was given (no counting).
 */
export function ownedDropPath(
  sdk: Sdk,
  built: { sampler: SdkSampler; delegates: ParentBasedDelegates | undefined },
  ids: SdkIdGenerator,
  activeContext: boolean,
): DropPath | undefined {
  const plan = planOf(sdk, built.sampler, built.delegates);
  return plan ? dropPath(plan, ids, undefined, activeContext) : undefined;
}

/**
 * The drop shortcuts for `otel`, a tracer of a provider the application passed in, or
 * `undefined` when it is not an SDK tracer with a sampler we understand or the SDK internals
 * cannot be read (then every span goes through the SDK).
 */
export function createDropPath(
  otel: ApiTracer,
  sdk: Sdk,
  internals: SdkInternals,
  activeContext: boolean,
): DropPath | undefined {
  const parts = internals.tracerParts(otel);
  if (!parts?.ids) return undefined;
  const plan = planOf(sdk, parts.sampler, internals.parentBasedDelegates(parts.sampler));
  if (!plan) return undefined;
  // The SDK counts started spans (otel.sdk.span.started) when given a meter provider; do the same,
  // but skip the call when its counter is the no-op one (the default).
  const metrics = parts.metrics;
  const noopCounter = createNoopMeter().createCounter('x').constructor;
  const count =
    metrics && (metrics.startedSpans as object | undefined)?.constructor !== noopCounter
      ? (metrics.startSpan.bind(metrics) as (
          psc: OtelSpanContext | undefined,
          d: SamplingDecision,
        ) => unknown)
      : undefined;
  return dropPath(plan, parts.ids, count, activeContext);
}

function dropPath(
  plan: DropPlan,
  ids: SdkIdGenerator,
  count: ((psc: OtelSpanContext | undefined, d: SamplingDecision) => unknown) | undefined,
  activeContext: boolean,
): DropPath {
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
    return valid
      ? new UnsampledSpan(ids, psc.traceId, psc.traceState, psc.traceFlags)
      : new UnsampledSpan(ids, undefined, undefined);
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
    newRoot: activeContext
      ? () => (isTracingSuppressed(contextApi.active()) ? undefined : fromContext(undefined))
      : dropRoot
        ? () => drop(undefined)
        : undefined,
    child: (parent) => {
      // The usual unsampled child: its parent was dropped here too (local, valid, not sampled).
      if (parent instanceof UnsampledSpan) {
        if (!dropLocalNotSampled) return undefined;
        count?.(LOCAL_PARENT, SamplingDecision.NOT_RECORD);
        return new UnsampledSpan(ids, parent.trace(), parent.state(), parent.flags);
      }
      if (parent instanceof OtelSpanAdapter) return fromContext(parent.otel.spanContext());
      return undefined; // a foreign core span: the SDK path converts it
    },
  };
}
