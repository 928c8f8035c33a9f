/**
 * The one place that reads private fields of OpenTelemetry packages. Each read is an optimisation
 * with a public fallback; the shape is checked once per process (on the first tracer) against a
 * probe built from the installed SDK, and when it differs every read here answers "unknown", the
 * adapter takes the public path, and each logger gets one warning. `spec/tracing/sdk-internals.test.ts`
 * fails when an installed SDK (either line) changes a field we read.
 *
 * What is read, and the public path without it:
 * - SDK tracer `_sampler`, `_idGenerator`, `_tracerMetrics`, and `ParentBasedSampler`'s `_root`,
 *   `_remoteParentSampled`, `_remoteParentNotSampled`, `_localParentSampled`, `_localParentNotSampled`:
 *   only for a provider the application passes in (`provider` option), to return spans its sampler
 *   certainly drops without the SDK (sampling.ts). Without them those spans go through the SDK.
 *   (A provider the adapter builds needs none of this: it knows the sampler and id generator it
 *   passed.)
 * - Jaeger exporter (2.x only) `_sender`: its keep-alive agent is closed after our own bounded
 *   flush. Without it the exporter's own `shutdown()` is called, which may keep the process alive
 *   for its flush timeout.
 */
import type { Logger } from '../../core/contracts.js';
import type { Sdk, SdkIdGenerator } from './sdk.js';

/** The SDK tracer's private fields we read. */
interface TracerFields {
  _sampler?: unknown;
  _idGenerator?: unknown;
  _tracerMetrics?: unknown;
}

/** `ParentBasedSampler`'s delegates, by parent situation. */
export interface ParentBasedDelegates {
  readonly root: unknown;
  readonly remoteParentSampled: unknown;
  readonly remoteParentNotSampled: unknown;
  readonly localParentSampled: unknown;
  readonly localParentNotSampled: unknown;
}

/** The SDK's span counter (`otel.sdk.span.started`): `startSpan(parentContext, decision)`. */
export interface TracerMetricsFields {
  readonly startedSpans?: unknown;
  startSpan(parent: unknown, decision: number): unknown;
}

const DELEGATE_FIELDS = {
  root: '_root',
  remoteParentSampled: '_remoteParentSampled',
  remoteParentNotSampled: '_remoteParentNotSampled',
  localParentSampled: '_localParentSampled',
  localParentNotSampled: '_localParentNotSampled',
} as const satisfies Record<keyof ParentBasedDelegates, string>;

/** What the check found: `problems` empty = the private reads are safe on this SDK. */
export interface InternalsCheck {
  readonly sdk: string;
  readonly problems: readonly string[];
}

/**
 * Builds a probe provider with known parts and checks that each private field we read holds
 * exactly what was passed in. Pure: no globals touched, nothing logged.
 */
export function checkSdkInternals(sdk: Sdk): InternalsCheck {
  const problems: string[] = [];
  const delegates: Record<keyof ParentBasedDelegates, object> = {
    root: new sdk.AlwaysOffSampler(),
    remoteParentSampled: new sdk.AlwaysOnSampler(),
    remoteParentNotSampled: new sdk.AlwaysOffSampler(),
    localParentSampled: new sdk.AlwaysOnSampler(),
    localParentNotSampled: new sdk.AlwaysOffSampler(),
  };
  const sampler = new sdk.ParentBasedSampler(delegates);
  const idGenerator = new sdk.RandomIdGenerator();
  try {
    const provider = sdk.provider({ sampler, idGenerator, spanProcessors: [] });
    const tracer = provider.getTracer('hyperion-internals-probe') as TracerFields;
    if (tracer._sampler !== sampler) problems.push('tracer._sampler is not the configured sampler');
    if (tracer._idGenerator !== idGenerator) problems.push('tracer._idGenerator is not the configured one');
    const metrics = tracer._tracerMetrics as Partial<TracerMetricsFields> | undefined;
    if (typeof metrics?.startSpan !== 'function') problems.push('tracer._tracerMetrics.startSpan is missing');
    else if (typeof (metrics.startedSpans as { add?: unknown } | undefined)?.add !== 'function')
      problems.push('tracer._tracerMetrics.startedSpans is not a counter');
    const s = sampler as Record<string, unknown>;
    for (const [key, field] of Object.entries(DELEGATE_FIELDS)) {
      if (s[field] !== delegates[key as keyof ParentBasedDelegates])
        problems.push(`ParentBasedSampler.${field} is not the configured ${key} sampler`);
    }
  } catch (error) {
    problems.push(`probe failed: ${(error as Error)?.message ?? String(error)}`);
  }
  return { sdk: `${sdk.packageName} ${sdk.version}`, problems };
}

