import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { tracerConformance } from '../conformance/tracer.js';

// The propagate-only tracers record nothing (no `read`) and start a trace context to pass on.
tracerConformance('propagate-only (hyperion/tracing)', ({ sampled }) => {
  const tracer = createPropagateOnlyTracer({ sampleRate: sampled ? 1 : 0 });
  return { tracer, propagatesBaggage: true, close: async () => tracer.close?.() };
});

tracerConformance("otel (exporter: 'none', propagate-only)", ({ sampled }) => {
  const tracer = createOtelTracer({ exporter: 'none', sampleRate: sampled ? 1 : 0 });
  return { tracer, propagatesBaggage: true, close: () => tracer.close() };
});
