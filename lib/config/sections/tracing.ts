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
 *   attributes: { deployment.environment.name: production, service.version: v1.0.0 }
 *   headers: { x-api-key: ... }
 *   batch: { max_queue_size: 2048, max_export_batch_size: 512, scheduled_delay: 5s, export_timeout: 30s }
 *   propagators: [tracecontext, baggage]   # + b3 | b3multi | jaeger
 *   active_context: false
 * ```
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import * as v from 'valibot';
import type { AttributeValue } from '../../core/contracts.js';
import { ConfigError, typeName } from '../../core/errors.js';
import { EXPORTER_HEADER_PROBLEM, exporterSetsHeader, otelBatchSizes } from '../../tracing/otel/env.js';
import {
  EXPORTERS,
  type ExporterName,
  normalizeEndpoint,
  PROPAGATORS,
  type PropagatorName,
} from '../../tracing/otel/names.js';
import {
  durationIn,
  flag,
  fraction,
  givenSection,
  intIn,
  MAX_COUNT,
  mapOf,
  nonEmpty,
  oneOf,
  type SectionRule,
  section,
  sectionFields,
  text,
} from '../primitives.js';
import { clientTls, clientTlsOptions } from './tls.js';

/** `node:http`'s own rule, so a header the file accepts can always be sent (and the tracer accepts it). */
const passes = (check: () => void): boolean => {
  try {
    check();
    return true;
  } catch {
    return false;
  }
};
const headerName = v.pipe(
  text,
  v.check(
    (name) => passes(() => validateHeaderName(name)),
    "an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)",
  ),
  // The tracer refuses these too (tracing/otel/env.ts): every export failed with one of them.
  v.check(
    (name) => !exporterSetsHeader(name),
    `a header the exporter does not set itself: this one ${EXPORTER_HEADER_PROBLEM}`,
  ),
);
const headerValue = v.pipe(
  text,
  v.check(
    (value) => passes(() => validateHeaderValue('x', value)),
    'text without control characters (CR, LF, NUL…) or characters beyond Latin-1',
  ),
);

const ATTRIBUTE_PHRASE =
  'text, a finite number, true/false, or a list of only texts, only finite numbers or only true/false values';

/**
 * The attribute values OpenTelemetry accepts, numbers finite (Jaeger's query API cannot return a
 * trace holding NaN or an infinity); the tracer factory checks the same.
 */
function isAttributeValue(x: unknown): boolean {
  if (typeof x === 'string' || typeof x === 'boolean') return true;
  if (typeof x === 'number') return Number.isFinite(x);
  if (!Array.isArray(x)) return false;
  const t = typeof x[0];
  return (
    (t === 'string' || t === 'number' || t === 'boolean' || x.length === 0) &&
    x.every((y) => typeof y === t && (t !== 'number' || Number.isFinite(y)))
  );
}

/** A collector address: an http(s) URL, or `host:port` as in the original config. */
const ENDPOINT_PHRASE = 'an http(s) URL or "host:port"';
const endpoint = v.pipe(
  v.string(ENDPOINT_PHRASE),
  v.check((s) => !('problem' in normalizeEndpoint(s, 'otlp')), ENDPOINT_PHRASE),
);

const QUEUE_DEFAULT = 2048;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The environment the batch rule reads the `OTEL_BSP_*` variables from while a loader validates
 * (`undefined`: `process.env`). The rule read `process.env` even when `loadConfig` was given an
 * `env` to read instead, so a variable of the real environment decided whether a config built
 * for another one was valid. Validation is synchronous: set for one call, then restored.
 */
let validationEnv: Env | undefined;

/** Runs `validate` with the batch rule reading `env` (the loader's `env` option, else `process.env`). */
export function withValidationEnv<T>(env: Env | undefined, validate: () => T): T {
  const before = validationEnv;
  validationEnv = env;
  try {
    return validate();
  } finally {
    validationEnv = before;
  }
}

/**
 * The batch size against the queue size the tracer will have: the file's `max_queue_size`, else
 * `OTEL_BSP_MAX_QUEUE_SIZE` (read from the loader's `env` option, else `process.env`, which the
 * tracer `createAppFromConfig` builds reads: a file's value wins
 * over an `OTEL_*` variable), else 2048. The rule used to compare with 2048 whenever the file gave
 * no queue size: with the variable at 5000 a batch size of 3000 was refused, and with it at 100 a
 * batch size of 600 passed and `createAppFromConfig` failed later on `batch.maxExportBatchSize`, a
 * name in neither the file nor the environment. Likewise a file's `max_queue_size` below the
 * batch size `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` gives. On the tracing section, to see `enabled`:
 * with `enabled: false` no tracer reads the variables, and they are not looked at.
 */
const batchRule: SectionRule = (t, fail) => {
  const b = t.batch;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) return;
  const { max_queue_size: fileQueue, max_export_batch_size: fileBatch } = b as Record<string, unknown>;
  const env =
    t.enabled === false
      ? { maxQueueSize: undefined, maxExportBatchSize: undefined }
      : otelBatchSizes(validationEnv ?? process.env);
  // A bad variable is the tracer's to report, naming it (not compared with a default here).
  if (typeof fileQueue !== 'number' && env.maxQueueSize === 'bad') return;
  const envQueue = typeof env.maxQueueSize === 'number' ? env.maxQueueSize : undefined;
  const queue = typeof fileQueue === 'number' ? fileQueue : (envQueue ?? QUEUE_DEFAULT);
  if (typeof fileBatch === 'number' && fileBatch > queue) {
    const whose =
      typeof fileQueue === 'number'
        ? ''
        : envQueue !== undefined
          ? ', set by the environment variable OTEL_BSP_MAX_QUEUE_SIZE'
          : ', the default';
    fail(
      ['batch', 'max_export_batch_size'],
      `is larger than max_queue_size (${queue}${whose})`,
      'a whole number from 1 to max_queue_size (when not set: OTEL_BSP_MAX_QUEUE_SIZE, else 2048)',
    );
  } else if (
    typeof fileQueue === 'number' &&
    fileBatch === undefined &&
    typeof env.maxExportBatchSize === 'number' &&
    env.maxExportBatchSize > fileQueue
  ) {
    fail(
      ['batch', 'max_queue_size'],
      `is smaller than the batch size the environment variable OTEL_BSP_MAX_EXPORT_BATCH_SIZE sets (${env.maxExportBatchSize})`,
      'a whole number from max_export_batch_size (when not set: OTEL_BSP_MAX_EXPORT_BATCH_SIZE) to 1000000',
    );
  }
};

/**
 * HTTP header names are case-insensitive: `{ Authorization: a, authorization: b }` was accepted and
 * only one of the two was sent (the exporter's request keeps the last one set), without a word —
 * also when `HYPERION__TRACING__HEADERS__AUTHORIZATION` (read in lower case) met the file's
 * `Authorization`. Each header is named once, in any case.
 */
const headerRule: SectionRule = (t, fail) => {
  if (t.headers === null || typeof t.headers !== 'object' || Array.isArray(t.headers)) return;
  const first = new Map<string, string>();
  for (const name of Object.keys(t.headers)) {
    const earlier = first.get(name.toLowerCase());
    if (earlier === undefined) first.set(name.toLowerCase(), name);
    else
      fail(
        ['headers', name],
        `names the same header as \`${earlier}\` (HTTP header names are case-insensitive: only one of the two would be sent)`,
        'each header name once, in any case',
      );
  }
};