let checked: InternalsCheck | undefined;
let forced: 'fallback' | undefined;
const warned = new WeakSet<Logger>();

/** The reads, valid for the SDK they were checked against. */
export interface SdkInternals {
  /** False when the shape differs (or the fallback is forced): every read answers `undefined`. */
  readonly ok: boolean;
  readonly check: InternalsCheck;
  /** A tracer's sampler, id generator and span counter (`undefined` when unknown). */
  tracerParts(
    tracer: unknown,
  ):
    | { sampler: unknown; ids: SdkIdGenerator | undefined; metrics: TracerMetricsFields | undefined }
    | undefined;
  /** A `ParentBasedSampler`'s delegates (`undefined` when unknown). */
  parentBasedDelegates(sampler: unknown): ParentBasedDelegates | undefined;
}

const UNKNOWN = () => undefined;

/**
 * The checked internals of `sdk`, checking on the first call. When they cannot be used, `logger`
 * gets one warning (once per logger) saying what differs and what is given up.
 */
export function sdkInternals(sdk: Sdk, logger: Logger): SdkInternals {
  checked ??= checkSdkInternals(sdk);
  const check: InternalsCheck = forced
    ? { sdk: checked.sdk, problems: ['fallback forced', ...checked.problems] }
    : checked;
  const ok = check.problems.length === 0;
  if (!ok && !warned.has(logger)) {
    warned.add(logger);
    logger.warn(
      'tracing: the installed OpenTelemetry SDK differs from the internals hyperion was tested with; ' +
        'using its public API only (spans are unchanged, unsampled spans of a provider you pass in cost more)',
      { sdk: check.sdk, problems: check.problems.join('; ') },
    );
  }
  if (!ok) return { ok, check, tracerParts: UNKNOWN, parentBasedDelegates: UNKNOWN };
  return {
    ok,
    check,
    tracerParts(tracer) {
      const t = tracer as TracerFields | undefined;
      if (!t || typeof t !== 'object' || !('_sampler' in t)) return undefined;
      const gen = t._idGenerator as Partial<SdkIdGenerator> | undefined;
      const metrics = t._tracerMetrics as Partial<TracerMetricsFields> | undefined;
      return {
        sampler: t._sampler,
        ids:
          typeof gen?.generateTraceId === 'function' && typeof gen.generateSpanId === 'function'
            ? (gen as SdkIdGenerator)
            : undefined,
        metrics: typeof metrics?.startSpan === 'function' ? (metrics as TracerMetricsFields) : undefined,
      };
    },
    parentBasedDelegates(sampler) {
      if (!(sampler instanceof sdk.ParentBasedSampler)) return undefined;
      const s = sampler as unknown as Record<string, unknown>;
      return {
        root: s[DELEGATE_FIELDS.root],
        remoteParentSampled: s[DELEGATE_FIELDS.remoteParentSampled],
        remoteParentNotSampled: s[DELEGATE_FIELDS.remoteParentNotSampled],
        localParentSampled: s[DELEGATE_FIELDS.localParentSampled],
        localParentNotSampled: s[DELEGATE_FIELDS.localParentNotSampled],
      };
    },
  };
}

/**
 * Whether a Jaeger (thrift, 2.x only) exporter has the `_sender` field `closeJaegerSender` uses: a
 * class field, present (undefined) from construction, set on the first export. Checked when the
 * exporter is created.
 */
export function hasJaegerSender(exporter: object): boolean {
  return '_sender' in exporter;
}

/**
 * Closes the Jaeger exporter's HTTP sender, whose keep-alive agent would otherwise hold sockets
 * open (nothing to close before the first export). Only call it when `hasJaegerSender` said yes.
 */
export function closeJaegerSender(exporter: object): void {
  const sender = (exporter as { _sender?: { close?: () => void } })._sender;
  if (typeof sender?.close === 'function') sender.close();
}

/** Tests only: force the public-only path (`'fallback'`) or go back to the check's answer. */
export function forceSdkInternals(mode: 'fallback' | undefined): void {
  forced = mode;
}
