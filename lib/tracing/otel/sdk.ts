/**
 * The OpenTelemetry tracing SDK the application installed, behind one shape for both supported
 * lines: 3.x (`@opentelemetry/sdk-trace` 3.1, API 1.10, Node ≥ 22.15) and 2.x
 * (`@opentelemetry/sdk-trace-base` 2.12, API 1.9, Node ≥ 20.19). The 3.x one is preferred when
 * both are there. Nothing here names a type of either SDK package: the declarations we ship must
 * typecheck in an application that has only one of them.
 *
 * What differs between the lines, and where it is handled:
 * - package and class names: 3.x `@opentelemetry/sdk-trace` `TracerProvider`, processors built
 *   from one options object (`{ exporter, ...batch }`); 2.x `sdk-trace-base` `BasicTracerProvider`,
 *   processors take `(exporter, config)` (here);
 * - module format: the 3.x packages ship CommonJS and ES builds; loading the ES one (what our own
 *   static imports get) keeps one `@opentelemetry/api` instance (`loadPeer`);
 * - start attributes: 3.x keeps "any value" attributes (maps, mixed arrays; API 1.10), which the
 *   core contract does not carry: the tracer filters them as `setAttributes` does (tracer.ts);
 * - the Jaeger thrift exporter and the Jaeger propagator have no 3.x release: `TracingError`
 *   pointing to OTLP / W3C trace context (exporters.ts, propagation.ts);
 * - private fields read for the unsampled fast path: the same names on both, checked at startup
 *   (sdk-internals.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type {
  Attributes,
  HrTime,
  Link,
  MeterProvider,
  SpanContext,
  SpanKind,
  SpanStatus,
  TracerProvider,
} from '@opentelemetry/api';
import type { ExportResult, InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { TracingError } from '../../core/errors.js';
import { accessDenied, moduleUrl, resolveFrom, unreadablePeerMessage } from '../../core/peer.js';
import type { BatchOptions } from './options.js';

/** An event recorded on a finished span. */
export interface FinishedSpanEvent {
  readonly time: HrTime;
  readonly name: string;
  readonly attributes?: Attributes | undefined;
  readonly droppedAttributesCount?: number | undefined;
}

/** A span as the SDK hands it to exporters (the SDK's `ReadableSpan`, the same on both lines). */
export interface FinishedSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly spanContext: () => SpanContext;
  readonly parentSpanContext?: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly events: FinishedSpanEvent[];
  readonly duration: HrTime;
  readonly ended: boolean;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

