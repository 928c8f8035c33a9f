/**
 * OpenTelemetry tracing for Hyperion: `createOtelTracer(options)` returns a core `Tracer` that
 * exports through OTLP, Zipkin, Jaeger (thrift), the console or memory. The HTTP propagation
 * helpers work with any tracer and are re-exported here for convenience.
 */
export {
  type HttpHandler,
  type TracedFetchOptions,
  type TraceHandlerOptions,
  tracedFetch,
  traceHandler,
} from '../http.js';
export type { ExportStats } from './exporters.js';
export {
  type BatchOptions,
  DEFAULT_ENDPOINTS,
  EXPORTERS,
  type ExporterName,
  type OtelTracerOptions,
  PROPAGATORS,
  type PropagatorName,
} from './options.js';
export type { FinishedSpan, FinishedSpanEvent } from './sdk.js';
export { createOtelTracer, type OtelTracer } from './tracer.js';
