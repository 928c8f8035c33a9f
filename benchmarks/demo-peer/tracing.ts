/**
 * Tracing of the raw-SDK twin: an OpenTelemetry SDK 2.x provider wired by hand as its README
 * shows (BasicTracerProvider, parent-based always-on sampler, BatchSpanProcessor, OTLP/HTTP
 * protobuf exporter, W3C trace context + baggage propagators), with the same resource and batch
 * settings the demo gives Hyperion's adapter. The handlers reach spans through the core `Tracer`
 * contract of `ctx`, so a minimal one is written here on the SDK tracer: no attribute filter, no
 * unsampled fast path, no export accounting — what a user would write to plug the SDK in.
 */
import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Attributes as OtelAttributes,
  type Span as OtelSpan,
  ROOT_CONTEXT,
  type Tracer as SdkTracer,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type {
  Attributes,
  SpanKind as CoreSpanKind,
  ExtractedContext,
  HeaderCarrier,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  Tracer,
} from '../../lib/core/contracts.js';

export const KIND: Readonly<Record<CoreSpanKind, SpanKind>> = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
};

const STATUS: Readonly<Record<SpanStatus['code'], SpanStatusCode>> = {
  unset: SpanStatusCode.UNSET,
  ok: SpanStatusCode.OK,
  error: SpanStatusCode.ERROR,
};

/** The W3C propagators, one instance (a global registration would clash with other stacks in the process). */
export const propagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

/** Reads the incoming trace context (and baggage) of a request. */
export const extractContext = (headers: Readonly<HeaderCarrier>): Context =>
  propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);

/** Writes the trace context (and baggage) of `ctx` into outgoing headers. */
export const injectContext = (ctx: Context, headers: Record<string, string>): void =>
  propagator.inject(ctx, headers, defaultTextMapSetter);

/**
 * An SDK span as the core contract's `Span`, with the context that has it active (the parent of
 * its children): made at start, as `trace.setSpan` after `startSpan` in raw-SDK code.
 */
export class PeerSpan implements Span {
  constructor(
    readonly otel: OtelSpan,
    readonly ctx: Context,
  ) {}

  setAttributes(attributes: Attributes): this {
    // The SDK skips undefined values itself.
    this.otel.setAttributes(attributes as OtelAttributes);
    return this;
  }

  addEvent(name: string, attributes?: Attributes): this {
    this.otel.addEvent(name, attributes as OtelAttributes | undefined);
    return this;
  }

  recordError(error: unknown): this {
    const message = error instanceof Error ? error.message : String(error);
    this.otel.recordException(error instanceof Error ? error : message);
    this.otel.setStatus({ code: SpanStatusCode.ERROR, message });
    return this;
  }

  setStatus(status: SpanStatus): this {
    this.otel.setStatus({ code: STATUS[status.code], message: status.message });
    return this;
  }

  updateName(name: string): this {
    this.otel.updateName(name);
    return this;
  }

  end(): void {
    this.otel.end();
  }

  spanContext(): SpanContext {
    const sc = this.otel.spanContext();
    return { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags };
  }

  isRecording(): boolean {
    return this.otel.isRecording();
  }
}

export interface PeerTracing {
  /** The core contract handlers' spans go through (`ctx.tracer`). */
  readonly tracer: Tracer;
  /** The SDK tracer, for the HTTP layer's server and client spans. */
  readonly otel: SdkTracer;
  flush(): Promise<void>;
}

export interface PeerTracingOptions {
  serviceName: string;
  serviceVersion: string;
  /** OTLP/HTTP traces URL. */
  endpoint: string;
  /** Replaces the OTLP exporter (a check that compares the twin's spans with the demo's). */
  exporter?: SpanExporter | undefined;
}

/** A provider per service (each has its own resource), as three programs would each build one. */
export function createPeerTracing(o: PeerTracingOptions): PeerTracing {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': o.serviceName,
      'service.version': o.serviceVersion,
      'service.instance.id': crypto.randomUUID(),
      'deployment.environment.name': 'demo',
      'service.namespace': 'hyperion-demo',
    }),
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [
      // The demo's batch settings (demo/services/index.ts and the adapter's defaults).
      new BatchSpanProcessor(
        o.exporter ?? new OTLPTraceExporter({ url: o.endpoint, timeoutMillis: 30_000 }),
        {
          maxQueueSize: 2048,
          maxExportBatchSize: 512,
          scheduledDelayMillis: 1000,
          exportTimeoutMillis: 30_000,
        },
      ),
    ],
  });
  const otel = provider.getTracer('hyperion');

  const tracer: Tracer = {
    startSpan(name: string, options?: SpanOptions): Span {
      const parent = options?.parent;
      const parentCtx = parent instanceof PeerSpan ? parent.ctx : ROOT_CONTEXT;
      const span = otel.startSpan(
        name,
        {
          kind: KIND[options?.kind ?? 'internal'],
          attributes: options?.attributes as OtelAttributes | undefined,
          startTime: options?.startTime,
        },
        parentCtx,
      );
      return new PeerSpan(span, trace.setSpan(parentCtx, span));
    },
    // The twin's HTTP layer propagates with the SDK's propagators directly (./http.ts); these two
    // only complete the contract for code that would use the core helpers.
    inject(carrier, source) {
      if (source.span instanceof PeerSpan) injectContext(source.span.ctx, carrier);
    },
    extract(carrier): ExtractedContext {
      const ctx = extractContext(carrier);
      const otelSpan = trace.getSpan(ctx);
      return otelSpan ? { parent: new PeerSpan(otelSpan, ctx), baggage: {} } : { baggage: {} };
    },
    close: () => provider.shutdown(),
  };
  return { tracer, otel, flush: () => provider.forceFlush() };
}
