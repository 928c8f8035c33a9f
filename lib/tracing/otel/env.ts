/**
 * The standard OpenTelemetry SDK environment variables, as defaults for `createOtelTracer`
 * options the caller did not pass. Precedence, highest first:
 *
 *   1. an option passed to `createOtelTracer` (in code, or mapped from a config file),
 *   2. a `HYPERION__…` override (it replaces the config file's value before mapping),
 *   3. an `OTEL_*` variable (this module),
 *   4. the default.
 *
 * An empty variable counts as unset (as the OpenTelemetry specification says). A variable with a
 * bad value throws one `ConfigError` whose issues name each bad variable (header values, which may
 * be credentials, are never shown).
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { type BoundedFileError, readBoundedFile } from '../../core/bounded-file.js';
import type { AttributeValue } from '../../core/contracts.js';
import { ConfigError, type ConfigIssue } from '../../core/errors.js';
import { MAX_COUNT, MAX_TIMER_MS } from '../../core/options.js';
import { type ExporterName, type PropagatorName, urlProblem } from './names.js';
import { caProblem, type ExportTlsOptions } from './tls.js';

/** Most bytes read from a PEM file named by an OTEL_* variable (hundreds of certificates). */
const PEM_FILE_LIMIT = 1024 * 1024;

interface BatchFields {
  maxQueueSize?: number | undefined;
  maxExportBatchSize?: number | undefined;
  scheduledDelayMillis?: number | undefined;
  exportTimeoutMillis?: number | undefined;
}

/** Span limits of the SDK's provider (`SpanLimits`, the same fields on both lines). */
export interface SpanLimitFields {
  attributeCountLimit?: number | undefined;
  attributeValueLengthLimit?: number | undefined;
  eventCountLimit?: number | undefined;
  linkCountLimit?: number | undefined;
  attributePerEventCountLimit?: number | undefined;
  attributePerLinkCountLimit?: number | undefined;
}

/**
 * Span limit variables, each field with the variables read for it, first set one wins: the
 * specification's names, then OpenTelemetry JS 2.x's own names for the per-event / per-link
 * counts, then the general attribute limits. The 2.x SDK reads most of them itself; the 3.x one
 * reads none (its provider takes `spanLimits` only), so the same service lost its limits there.
 * The general `OTEL_ATTRIBUTE_COUNT_LIMIT` is the fallback of every attribute collection without
 * a limit of its own (specification, common attribute limits): event and link attributes too —
 * neither SDK line applied it there, so events and links kept 128 attributes whatever it said.
 * `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` is the span's own and stays there.
 */
const SPAN_LIMITS: ReadonlyArray<readonly [keyof SpanLimitFields, readonly string[]]> = [
  ['attributeCountLimit', ['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT']],
  [
    'attributeValueLengthLimit',
    ['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'],
  ],
  ['eventCountLimit', ['OTEL_SPAN_EVENT_COUNT_LIMIT']],
  ['linkCountLimit', ['OTEL_SPAN_LINK_COUNT_LIMIT']],
  [
    'attributePerEventCountLimit',
    [
      'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT',
      'OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT',
      'OTEL_ATTRIBUTE_COUNT_LIMIT',
    ],
  ],
  [
    'attributePerLinkCountLimit',
    [
      'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT',
      'OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT',
      'OTEL_ATTRIBUTE_COUNT_LIMIT',
    ],
  ],
];

