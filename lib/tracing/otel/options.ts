/** Options of the OpenTelemetry tracer, their defaults and their validation. */
import type { TracerProvider } from '@opentelemetry/api';
import type { AttributeValue, LoggerLike } from '../../core/contracts.js';
import { ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import {
  MAX_COUNT,
  MAX_TIMER_MS,
  optionKeys,
  shownDuration,
  unknownKeyMessage,
  unknownOptionIssues,
} from '../../core/options.js';
import { applyOtelEnv, headerProblem, type OtlpCompression, type SpanLimitFields } from './env.js';
import {
  DEFAULT_ENDPOINTS,
  EXPORTERS,
  type ExporterName,
  normalizeEndpoint,
  PROPAGATORS,
  type PropagatorName,
} from './names.js';
import { type ExportTlsOptions, resolveExportTls } from './tls.js';

// Names and endpoints live in a module without OpenTelemetry imports (hyperion/config uses them).
export {
  DEFAULT_ENDPOINTS,
  EXPORTERS,
  type ExporterName,
  normalizeEndpoint,
  PROPAGATORS,
  type PropagatorName,
} from './names.js';

/** Limits of the batching span processor used by the network exporters. */
export interface BatchOptions {
  /** Spans kept while waiting for export; further spans are dropped. Default 2048. */
  maxQueueSize?: number | undefined;
  /** Spans per export request (≤ maxQueueSize). Default 512, or maxQueueSize when that is smaller. */
  maxExportBatchSize?: number | undefined;
  /** Delay between two scheduled exports, ms. Default 5000. */
  scheduledDelayMillis?: number | undefined;
  /** Time an export may take before it is abandoned, ms. Default 30 000. */
  exportTimeoutMillis?: number | undefined;
}

export interface OtelTracerOptions {
  /** `false` returns a tracer that records nothing but still propagates incoming context. Default true. */
  enabled?: boolean | undefined;
  /**
   * `service.name` resource attribute. Default: `attributes['service.name']`, else `OTEL_SERVICE_NAME`,
   * else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else `unknown_service:node`.
   */
  serviceName?: string | undefined;
  /** `service.version` resource attribute. Default: `attributes['service.version']`, else `npm_package_version`, else none. */
  serviceVersion?: string | undefined;
  /** `service.instance.id` resource attribute. Default: `attributes['service.instance.id']`, else a random UUID per tracer. */
  serviceInstanceId?: string | undefined;
  /** Where spans go. Default `otlp`. Ignored when `provider` is given. */
  exporter?: ExporterName | undefined;
  /**
   * Collector URL (http/https). A bare `host:port` (the original YAML style) gets `http://` and the
   * exporter's default path. Default: otlp `http://localhost:4318/v1/traces`, zipkin
   * `http://localhost:9411/api/v2/spans`, jaeger `http://localhost:14268/api/traces`.
   */
  endpoint?: string | undefined;
  /** Fraction of new traces sampled, 0..1; child spans follow their parent's decision. Default 1. */
  sampleRate?: number | undefined;
  /** Resource attributes added to every span of this service (`deployment.environment.name`, …). */
  attributes?: Readonly<Record<string, AttributeValue>> | undefined;
  /**
   * Extra HTTP headers on export requests (otlp and zipkin; the jaeger exporter takes user:pass in
   * the URL), e.g. `{ authorization: 'Bearer …' }`. Values never appear in logs or errors.
   */
  headers?: Readonly<Record<string, string>> | undefined;
  /**
   * TLS of an `https:` otlp endpoint: `ca` (a private CA), `cert`/`key`/`passphrase` (mutual TLS).
   * Server certificate and host name are always verified unless `rejectUnauthorized: false`.
   */
  tls?: ExportTlsOptions | undefined;
  /** Batch processor limits for otlp/zipkin/jaeger. */
  batch?: BatchOptions | undefined;
  /**
   * Propagation formats, all written on inject and read in order on extract (when two carry a
   * parent, the one listed last wins). Default `['tracecontext', 'baggage']`.
   */
  propagators?: readonly PropagatorName[] | undefined;
  /**
   * Opt-in: `tracer.activate(span, fn)` makes spans the active OpenTelemetry context (registers an
   * AsyncLocalStorage context manager if none is registered), so third-party instrumentation nests
   * under them, and spans started without a parent nest under the active OTel span. Default false.
   */
  activeContext?: boolean | undefined;
  /** Also register the provider and propagator as the global OpenTelemetry ones. Default false. */
  registerGlobal?: boolean | undefined;
  /**
   * A ready provider to create spans with (exporter, sampling, batch and resource options are then
   * ignored, and so are the `OTEL_*` variables for them: only `OTEL_SDK_DISABLED` and
   * `OTEL_PROPAGATORS` are read). The tracer flushes it on close but does not shut it down: its owner does.
   */
  provider?: TracerProvider | undefined;
  /** Receives dropped-attribute warnings and (rate-limited) export errors. Default: silent. */
  logger?: LoggerLike | undefined;
  /** Minimum time between two export error log records, ms. Default 60 000. */
  errorLogIntervalMs?: number | undefined;
  /** Clock for the error log rate limit, ms. Default `Date.now`. */
  now?: (() => number) | undefined;
}

/** Options after defaults and validation. */
export interface ResolvedOptions {
  enabled: boolean;
  serviceName: string;
  serviceVersion: string | undefined;
  serviceInstanceId: string | undefined;
  exporter: ExporterName;
  endpoint: string | undefined;
  sampleRate: number;
  /** `false` only from `OTEL_TRACES_SAMPLER` always_on / always_off / traceidratio (env.ts). */
  parentBased: boolean;
  attributes: Readonly<Record<string, AttributeValue>>;
  headers: Readonly<Record<string, string>>;
  /** https agent options of the otlp exporter, from `tls`. */
  tls: import('node:https').AgentOptions | undefined;
  batch: Required<BatchOptions>;
  propagators: readonly PropagatorName[];
  activeContext: boolean;
  registerGlobal: boolean;
  provider: TracerProvider | undefined;
  errorLogIntervalMs: number;
  now: () => number;
  /** From the OTEL_*_LIMIT variables only (env.ts); `undefined` when none is set. */
  spanLimits: SpanLimitFields | undefined;
  /** From `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` only (env.ts); `undefined` when unset. */
  compression: OtlpCompression | undefined;
  /**
   * The otlp exporter's timeout, ms: one export request with its retries (which the batch
   * processor runs for it, agent.ts), so for otlp also the processor's bound of an export. See
   * `DEFAULT_OTLP_TIMEOUT_MS`; never above `batch.exportTimeoutMillis`.
   */
  otlpTimeoutMillis: number;
  /** Variables read with a warning rather than refused (env.ts): the tracer logs each once. */
  warnings: readonly string[];
}

/**
 * `OTEL_EXPORTER_OTLP_TIMEOUT`'s default (OTLP exporter specification), inside the processor's
 * 30 s as in the SDK. The otlp export used the processor's 30 s for the request and its retries, so
 * a collector that accepts and never answers held each export (and `flush()`) 30 s, not 10 s.
 */
const DEFAULT_OTLP_TIMEOUT_MS = 10_000;

const BATCH_DEFAULTS: Required<BatchOptions> = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 30_000,
};