/** The SDK's `SpanExporter` contract. */
export interface SdkSpanExporter {
  export(spans: FinishedSpan[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** A span processor of the SDK (opaque here: only handed back to the provider). */
export type SdkSpanProcessor = object;

/** A sampler of the SDK (opaque here). */
export type SdkSampler = object;

/** The SDK's id generator. */
export interface SdkIdGenerator {
  generateTraceId(): string;
  generateSpanId(): string;
}

/** The SDK's tracer provider. */
export interface SdkTracerProvider extends TracerProvider {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The in-memory exporter (the `memory` exporter name). */
export interface SdkMemoryExporter extends SdkSpanExporter {
  getFinishedSpans(): FinishedSpan[];
  reset(): void;
}

// biome-ignore lint/suspicious/noExplicitAny: SDK constructors are typed at their use sites.
type Ctor<T = object> = new (...args: any[]) => T;

/** The parts of the SDK the adapter builds with; `line` says which package they came from. */
export interface Sdk {
  readonly line: 2 | 3;
  /** `@opentelemetry/sdk-trace` (3.x) or `@opentelemetry/sdk-trace-base` (2.x). */
  readonly packageName: string;
  readonly version: string;
  readonly AlwaysOnSampler: Ctor<SdkSampler>;
  readonly AlwaysOffSampler: Ctor<SdkSampler>;
  readonly ParentBasedSampler: Ctor<SdkSampler>;
  readonly TraceIdRatioBasedSampler: Ctor<SdkSampler>;
  readonly RandomIdGenerator: Ctor<SdkIdGenerator>;
  readonly InMemorySpanExporter: Ctor<SdkMemoryExporter>;
  readonly ConsoleSpanExporter: Ctor<SdkSpanExporter>;
  provider(options: {
    resource?: Resource | undefined;
    sampler: SdkSampler;
    idGenerator?: SdkIdGenerator | undefined;
    spanProcessors: SdkSpanProcessor[];
    meterProvider?: MeterProvider | undefined;
    /** The SDK's `SpanLimits` (same fields on both lines; unset fields keep the SDK default). */
    spanLimits?: Readonly<Record<string, number>> | undefined;
  }): SdkTracerProvider;
  batchProcessor(exporter: SdkSpanExporter, batch: Required<BatchOptions>): SdkSpanProcessor;
  simpleProcessor(exporter: SdkSpanExporter): SdkSpanProcessor;
}

// In a CommonJS bundle `import.meta` is empty: see core/peer.ts.
const require = createRequire(moduleUrl(import.meta));

/** Where `name` resolves from here, or `undefined` when it is not installed. */
function resolvePeer(name: string): string | undefined {
  try {
    // ESM resolution: for the dual CJS/ESM 3.x packages this is the ESM build, the one our own
    // static imports get, so every package shares one `@opentelemetry/api` instance.
    return resolveFrom(import.meta, name);
  } catch (err) {
    // Installed or not, we may not read it: say so rather than "not installed" (core/peer.ts).
    if (accessDenied(err))
      throw new TracingError('otel_peer_missing', unreadablePeerMessage(name, 'hyperion/tracing/otel', err), {
        cause: err,
      });
    return undefined;
  }
}

/** Whether the package `name` is installed (resolvable from here). */
export function peerInstalled(name: string): boolean {
  return resolvePeer(name) !== undefined;
}

/**
 * Loads an optional OpenTelemetry peer synchronously, as the same module instance a static
 * `import` would get (require() of an ES module; Node ≥ 20.19). Throws `TracingError`
 * (`otel_peer_missing`) naming the package when it is not installed.
 */
export function loadPeer<T>(name: string, why: string): T {
  const path = resolvePeer(name);
  if (path === undefined)
    throw new TracingError(
      'otel_peer_missing',
      // One clear message: the package to install and the subpath (and feature) that needs it.
      `hyperion/tracing/otel (${why}) needs the optional peer dependency ${name}, which is not installed: npm install ${name}`,
    );
  return require(path) as T;
}

/** Version of the installed package `name` (as loaded from here), or `undefined` when it is not installed. */
export function peerVersion(name: string): string | undefined {
  const path = resolvePeer(name);
  return path === undefined ? undefined : versionOf(path, name);
}

/** Version of the installed package whose entry file is `entry`. */
function versionOf(entry: string, name: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === name) return pkg.version ?? '0.0.0';
    } catch {
      // no package.json at this level
    }
  }
  return '0.0.0';
}

const major = (version: string) => Number(version.split('.')[0]);

/** Whether Node `version` (`process.versions.node`) is at least `wantMajor.wantMinor`. */
export function nodeAtLeast(version: string, wantMajor: number, wantMinor: number): boolean {
  const [maj = 0, min = 0] = version.split('.').map(Number);
  return maj > wantMajor || (maj === wantMajor && min >= wantMinor);
}

/* biome-ignore-start lint/suspicious/noExplicitAny: the SDK modules are loaded untyped on purpose:
   their types differ between the lines and must not reach our declarations. */
function line3(path: string, version: string): Sdk {
  const m = require(path) as any;
  return {
    line: 3,
    packageName: '@opentelemetry/sdk-trace',
    version,
    AlwaysOnSampler: m.AlwaysOnSampler,
    AlwaysOffSampler: m.AlwaysOffSampler,
    ParentBasedSampler: m.ParentBasedSampler,
    TraceIdRatioBasedSampler: m.TraceIdRatioBasedSampler,
    RandomIdGenerator: m.RandomIdGenerator,
    InMemorySpanExporter: m.InMemorySpanExporter,
    ConsoleSpanExporter: m.ConsoleSpanExporter,
    // 3.x renamed BasicTracerProvider to TracerProvider and takes processor options as one object.
    provider: (options) => new m.TracerProvider(options),
    batchProcessor: (exporter, batch) => new m.BatchSpanProcessor({ exporter, ...batch }),
    simpleProcessor: (exporter) => new m.SimpleSpanProcessor({ exporter }),
  };
}

function line2(path: string, version: string): Sdk {
  const m = require(path) as any;
  return {
    line: 2,
    packageName: '@opentelemetry/sdk-trace-base',
    version,
    AlwaysOnSampler: m.AlwaysOnSampler,
    AlwaysOffSampler: m.AlwaysOffSampler,
    ParentBasedSampler: m.ParentBasedSampler,
    TraceIdRatioBasedSampler: m.TraceIdRatioBasedSampler,
    RandomIdGenerator: m.RandomIdGenerator,
    InMemorySpanExporter: m.InMemorySpanExporter,
    ConsoleSpanExporter: m.ConsoleSpanExporter,
    provider: (options) => new m.BasicTracerProvider(options),
    batchProcessor: (exporter, batch) => new m.BatchSpanProcessor(exporter, batch),
    simpleProcessor: (exporter) => new m.SimpleSpanProcessor(exporter),
  };
}
/* biome-ignore-end lint/suspicious/noExplicitAny: see above */

let loaded: Sdk | undefined;

/**
 * The installed SDK (found once per process): `@opentelemetry/sdk-trace` 3.x when present, else
 * `@opentelemetry/sdk-trace-base` 2.x. A 2.x install also carries `sdk-trace` 2.x (a dependency
 * of `sdk-trace-base`); that one is not used. Throws `TracingError` (`otel_sdk_missing`) when
 * neither line is installed.
 */
export function loadSdk(): Sdk {
  if (loaded) return loaded;
  const v3 = resolvePeer('@opentelemetry/sdk-trace');
  const v3Version = v3 ? versionOf(v3, '@opentelemetry/sdk-trace') : undefined;
  if (v3 && v3Version && major(v3Version) === 3) {
    // The 3.x packages require Node ≥ 22.15 (their `engines`); on an older Node they load and
    // work in our tests, so an application that installed them there ran on a combination
    // OpenTelemetry does not support with no more than npm's easily missed EBADENGINE warning.
    // Said once, with the ways out; not refused (a working tracer is not taken away).
    if (!nodeAtLeast(process.versions.node, 22, 15))
      process.emitWarning(
        `tracing: @opentelemetry/sdk-trace ${v3Version} (the OpenTelemetry JS 3.x line) requires Node ≥ 22.15, ` +
          `this is Node ${process.versions.node}: run Node ≥ 22.15, or install the 2.x line instead ` +
          '(@opentelemetry/sdk-trace-base@2 with @opentelemetry/api@1.9)',
        { type: 'HyperionTracingWarning', code: 'HYPERION_OTEL_NODE_VERSION' },
      );
    loaded = line3(v3, v3Version);
    return loaded;
  }
  const v2 = resolvePeer('@opentelemetry/sdk-trace-base');
  const v2Version = v2 ? versionOf(v2, '@opentelemetry/sdk-trace-base') : undefined;
  if (v2 && v2Version && major(v2Version) === 2) {
    loaded = line2(v2, v2Version);
    return loaded;
  }
  throw new TracingError(
    'otel_sdk_missing',
    'tracing: no supported OpenTelemetry SDK is installed: install @opentelemetry/sdk-trace@3 with ' +
      '@opentelemetry/api@1.10 (Node ≥ 22.15), or @opentelemetry/sdk-trace-base@2 with @opentelemetry/api@1.9' +
      (v3Version || v2Version
        ? ` (found ${[v3Version && `sdk-trace ${v3Version}`, v2Version && `sdk-trace-base ${v2Version}`].filter(Boolean).join(', ')})`
        : ''),
  );
}
