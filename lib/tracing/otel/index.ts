/**
 * OpenTelemetry tracing for Hyperion: `createOtelTracer(options)` returns a core `Tracer` that
 * exports through OTLP, Zipkin, Jaeger (thrift, OpenTelemetry JS 2.x only), the console or memory,
 * on whichever OpenTelemetry JS line the application installed (3.x `@opentelemetry/sdk-trace` or
 * 2.x `@opentelemetry/sdk-trace-base`). The HTTP helpers (`traceHandler`, `tracedFetch`) work with
 * any tracer and live in `hyperion/tracing`.
 */

// The core contracts this subpath's results are typed with, re-exported so that a TypeScript
// module importing only this subpath can emit declarations for them (with `declaration: true` an
// exported result typed by a core contract failed with TS2742, naming …/dist/core/contracts.js).
export type { Span, Tracer, TracerStats } from '../../core/index.js';
export type { ExportStats } from './exporters.js';
export type { BatchOptions, ExporterName, OtelTracerOptions, PropagatorName } from './options.js';
export type { FinishedSpan, FinishedSpanEvent } from './sdk.js';
// The type of `tls`, so a helper building it can name it (the file is not importable on its own).
export type { ExportTlsOptions } from './tls.js';
export { createOtelTracer, type OtelTracer, type ProviderOtelTracer } from './tracer.js';