const KNOWN = optionKeys<OtelTracerOptions>({
  enabled: true,
  serviceName: true,
  serviceVersion: true,
  serviceInstanceId: true,
  exporter: true,
  endpoint: true,
  sampleRate: true,
  attributes: true,
  headers: true,
  tls: true,
  batch: true,
  propagators: true,
  activeContext: true,
  registerGlobal: true,
  provider: true,
  logger: true,
  errorLogIntervalMs: true,
  now: true,
});

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A key/value collection whose entries are not its own properties — a `Map`, a fetch `Headers`, a
 * `URLSearchParams` — which `Object.entries` reads as empty: given for `headers`, every export went
 * without them (an `authorization` header lost, each export answered 401); for `attributes`, the
 * resource attributes were dropped. Its kind for the message, or `undefined` for a record.
 */
function entriesCollection(x: Record<string, unknown>): string | undefined {
  if (Object.keys(x).length > 0 || typeof x.entries !== 'function' || typeof x.get !== 'function')
    return undefined;
  return (x.constructor as { name?: unknown } | undefined)?.name === 'Headers'
    ? 'Headers'
    : x instanceof Map
      ? 'Map'
      : 'collection';
}

/** `v`, or `undefined` for a blank string: a blank `service.version` / `service.instance.id` among the attributes does not count. */
export function given(v: AttributeValue | undefined): AttributeValue | undefined {
  return typeof v === 'string' && v.trim() === '' ? undefined : v;
}