/** The tracer options the variables can set (a structural subset of `OtelTracerOptions`). */
export interface EnvSettableOptions {
  enabled?: boolean | undefined;
  serviceName?: string | undefined;
  exporter?: ExporterName | undefined;
  endpoint?: string | undefined;
  sampleRate?: number | undefined;
  attributes?: Readonly<Record<string, AttributeValue>> | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  tls?: ExportTlsOptions | undefined;
  batch?: BatchFields | undefined;
  propagators?: readonly PropagatorName[] | undefined;
  provider?: unknown;
  /** Not an option: only the variables set it (the provider's `spanLimits`). */
  spanLimits?: SpanLimitFields | undefined;
  /** Not an option: only `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` sets it (the otlp exporter's). */
  compression?: OtlpCompression | undefined;
  /**
   * Not an option: only `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` sets it — the otlp exporter's own
   * timeout, which options.ts defaults (10 s) and caps by the batch processor's export timeout.
   */
  otlpTimeoutMillis?: number | undefined;
  /**
   * Not an option: only `OTEL_TRACES_SAMPLER` sets it. `false` for `always_on`, `always_off` and
   * `traceidratio`, whose sampler decides every span by itself, ignoring the parent's decision;
   * `sampleRate` (and the `parentbased_*` samplers) follow a parent's decision.
   */
  parentBased?: boolean | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The OTLP protocols the `otlp` exporter speaks (it is `@opentelemetry/exporter-trace-otlp-proto`). */
export const SUPPORTED_OTLP_PROTOCOLS = ['http/protobuf'] as const;

/** Values of `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` the otlp exporter takes (the specification's `gzip`, and `none`). */
export const OTLP_COMPRESSIONS = ['gzip', 'none'] as const;
export type OtlpCompression = (typeof OTLP_COMPRESSIONS)[number];

/** Values of `OTEL_TRACES_EXPORTER` we understand (the spec's `logging` is the old name of `console`). */
const ENV_EXPORTERS: Readonly<Record<string, ExporterName>> = {
  otlp: 'otlp',
  zipkin: 'zipkin',
  jaeger: 'jaeger',
  console: 'console',
  logging: 'console',
  none: 'none',
};

const ENV_PROPAGATORS: readonly PropagatorName[] = ['tracecontext', 'baggage', 'b3', 'b3multi', 'jaeger'];

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/** Variable, option, minimum, maximum (the same ranges the options are checked against). */
const BSP: ReadonlyArray<readonly [string, keyof BatchFields, number, number]> = [
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize', 1, MAX_COUNT],
  ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize', 1, MAX_COUNT],
  ['OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis', 0, MAX_TIMER_MS],
  ['OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis', 1, MAX_TIMER_MS],
];

/** The queue size the batch processor gets when none is given (options.ts BATCH_DEFAULTS). */
const DEFAULT_MAX_QUEUE_SIZE = 2048;

/**
 * A count variable's value: `undefined` when unset (or empty), `'bad'` when it is not an integer
 * from `min` to `max` (applyOtelEnv reports it).
 */
function envInteger(env: Env, name: string, min: number, max: number): number | 'bad' | undefined {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return /^\d+$/.test(v) && Number.isSafeInteger(n) && n >= min && n <= max ? n : 'bad';
}

/**
 * The batch sizes `OTEL_BSP_MAX_QUEUE_SIZE` and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` give the tracer
 * (`'bad'` for a value applyOtelEnv refuses, naming the variable). The config's batch rule reads
 * the same, so that it checks a file's `max_export_batch_size` against the queue the tracer will
 * have: it used to check against the default 2048 whatever the variable said.
 */
export function otelBatchSizes(env: Env = process.env): {
  maxQueueSize: number | 'bad' | undefined;
  maxExportBatchSize: number | 'bad' | undefined;
} {
  return {
    maxQueueSize: envInteger(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 1, MAX_COUNT),
    maxExportBatchSize: envInteger(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1, MAX_COUNT),
  };
}

/**
 * Headers the otlp and zipkin exporters set for the body they send. One given in `headers` (or
 * `OTEL_EXPORTER_OTLP_HEADERS`) was sent in their place and every export failed: `content-length`
 * answered 400 or hung each request until its timeout, `content-encoding: gzip` described a body
 * that is not compressed, `content-type` replaced zipkin's `application/json`.
 */
const BODY_HEADERS = new Set(['content-length', 'transfer-encoding', 'content-encoding', 'content-type']);

/** Whether the exporter sets the header `name` itself (any case), so that it cannot be configured. */
export function exporterSetsHeader(name: string): boolean {
  return BODY_HEADERS.has(name.toLowerCase());
}

export const EXPORTER_HEADER_PROBLEM =
  'is set by the exporter for the body it sends (content-length, transfer-encoding, content-encoding, content-type): a value given here replaced it and every export failed';

/**
 * Why an export header can never be sent (`node:http`'s own checks: the name an HTTP token, the
 * value free of control characters), or `undefined` when it can. Never shows the value.
 */
export function headerProblem(name: string, value: string): string | undefined {
  try {
    validateHeaderName(name);
  } catch {
    return "header name must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~)";
  }
  if (exporterSetsHeader(name)) return `header ${name.toLowerCase()} ${EXPORTER_HEADER_PROBLEM}`;
  try {
    validateHeaderValue(name, value);
  } catch {
    // node:http refuses control characters and anything beyond Latin-1 (a percent-encoded UTF-8
    // value such as `%E2%82%AC` decodes to one): the message used to name control characters only.
    return 'header value must not contain control characters (CR, LF, NUL…) or characters beyond Latin-1 (U+0100 and above)';
  }
  return undefined;
}

/**
 * A TLS variable's value as an error may show it: a path is shown (its first 200 characters), but
 * PEM text pasted in place of the path (a private key in OTEL_EXPORTER_OTLP_CLIENT_KEY) is not —
 * it used to be echoed in the ConfigError, key included.
 */
function shownPath(path: string): string {
  // No line of a PEM file, and no single file name over 255 bytes (raw base64 key material).
  if (/-----BEGIN|[\r\n]/.test(path) || (!path.includes('/') && path.length > 255))
    return 'a value that is not a file path (PEM text? give the path of the PEM file)';
  return `"${path.slice(0, 200)}"`;
}

/**
 * What to add to "cannot read PATH (ENOENT)" about how the path was read: `~` is not expanded (no
 * shell reads a config file, nor a variable set by a container runtime), and a relative path is
 * read from the working directory (not the config file's folder). A user whose `~/certs/ca.pem`
 * exists got a bare ENOENT, with nothing saying why. Empty for other errors and absolute paths.
 * Shared by the config's file fields (config/sections/tls.ts).
 */
export function pathHint(path: string, code: string): string {
  if (code !== 'ENOENT' && code !== 'ENOTDIR') return '';
  if (/^~([^/\\]*[/\\]|$)/.test(path))
    return '; `~` is not expanded (no shell reads this value): give the full path';
  if (!isAbsolute(path))
    return `; a relative path is read from the working directory (${process.cwd().slice(0, 200)})`;
  return '';
}

/** `tls` fields of the OTLP exporter and the variables naming their PEM files (without the prefix). */
const OTLP_TLS_FILES: ReadonlyArray<readonly ['ca' | 'cert' | 'key', string]> = [
  ['ca', 'CERTIFICATE'],
  ['cert', 'CLIENT_CERTIFICATE'],
  ['key', 'CLIENT_KEY'],
];

/** The variables this module reads (documentation and tests). */
export const OTEL_ENV_VARS: readonly string[] = [
  'OTEL_SDK_DISABLED',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  ...OTLP_TLS_FILES.flatMap(([, suffix]) => [
    `OTEL_EXPORTER_OTLP_${suffix}`,
    `OTEL_EXPORTER_OTLP_TRACES_${suffix}`,
  ]),
  'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
  'OTEL_EXPORTER_JAEGER_ENDPOINT',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_PROPAGATORS',
  ...BSP.map(([name]) => name),
  // Each once: the general attribute count limit is read for three fields.
  ...new Set(SPAN_LIMITS.flatMap(([, names]) => names)),
];

/** `k=v,k2=v2` with percent-encoded keys and values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
function parseList(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return undefined;
    try {
      out[decodeURIComponent(item.slice(0, eq).trim())] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return out;
}

/**
 * `options` with every field the caller left `undefined` filled from the `OTEL_*` variables of
 * `env`. Throws `ConfigError` naming each variable with a bad value. A value the specification
 * says to read with a warning instead (a boolean other than true/false) adds its message to
 * `warnings` when given.
 */
export function applyOtelEnv<T extends EnvSettableOptions>(
  options: T,
  env: Env = process.env,
  warnings?: string[],
): T {
  const issues: ConfigIssue[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const bad = (name: string, expected: string, message: string) =>
    issues.push({ path: name, expected, received: 'string', message });
  const out: T = { ...options };
  const done = (): T => {
    if (issues.length > 0)
      throw new ConfigError(
        `invalid OpenTelemetry environment variable(s): ${issues.map((i) => i.path).join(', ')}`,
        issues,
      );
    return out;
  };

  // A boolean variable is true only for a case-insensitive "true"; any other value is false, with
  // a warning, never a failure (OpenTelemetry SDK environment variable specification). `1` or
  // `yes` used to be a ConfigError: the service did not start.
  const disabled = get('OTEL_SDK_DISABLED');
  if (disabled !== undefined) {
    const d = disabled.toLowerCase();
    if (d === 'true') {
      if (out.enabled === undefined) out.enabled = false;
    } else if (d !== 'false')
      warnings?.push(
        `tracing: OTEL_SDK_DISABLED="${disabled.slice(0, 40)}" is not true or false: read as false (tracing stays enabled), as the OpenTelemetry specification says; only "true" disables it`,
      );
  }

  const propagators = get('OTEL_PROPAGATORS');
  if (propagators !== undefined) {
    const names = propagators
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    const unknown = names.filter((n) => n !== 'none' && !ENV_PROPAGATORS.includes(n as PropagatorName));
    if (unknown.length > 0)
      bad(
        'OTEL_PROPAGATORS',
        `${ENV_PROPAGATORS.join(' | ')} | none`,
        `unknown propagator(s): ${unknown.map((u) => `"${u.slice(0, 40)}"`).join(', ')}`,
      );
    else if (out.propagators === undefined)
      out.propagators = names.includes('none') ? [] : (names as PropagatorName[]);
  }

  // A provider passed in was built and configured by the application's own SDK (NodeSDK reads
  // these very variables): its exporter, OTLP transport, batch processor, sampler, resource and
  // limits are not ours, as the options for them are ignored then. The variables for them are not
  // read either: they used to be checked against what our exporter supports, so a service whose
  // NodeSDK exports over gRPC (OTEL_EXPORTER_OTLP_PROTOCOL=grpc), to two exporters
  // (OTEL_TRACES_EXPORTER=otlp,console) or with a sampler we lack could not create the tracer.
  if (options.provider !== undefined) return done();

  // Resource: OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES; attributes
  // given in code win over both (the lists are merged key by key).
  const resource = get('OTEL_RESOURCE_ATTRIBUTES');
  let envAttributes: Record<string, string> = {};
  if (resource !== undefined) {
    const parsed = parseList(resource);
    if (!parsed)
      bad(
        'OTEL_RESOURCE_ATTRIBUTES',
        'key=value,…',
        'must be a comma-separated list of key=value (percent-encoded)',
      );
    else envAttributes = parsed;
  }
  const { 'service.name': rawServiceName, ...restAttributes } = envAttributes;
  // A blank service.name is the variable's fault: it used to reach the options check as a bad
  // `serviceName`, an option the user never wrote.
  let envServiceName: string | undefined = rawServiceName;
  if (rawServiceName !== undefined && rawServiceName.trim() === '') {
    bad('OTEL_RESOURCE_ATTRIBUTES', 'service.name=<non-empty>', 'service.name must not be empty');
    envServiceName = undefined;
  }
  // So is a blank service.instance.id or service.version (`service.instance.id=${POD_NAME}` with the
  // variable unset): an empty instance id was sent as it was, shared by every process of the
  // service, which the generated one exists to prevent; an empty version replaced the known one.
  for (const key of ['service.instance.id', 'service.version'] as const) {
    const v = restAttributes[key];
    if (v !== undefined && v.trim() === '') {
      bad('OTEL_RESOURCE_ATTRIBUTES', `${key}=<non-empty>`, `${key} must not be empty`);
      delete restAttributes[key];
    }
  }
  if (Object.keys(restAttributes).length > 0)
    out.attributes = {
      ...restAttributes,
      ...(options.attributes as Record<string, AttributeValue> | undefined),
    };
  // `service.name` among the attributes given in code is an option given in code: it wins over
  // both variables (it used to lose to them, and to the default when none was set — options.ts).
  const codeName: unknown = options.attributes?.['service.name'];
  if (out.serviceName === undefined && !(typeof codeName === 'string' && codeName.trim() !== ''))
    out.serviceName = get('OTEL_SERVICE_NAME') ?? envServiceName;

  // Checked also when an option overrides it (as every variable here: the documented rule; the
  // exporter, endpoint and propagator variables used to be skipped then).
  const exporterVar = get('OTEL_TRACES_EXPORTER');
  if (exporterVar !== undefined) {
    const names = exporterVar.split(',').map((s) => s.trim().toLowerCase());
    const known = Object.keys(ENV_EXPORTERS).join(' | ');
    if (names.length !== 1)
      bad('OTEL_TRACES_EXPORTER', known, 'one exporter only (Hyperion exports to one destination)');
    else if (!(names[0]! in ENV_EXPORTERS))
      bad('OTEL_TRACES_EXPORTER', known, `unknown exporter "${names[0]!.slice(0, 40)}"`);
    else if (out.exporter === undefined && out.provider === undefined)
      out.exporter = ENV_EXPORTERS[names[0]!];
  }
  const exporter = out.exporter ?? 'otlp';

  // The traces-specific protocol wins: a general `grpc` (for other signals) with traces set to
  // http/protobuf is a valid setup, and used to be refused for the general variable's value.
  // Compared in any case, as the specification reads enum values (and as the sampler, exporter
  // and propagator variables are read here): `HTTP/PROTOBUF` was refused as unsupported.
  {
    const tracesProtocol = get('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL');
    const name =
      tracesProtocol !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    const p = tracesProtocol ?? get(name);
    if (
      p !== undefined &&
      exporter === 'otlp' &&
      !(SUPPORTED_OTLP_PROTOCOLS as readonly string[]).includes(p.toLowerCase())
    )
      bad(
        name,
        SUPPORTED_OTLP_PROTOCOLS.join(' | '),
        `protocol "${p.slice(0, 40)}" is not supported: the otlp exporter sends http/protobuf`,
      );
  }

  // Compression of the otlp export (the traces-specific variable wins), read here and passed to
  // the exporter. The exporter read the variables by itself, in lowercase only and without a word
  // for a value it did not know: `GZIP` or `zstd` sent every export uncompressed, silently.
  delete out.compression;
  if (exporter === 'otlp') {
    const traces = get('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION');
    const name =
      traces !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION' : 'OTEL_EXPORTER_OTLP_COMPRESSION';
    const c = (traces ?? get(name))?.toLowerCase();
    if (c !== undefined && (OTLP_COMPRESSIONS as readonly string[]).includes(c))
      out.compression = c as OtlpCompression;
    else if (c !== undefined)
      bad(
        name,
        OTLP_COMPRESSIONS.join(' | '),
        `compression "${c.slice(0, 40)}" is not supported: the otlp exporter compresses with gzip or not at all (none)`,
      );
  }

  if (exporter === 'otlp') {
    const tracesVar = get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    const baseVar = get('OTEL_EXPORTER_OTLP_ENDPOINT');
    const traces = tracesVar && checkUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesVar, bad);
    const base = baseVar && checkUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseVar, bad);
    // The signal-specific URL is used as is; the base one gets the signal path appended.
    if (out.endpoint === undefined && tracesVar !== undefined) out.endpoint = traces;
    else if (out.endpoint === undefined && base) {
      // Appended to the path (a query string stays after it: it used to get `/v1/traces`).
      const u = new URL(base);
      u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/traces`;
      out.endpoint = u.href;
    }
  } else if (exporter === 'zipkin' || exporter === 'jaeger') {
    // The jaeger exporter's own variable (it reads it only when given no endpoint, and the tracer
    // always gives one, its default): `OTEL_TRACES_EXPORTER=jaeger` with
    // `OTEL_EXPORTER_JAEGER_ENDPOINT` sent every span to localhost:14268 instead.
    const name = exporter === 'zipkin' ? 'OTEL_EXPORTER_ZIPKIN_ENDPOINT' : 'OTEL_EXPORTER_JAEGER_ENDPOINT';
    const z = get(name);
    const url = z && checkUrl(name, z, bad);
    if (out.endpoint === undefined && url) out.endpoint = url;
  }

  if (exporter === 'otlp') {
    let envHeaders: Record<string, string> = {};
    for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
      const h = get(name);
      if (h === undefined) continue;
      const parsed = parseList(h);
      // Header values may be credentials: the message never shows them.
      if (!parsed) bad(name, 'key=value,…', 'must be a comma-separated list of key=value (percent-encoded)');
      else {
        const problems = Object.entries(parsed).flatMap(([k, v]) => headerProblem(k, v) ?? []);
        if (problems.length > 0) bad(name, 'key=value,… of valid HTTP headers', problems[0]!);
        else envHeaders = { ...envHeaders, ...parsed }; // the traces-specific one wins
      }
    }
    if (Object.keys(envHeaders).length > 0) out.headers = { ...envHeaders, ...options.headers };

    // The PEM files of the standard TLS variables (the traces-specific one wins), read once here.
    // The exporter reads them only into its own HTTP agent, which the tracer replaces with one it
    // can cut at close (agent.ts): they were ignored, and a collector with a private CA failed
    // every export ("self-signed certificate in certificate chain"). A field given in `tls` wins.
    const files: Record<string, Buffer> = {};
    for (const [field, suffix] of OTLP_TLS_FILES) {
      const traces = `OTEL_EXPORTER_OTLP_TRACES_${suffix}`;
      const name = get(traces) !== undefined ? traces : `OTEL_EXPORTER_OTLP_${suffix}`;
      const path = get(name);
      if (path === undefined) continue;
      try {
        // Bounded and non-blocking: a named pipe here froze the process (a blocking open waits
        // for a writer), and `/dev/zero` would have been read until memory ran out.
        files[field] = readBoundedFile(resolve(path), PEM_FILE_LIMIT);
        // Named here: the options check would report an empty CA file as `tls.ca`, a field the
        // user never wrote (an empty `ca` is refused, see ./tls.ts).
        if (files[field]!.toString('latin1').trim() === '') {
          delete files[field];
          bad(name, 'path of a readable PEM file', `${shownPath(path)} is empty`);
        } else if (field === 'ca') {
          // Named here too, rather than as `tls.ca` (see caProblem: a DER file trusted nothing).
          const problem = caProblem(files.ca!);
          if (problem) {
            delete files.ca;
            bad(name, 'path of a PEM file of CA certificates', `${shownPath(path)} ${problem}`);
          }
        }
      } catch (err) {
        // readBoundedFile throws only BoundedFileError: an errno code, or why the path is no file.
        const { code, message } = err as BoundedFileError;
        const why =
          code === 'too_large' || code === 'FIFO' || code === 'socket' ? `: ${message}` : ` (${code})`;
        const shown = shownPath(path);
        const hint = shown.startsWith('"') ? pathHint(path, code) : '';
        bad(name, 'path of a readable PEM file', `cannot read ${shown}${why}${hint}`);
      }
    }
    const given = options.tls;
    if (
      Object.keys(files).length > 0 &&
      (given === undefined || (typeof given === 'object' && given !== null && !Array.isArray(given)))
    )
      out.tls = { ...files, ...given };
  }

  // Batch processor (OTEL_BSP_*). The OTLP timeout is the exporter's own, read below.
  const batch: BatchFields = { ...options.batch };
  // Ranges checked here, so that an out-of-range variable is reported under its own name (the
  // options check would name `batch.…`, which the user never wrote).
  const integer = (name: string, min: number, max: number): number | undefined => {
    const n = envInteger(env, name, min, max);
    if (n === 'bad') {
      bad(
        name,
        `integer from ${min} to ${max}`,
        `must be an integer from ${min} to ${max} (milliseconds or a count), got "${get(name)!.slice(0, 40)}"`,
      );
      return undefined;
    }
    return n;
  };
  // A timeout of 0 is no limit (the specification's Timeout type: "indefinite", which it lets an
  // SDK make the longest timer it has). It was refused as out of range: the service did not start.
  const timeout = (name: string): number | undefined => {
    const n = integer(name, 0, MAX_TIMER_MS);
    return n === 0 ? MAX_TIMER_MS : n;
  };
  let envBatchSize = false;
  let envQueueSize = false;
  for (const [name, key, min, max] of BSP) {
    const n = name === 'OTEL_BSP_EXPORT_TIMEOUT' ? timeout(name) : integer(name, min, max);
    if (n !== undefined && batch[key] === undefined) {
      batch[key] = n;
      if (key === 'maxExportBatchSize') envBatchSize = true;
      if (key === 'maxQueueSize') envQueueSize = true;
    }
  }
  const queueSize = batch.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE;
  if (envBatchSize && batch.maxExportBatchSize! > queueSize)
    bad(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
      `integer ≤ the queue size (${queueSize})`,
      `must not exceed the queue size (OTEL_BSP_MAX_QUEUE_SIZE or batch.maxQueueSize: ${queueSize}), got "${batch.maxExportBatchSize}"`,
    );
  // A batch size given as an option above the queue size the variable gives: the options check
  // named only `batch.maxExportBatchSize … must not exceed maxQueueSize (100)`, a queue size the
  // caller never wrote (and a config file's `max_export_batch_size` reached it so, late).
  else if (
    envQueueSize &&
    typeof batch.maxExportBatchSize === 'number' &&
    batch.maxExportBatchSize > queueSize
  )
    bad(
      'OTEL_BSP_MAX_QUEUE_SIZE',
      `integer ≥ batch.maxExportBatchSize (${batch.maxExportBatchSize})`,
      `is ${queueSize}, below the batch size batch.maxExportBatchSize (${batch.maxExportBatchSize}) given in options: raise the variable, or lower the batch size`,
    );
  // The otlp exporter's own timeout (a request with its retries), as in the SDK: it no longer
  // stands in for the processor's export timeout when OTEL_BSP_EXPORT_TIMEOUT is unset (options.ts).
  delete out.otlpTimeoutMillis;
  const otlpTimeout = timeout('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? timeout('OTEL_EXPORTER_OTLP_TIMEOUT');
  if (otlpTimeout !== undefined && exporter === 'otlp') out.otlpTimeoutMillis = otlpTimeout;
  if (Object.keys(batch).length > 0) out.batch = batch;

  // Span limits: integers ≥ 0 (0 keeps none); the first variable set for a field wins.
  const spanLimits: SpanLimitFields = {};
  // Each variable read (and reported) once: a bad OTEL_ATTRIBUTE_COUNT_LIMIT, the fallback of
  // three fields, was listed three times in the error.
  const limits = new Map<string, number | undefined>();
  const limit = (name: string): number | undefined => {
    if (!limits.has(name)) limits.set(name, integer(name, 0, MAX_TIMER_MS));
    return limits.get(name);
  };
  for (const [key, names] of SPAN_LIMITS)
    for (const name of names) {
      const n = limit(name);
      if (n === undefined || spanLimits[key] !== undefined) continue;
      spanLimits[key] = n;
      // A value length limit of 0 means empty values in the specification, but both SDK lines
      // ignore a length limit ≤ 0 (no truncation): full values went out without a word — to a
      // user who set 0 to keep payloads out of the traces. Said, as OTEL_SDK_DISABLED's oddities are.
      if (key === 'attributeValueLengthLimit' && n === 0)
        warnings?.push(
          `tracing: ${name}=0 is read as no length limit (OpenTelemetry JS ignores a length limit of 0): attribute values are sent whole; set 1 or more to truncate them`,
        );
    }
  if (Object.keys(spanLimits).length > 0) out.spanLimits = spanLimits;
  else delete out.spanLimits;

  // always_on / always_off / traceidratio are the plain samplers (every span decided by itself,
  // whatever its parent decided); the parentbased_* ones follow a parent's decision. Both used to
  // give the parent-based sampler.
  const sampler = get('OTEL_TRACES_SAMPLER')?.toLowerCase();
  const arg = get('OTEL_TRACES_SAMPLER_ARG');
  delete out.parentBased;
  // The ARG is checked wherever a ratio sampler would read it (unset sampler included), also when
  // `sampleRate` overrides it (it used to pass then, and without the sampler with a laxer check).
  let ratio: number | undefined = 1;
  if (arg !== undefined) {
    const r = Number(arg);
    ratio = r >= 0 && r <= 1 && /^[\d.eE+-]+$/.test(arg) ? r : undefined;
    if (ratio === undefined && (sampler === undefined || sampler.endsWith('traceidratio')))
      bad(
        'OTEL_TRACES_SAMPLER_ARG',
        'number between 0 and 1',
        `must be a ratio between 0 and 1, got "${arg.slice(0, 40)}"`,
      );
  }
  if (sampler !== undefined && !(SAMPLERS as readonly string[]).includes(sampler))
    bad('OTEL_TRACES_SAMPLER', SAMPLERS.join(' | '), `unknown sampler "${sampler.slice(0, 40)}"`);
  else if (sampler !== undefined && out.sampleRate === undefined) {
    const rate = sampler.endsWith('always_on') ? 1 : sampler.endsWith('always_off') ? 0 : ratio;
    if (rate !== undefined) {
      out.sampleRate = rate;
      if (!sampler.startsWith('parentbased_')) out.parentBased = false;
    }
  }

  return done();
}

function checkUrl(
  name: string,
  value: string,
  bad: (name: string, expected: string, message: string) => void,
): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol === 'http:' || u.protocol === 'https:') {
      const problem = urlProblem(value, u);
      if (!problem) return u.href;
      bad(name, 'http(s) URL without control characters, with a port from 1 to 65535', problem);
      return undefined;
    }
  } catch {}
  bad(name, 'http(s) URL', 'must be an http(s) URL');
  return undefined;
}
