/** Tracer-independent tracing helpers (they work with the no-op tracer as with the OpenTelemetry one). */

// The core contracts this subpath's results are typed with, re-exported so that a TypeScript
// module importing only this subpath can emit declarations for them (with `declaration: true` an
// exported result typed by a core contract failed with TS2742, naming …/dist/core/contracts.js).
export type { AppContext, AppParts, Span, Tracer } from '../core/index.js';
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
