/** Tracer-independent tracing helpers (they work with the no-op tracer as with the OpenTelemetry one). */
export {
  type HttpHandler,
  type TracedFetchOptions,
  type TraceHandlerOptions,
  tracedFetch,
  traceHandler,
} from './http.js';
export { createPropagateOnlyTracer, type PropagateOnlyOptions } from './propagate-only.js';
export {
  dbAttributes,
  httpKnownMethods,
  redactQuery,
  reloadSemconvOptIn,
  SENSITIVE_QUERY_PARAMS,
  type SemconvOptIn,
  semconvOptIn,
  withHttpDup,
} from './semconv.js';
