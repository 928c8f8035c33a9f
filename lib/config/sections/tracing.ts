/**
 * The `tracing:` config section (the original YAML keys) and its mapping to `createOtelTracer`
 * options.
 *
 * ```yaml
 * tracing:
 *   enabled: true
 *   service_name: my-service
 *   exporter: otlp            # otlp | zipkin | jaeger | console | memory | none
 *   endpoint: http://localhost:4318/v1/traces   # or host:port
 *   sample_rate: 1.0          # 0.0 - 1.0, for new traces; children follow their parent
 *   attributes: { environment: production, version: v1.0.0 }
 *   headers: { x-api-key: ... }
 *   batch: { max_queue_size: 2048, max_export_batch_size: 512, scheduled_delay: 5s, export_timeout: 30s }
 *   propagators: [tracecontext, baggage]   # + b3 | b3multi | jaeger
 *   active_context: false
 * ```
 */
import * as v from 'valibot';
import {
  EXPORTERS,
  normalizeEndpoint,
  type OtelTracerOptions,
  PROPAGATORS,
} from '../../tracing/otel/options.js';
import { duration } from '../primitives.js';
import { clientTls, clientTlsOptions } from './tls.js';

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));

const attributeValue = v.union([
  v.string(),
  v.number(),
  v.boolean(),
  v.array(v.string()),
  v.array(v.number()),
  v.array(v.boolean()),
]);

/** A collector address: an http(s) URL, or `host:port` as in the original config. */
const endpoint = v.pipe(
  v.string(),
  v.check((s) => !('problem' in normalizeEndpoint(s, 'otlp')), 'an http(s) URL or host:port'),
);

/** Validates the `tracing:` section. Durations accept `5s` / `250ms` or a number of ms. */
export const tracingSection = v.strictObject({
  enabled: v.optional(v.boolean()),
  service_name: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, 'a non-empty service name'))),
  exporter: v.optional(v.picklist(EXPORTERS, `one of ${EXPORTERS.join(', ')}`)),
  endpoint: v.optional(endpoint),
  sample_rate: v.optional(
    v.pipe(
      v.number(),
      v.minValue(0, 'a rate between 0.0 and 1.0'),
      v.maxValue(1, 'a rate between 0.0 and 1.0'),
    ),
  ),
  attributes: v.optional(v.record(v.string(), attributeValue)),
  headers: v.optional(v.record(v.string(), v.string())),
  /** TLS of an https otlp endpoint: ca_file, cert_file/key_file/key_passphrase (mutual TLS). */
  tls: v.optional(clientTls),
  batch: v.optional(
    v.strictObject({
      max_queue_size: v.optional(positiveInt),
      max_export_batch_size: v.optional(positiveInt),
      scheduled_delay: v.optional(duration),
      export_timeout: v.optional(duration),
    }),
  ),
  propagators: v.optional(v.array(v.picklist(PROPAGATORS, `one of ${PROPAGATORS.join(', ')}`))),
  active_context: v.optional(v.boolean()),
  register_global: v.optional(v.boolean()),
});

export type TracingSection = v.InferOutput<typeof tracingSection>;

/** Maps a validated `tracing:` section to `createOtelTracer` options (absent keys stay absent). */
export function tracingOptionsFromConfig(section: TracingSection): OtelTracerOptions {
  const out: OtelTracerOptions = {};
  if (section.enabled !== undefined) out.enabled = section.enabled;
  if (section.service_name !== undefined) out.serviceName = section.service_name;
  if (section.exporter !== undefined) out.exporter = section.exporter;
  if (section.endpoint !== undefined) out.endpoint = section.endpoint;
  if (section.sample_rate !== undefined) out.sampleRate = section.sample_rate;
  if (section.attributes !== undefined) out.attributes = section.attributes;
  if (section.headers !== undefined) out.headers = section.headers;
  if (section.tls !== undefined) {
    const { servername, rejectUnauthorized, ca, cert, key, passphrase } = clientTlsOptions(
      section.tls,
      'tracing.tls',
    );
    out.tls = {
      ...(ca !== undefined && { ca: ca as Buffer }),
      ...(cert !== undefined && { cert: cert as Buffer }),
      ...(key !== undefined && { key: key as Buffer }),
      ...(passphrase !== undefined && { passphrase }),
      ...(servername !== undefined && { servername }),
      ...(rejectUnauthorized !== undefined && { rejectUnauthorized }),
    };
  }
  if (section.propagators !== undefined) out.propagators = section.propagators;
  if (section.active_context !== undefined) out.activeContext = section.active_context;
  if (section.register_global !== undefined) out.registerGlobal = section.register_global;
  const b = section.batch;
  if (b) {
    out.batch = {};
    if (b.max_queue_size !== undefined) out.batch.maxQueueSize = b.max_queue_size;
    if (b.max_export_batch_size !== undefined) out.batch.maxExportBatchSize = b.max_export_batch_size;
    if (b.scheduled_delay !== undefined) out.batch.scheduledDelayMillis = Math.round(b.scheduled_delay);
    if (b.export_timeout !== undefined)
      out.batch.exportTimeoutMillis = Math.max(1, Math.round(b.export_timeout));
  }
  return out;
}
