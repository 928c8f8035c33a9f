import type { SpanKind } from '../../lib/core/contracts.js';
import type { FinishedSpan as ReadableSpan } from '../../lib/tracing/otel/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { type RecordedSpan, tracerConformance } from '../conformance/tracer.js';

const KINDS: SpanKind[] = ['internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'] as const;

/** An OpenTelemetry finished span in the suite's neutral shape. */
export function toRecorded(s: ReadableSpan): RecordedSpan {
  return {
    name: s.name,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId,
    kind: KINDS[s.kind] ?? 'internal',
    attributes: { ...s.attributes },
    events: s.events.map((e) => ({ name: e.name, attributes: { ...e.attributes } })),
    status: { code: STATUS[s.status.code] ?? 'unset', message: s.status.message },
    startTime: s.startTime[0] * 1000 + s.startTime[1] / 1e6,
  };
}

tracerConformance('otel (memory exporter)', ({ sampled }) => {
  const tracer = createOtelTracer({
    exporter: 'memory',
    serviceName: 'conformance',
    sampleRate: sampled ? 1 : 0,
  });
  return {
    tracer,
    read: () => tracer.finishedSpans().map(toRecorded),
    propagatesBaggage: true,
    close: () => tracer.close(),
  };
});

tracerConformance('otel (memory exporter, active context)', ({ sampled }) => {
  const tracer = createOtelTracer({
    exporter: 'memory',
    serviceName: 'conformance-active',
    sampleRate: sampled ? 1 : 0,
    activeContext: true,
  });
  return {
    tracer,
    read: () => tracer.finishedSpans().map(toRecorded),
    propagatesBaggage: true,
    close: () => tracer.close(),
  };
});

tracerConformance('otel (disabled)', () => {
  const tracer = createOtelTracer({ enabled: false });
  return { tracer, propagatesBaggage: true, close: () => tracer.close() };
});
