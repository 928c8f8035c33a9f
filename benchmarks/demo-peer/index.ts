/**
 * The demo's services hand-wired on the raw OpenTelemetry SDK and prom-client, for the demo
 * benchmark's "fair peer": `startServices({ instrumentation: peerInstrumentation(…) })` runs the
 * same routes, caches and database code with only the instrumentation layer swapped
 * (demo/instrumentation.ts). Nothing of Hyperion's adapters is used: the handlers keep the core
 * contracts they are written against (`ctx`, `withSpan`), implemented here on the SDK directly.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Instrumentation } from '../../demo/instrumentation.js';
import type { ServiceName } from '../../demo/services/index.js';
import { peerFetch, peerServe } from './http.js';
import { createPeerMetrics } from './metrics.js';
import { createPeerTracing } from './tracing.js';

export interface PeerOptions {
  /** OTLP/HTTP traces URL of the collector. */
  endpoint: string;
  serviceVersion: string;
  /** Replaces the OTLP exporter of every service (see createPeerTracing). */
  exporter?: SpanExporter;
}

export function peerInstrumentation(o: PeerOptions): (name: ServiceName) => Instrumentation {
  return (name) => {
    const { tracer, otel } = createPeerTracing({
      serviceName: name,
      serviceVersion: o.serviceVersion,
      endpoint: o.endpoint,
      exporter: o.exporter,
    });
    const m = createPeerMetrics(name);
    return {
      tracer,
      metrics: m.metrics,
      watchCache: m.watchCache,
      watchDbConnections: m.watchDbConnections,
      serve: peerServe(otel, m),
      scrape: m.scrape,
      fetch: peerFetch(otel, m),
    };
  };
}