/** Validates the `tracing:` section. Durations accept `5s` / `250ms` or a number of ms. */
export const tracingSection = section(
  {
    enabled: v.optional(flag),
    service_name: v.optional(
      v.pipe(v.string('a non-empty service name'), v.trim(), v.minLength(1, 'a non-empty service name')),
    ),
    exporter: v.optional(oneOf(EXPORTERS)),
    endpoint: v.optional(endpoint),
    /** 0.0 to 1.0. */
    sample_rate: v.optional(fraction),
    attributes: v.optional(
      mapOf(
        // OpenTelemetry drops an attribute with an empty name (a debug-level diag line at most):
        // `"": x` was accepted here and the attribute never reached a span.
        nonEmpty('a non-empty attribute name'),
        v.custom<string | number | boolean | string[] | number[] | boolean[]>(
          isAttributeValue,
          ATTRIBUTE_PHRASE,
        ),
        'a mapping of attribute names to values',
      ),
    ),
    headers: v.optional(mapOf(headerName, headerValue, 'a mapping of header names to text values')),
    /** TLS of an https otlp endpoint: ca_file, cert_file/key_file/key_passphrase (mutual TLS). */
    tls: v.optional(clientTls),
    batch: v.optional(
      section(
        {
          /** 1 to 1,000,000 spans. Default 2048. */
          max_queue_size: v.optional(intIn(1, MAX_COUNT)),
          /** 1 to max_queue_size spans. Default 512. */
          max_export_batch_size: v.optional(intIn(1, MAX_COUNT)),
          /** 0 to 2^31 − 1 ms. Default 5s. */
          scheduled_delay: v.optional(durationIn()),
          /** Above 0, up to 2^31 − 1 ms. Default 30s. */
          export_timeout: v.optional(durationIn({ exclusive: true })),
        },
        'batch settings',
      ),
    ),
    propagators: v.optional(v.array(oneOf(PROPAGATORS), `a list of: ${PROPAGATORS.join(', ')}`)),
    active_context: v.optional(flag),
    register_global: v.optional(flag),
  },
  'tracing settings',
  [headerRule, batchRule],
);