function isAttributeValue(v: unknown): v is AttributeValue {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return true;
  if (!Array.isArray(v)) return false;
  const t = typeof v[0];
  return (
    (t === 'string' || t === 'number' || t === 'boolean' || v.length === 0) && v.every((x) => typeof x === t)
  );
}

/** NaN or ±Infinity, alone or in a list: Jaeger's query API cannot return a trace holding one. */
function hasNonFinite(v: AttributeValue): boolean {
  return Array.isArray(v)
    ? v.some((x) => typeof x === 'number' && !Number.isFinite(x))
    : typeof v === 'number' && !Number.isFinite(v);
}

/**
 * A header name as messages show it: its leading HTTP token characters at most. A name that is no
 * token is often a whole header line pasted as the key (`'authorization: Bearer …'`, a typo for
 * the key `authorization`): the ConfigError printed the credential in its path.
 */
function shownHeaderName(name: string): string {
  const token = /^[\w!#$%&'*+\-.^`|~]*/.exec(name)![0];
  return token.length === name.length && name.length <= 64 ? name : `${token.slice(0, 64)}…`;
}

/**
 * Applies the `OTEL_*` variables of `env` to fields not given (env.ts), then defaults, and checks
 * every field; throws one `ConfigError` naming each bad field or variable.
 */
export function resolveOptions(
  options: OtelTracerOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedOptions {
  const warnings: string[] = [];
  const input = applyOtelEnv(options, env, warnings);
  const issues: ConfigIssue[] = unknownOptionIssues(options, KNOWN);
  const bad = (path: string, expected: string, value: unknown, message: string, received = typeName(value)) =>
    issues.push({ path, expected, received, message });
  const o = input as Record<string, unknown>;

  const bool = (key: string, fallback: boolean): boolean => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') bad(key, 'boolean', v, 'must be true or false');
    return v === true;
  };
  const enabled = bool('enabled', true);
  const activeContext = bool('activeContext', false);
  const registerGlobal = bool('registerGlobal', false);

  let serviceName = 'unknown_service:node';
  if (o.serviceName === undefined) {
    // `attributes['service.name']` names the service when `serviceName` does not (it used to be
    // overwritten by the default: every span went out as unknown_service:node).
    const fromAttributes = (isPlainObject(o.attributes) ? o.attributes : {})['service.name'];
    if (typeof fromAttributes === 'string' && fromAttributes.trim() !== '') serviceName = fromAttributes;
  } else {
    if (typeof o.serviceName !== 'string' || o.serviceName.trim() === '')
      bad('serviceName', 'non-empty string', o.serviceName, 'must be a non-empty string');
    else serviceName = o.serviceName;
  }

  const optionalString = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '')
      bad(key, 'non-empty string', v, 'must be a non-empty string');
    return typeof v === 'string' ? v : undefined;
  };
  const explicitVersion = optionalString('serviceVersion');
  const serviceInstanceId = optionalString('serviceInstanceId');

  let exporter: ExporterName = 'otlp';
  if (o.exporter !== undefined) {
    if (!EXPORTERS.includes(o.exporter as ExporterName))
      bad(
        'exporter',
        EXPORTERS.join(' | '),
        o.exporter,
        `unknown exporter${typeof o.exporter === 'string' ? ` "${o.exporter.slice(0, 40)}"` : ''}`,
      );
    else exporter = o.exporter as ExporterName;
  }

  let endpoint: string | undefined;
  if (o.endpoint !== undefined) {
    if (typeof o.endpoint !== 'string') bad('endpoint', 'URL or host:port', o.endpoint, 'must be a string');
    else if (exporter === 'otlp' || exporter === 'zipkin' || exporter === 'jaeger') {
      const r = normalizeEndpoint(o.endpoint, exporter);
      if ('problem' in r)
        bad('endpoint', 'http(s) URL or host:port', o.endpoint, `malformed endpoint: ${r.problem}`);
      else endpoint = r.url;
    }
  } else if (exporter === 'otlp' || exporter === 'zipkin' || exporter === 'jaeger') {
    endpoint = DEFAULT_ENDPOINTS[exporter];
  }

  let sampleRate = 1;
  if (o.sampleRate !== undefined) {
    const r = o.sampleRate;
    if (typeof r !== 'number' || !(r >= 0 && r <= 1))
      bad('sampleRate', 'number between 0 and 1', r, 'must be between 0.0 and 1.0');
    else sampleRate = r;
  }

  let attributes: Record<string, AttributeValue> = {};
  if (o.attributes !== undefined) {
    const collection = isPlainObject(o.attributes) ? entriesCollection(o.attributes) : undefined;
    if (!isPlainObject(o.attributes)) bad('attributes', 'object', o.attributes, 'must be an object');
    else if (collection)
      issues.push({
        path: 'attributes',
        expected: 'object',
        received: collection,
        message: `must be a plain object ({ name: value }), not a ${collection}, whose entries are not read`,
      });
    else {
      for (const [k, v] of Object.entries(o.attributes)) {
        // OpenTelemetry drops an attribute with an empty name: it never reached a span.
        if (k === '') bad('attributes.', 'non-empty attribute name', k, 'has an empty name');
        else if (!isAttributeValue(v))
          bad(`attributes.${k}`, 'string, number, boolean or array of one of them', v, 'unsupported type');
        else if (hasNonFinite(v))
          bad(`attributes.${k}`, 'finite number', v, 'must be a finite number (not NaN or Infinity)');
      }
      attributes = o.attributes as Record<string, AttributeValue>;
    }
  }
  // The documented order: the option, then `attributes['service.version']` (OTEL_RESOURCE_ATTRIBUTES
  // included), then npm's `npm_package_version`. npm's variable used to win over the attribute, so
  // a service started with `npm start` reported package.json's version whatever was configured.
  const serviceVersion =
    explicitVersion ??
    (given(attributes['service.version']) === undefined ? env.npm_package_version : undefined);

  let headers: Record<string, string> = {};
  if (o.headers !== undefined) {
    const collection = isPlainObject(o.headers) ? entriesCollection(o.headers) : undefined;
    if (!isPlainObject(o.headers)) bad('headers', 'object of strings', o.headers, 'must be an object');
    else if (collection)
      // Its kind only: the values may be credentials.
      issues.push({
        path: 'headers',
        expected: 'object of strings',
        received: collection,
        message: `must be a plain object ({ name: value }), not a ${collection}, whose entries are not read`,
      });
    else {
      for (const [k, v] of Object.entries(o.headers)) {
        // Header values may be credentials: report the type only (typeName never shows values).
        if (typeof v !== 'string') bad(`headers.${shownHeaderName(k)}`, 'string', v, 'must be a string');
        else {
          // A header no request can carry failed every export (otlp) or hung it (zipkin).
          const problem = headerProblem(k, v);
          if (problem) bad(`headers.${shownHeaderName(k)}`, 'valid HTTP header', v, problem);
        }
      }
      headers = o.headers as Record<string, string>;
    }
  }

  const tls = resolveExportTls(o.tls, bad);

  const batch = { ...BATCH_DEFAULTS };
  if (o.batch !== undefined) {
    if (!isPlainObject(o.batch)) bad('batch', 'object', o.batch, 'must be an object');
    else {
      for (const key of Object.keys(o.batch)) {
        // Own keys only: `constructor` or `__proto__` passed an `in` test and was taken (`toString`
        // then failed as "must be an integer" rather than as an unknown key).
        if (!Object.hasOwn(BATCH_DEFAULTS, key)) {
          bad(
            `batch.${key}`,
            Object.keys(BATCH_DEFAULTS).join(' | '),
            o.batch[key],
            unknownKeyMessage(key, Object.keys(BATCH_DEFAULTS)),
          );
          continue;
        }
        const v = o.batch[key];
        if (v === undefined) continue;
        const min = key === 'scheduledDelayMillis' ? 0 : 1;
        const max = key.endsWith('Millis') ? MAX_TIMER_MS : MAX_COUNT;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
          bad(
            `batch.${key}`,
            `integer from ${min} to ${max}`,
            v,
            `must be an integer from ${min} to ${max}`,
            key.endsWith('Millis') ? shownDuration(v) : typeName(v),
          );
        else batch[key as keyof BatchOptions] = v;
      }
      // Only a queue size given: the default batch size shrinks to it rather than failing.
      if (o.batch.maxExportBatchSize === undefined)
        batch.maxExportBatchSize = Math.min(batch.maxExportBatchSize, batch.maxQueueSize);
      if (batch.maxExportBatchSize > batch.maxQueueSize)
        bad(
          'batch.maxExportBatchSize',
          `integer ≤ maxQueueSize (${batch.maxQueueSize})`,
          batch.maxExportBatchSize,
          'must not exceed maxQueueSize',
        );
    }
  }

  let propagators: readonly PropagatorName[] = ['tracecontext', 'baggage'];
  if (o.propagators !== undefined) {
    if (!Array.isArray(o.propagators)) bad('propagators', 'array', o.propagators, 'must be an array');
    else {
      o.propagators.forEach((p, i) => {
        if (!PROPAGATORS.includes(p as PropagatorName))
          bad(`propagators.${i}`, PROPAGATORS.join(' | '), p, 'unknown propagator');
      });
      propagators = [...new Set(o.propagators as PropagatorName[])];
    }
  }

  let errorLogIntervalMs = 60_000;
  if (o.errorLogIntervalMs !== undefined) {
    const v = o.errorLogIntervalMs;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      bad('errorLogIntervalMs', 'number ≥ 0', v, 'must be a finite number of ms ≥ 0', shownDuration(v));
    else errorLogIntervalMs = v;
  }

  const provider = o.provider as TracerProvider | undefined;
  if (provider !== undefined && typeof (provider as { getTracer?: unknown })?.getTracer !== 'function')
    bad('provider', 'TracerProvider', provider, 'must have getTracer()');
  if (o.logger !== undefined && typeof (o.logger as { warn?: unknown })?.warn !== 'function')
    bad('logger', 'Logger', o.logger, 'must be a Logger');
  if (o.now !== undefined && typeof o.now !== 'function') bad('now', 'function', o.now, 'must be a function');

  if (issues.length > 0)
    throw new ConfigError(`invalid tracer options: ${issues.length} bad field(s)`, issues);
  return {
    enabled,
    serviceName,
    serviceVersion,
    serviceInstanceId,
    exporter,
    endpoint,
    sampleRate,
    parentBased: (input as { parentBased?: boolean }).parentBased !== false,
    attributes,
    headers,
    tls,
    batch,
    propagators,
    activeContext,
    registerGlobal,
    provider,
    errorLogIntervalMs,
    now: (o.now as (() => number) | undefined) ?? Date.now,
    spanLimits: (input as { spanLimits?: SpanLimitFields }).spanLimits,
    compression: (input as { compression?: OtlpCompression }).compression,
    otlpTimeoutMillis: Math.min(
      // The variable, else an export timeout given in code or config (the one knob there, which
      // meant the whole export: kept so), else the specification's default.
      (input as { otlpTimeoutMillis?: number }).otlpTimeoutMillis ??
        (isPlainObject(options.batch) && options.batch.exportTimeoutMillis !== undefined
          ? batch.exportTimeoutMillis
          : DEFAULT_OTLP_TIMEOUT_MS),
      batch.exportTimeoutMillis,
    ),
    warnings,
  };
}