export type TracingSection = v.InferOutput<typeof tracingSection>;

/**
 * The `createOtelTracer` options a `tracing:` section sets (assignable to `OtelTracerOptions`).
 * Declared here, without OpenTelemetry types, so `hyperion/config`'s type declarations do not need
 * `@opentelemetry/api` installed.
 */
export interface TracingOptionsFromConfig {
  enabled?: boolean | undefined;
  serviceName?: string | undefined;
  exporter?: ExporterName | undefined;
  endpoint?: string | undefined;
  sampleRate?: number | undefined;
  attributes?: Readonly<Record<string, AttributeValue>> | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  propagators?: readonly PropagatorName[] | undefined;
  activeContext?: boolean | undefined;
  registerGlobal?: boolean | undefined;
  /** `createOtelTracer`'s `tls`: the collector's CA, a client certificate and key, SNI name. */
  tls?:
    | {
        ca?: Buffer | undefined;
        cert?: Buffer | undefined;
        key?: Buffer | undefined;
        passphrase?: string | undefined;
        servername?: string | undefined;
        rejectUnauthorized?: boolean | undefined;
      }
    | undefined;
  batch?:
    | {
        maxQueueSize?: number | undefined;
        maxExportBatchSize?: number | undefined;
        scheduledDelayMillis?: number | undefined;
        exportTimeoutMillis?: number | undefined;
      }
    | undefined;
}

/**
 * Maps a validated `tracing:` section to `createOtelTracer` options (absent keys stay absent).
 * `service`, the file's `service:` section (`config.service`, which may be absent), gives the
 * default of `service_name`, as `createAppFromConfig` applies it: without it a tracer built from
 * the mapping was `unknown_service:node` though the file named its service at the top level.
 */
export function tracingOptionsFromConfig(
  section: TracingSection,
  service?: { readonly name?: string | undefined } | undefined,
): TracingOptionsFromConfig {
  givenSection(
    section,
    'tracingOptionsFromConfig',
    'tracing',
    'createAppFromConfig then builds no OpenTelemetry tracer',
    sectionFields(tracingSection),
  );
  if (service !== undefined) {
    givenSection(
      service,
      'tracingOptionsFromConfig',
      'service',
      'pass config.service as it is: undefined when absent',
      ['name'],
    );
    if (service.name !== undefined && typeof service.name !== 'string')
      throw new ConfigError('tracingOptionsFromConfig: invalid service.name', [
        {
          path: 'service.name',
          expected: 'a service name (text)',
          received: typeName(service.name),
          message: 'is not text',
        },
      ]);
  }
  const out: TracingOptionsFromConfig = {};
  if (section.enabled !== undefined) out.enabled = section.enabled;
  const serviceName = section.service_name ?? service?.name;
  if (serviceName !== undefined) out.serviceName = serviceName;
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
