/**
 * Span exporters by name, and a guard around them that turns export failures into one log record
 * per interval (a collector that is down must not produce a log line per span or per batch).
 */
import { createRequire } from 'node:module';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { ConsoleSpanExporter, InMemorySpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../../core/contracts.js';
import type { ExporterName, ResolvedOptions } from './options.js';

// Network exporters are optional peers with sizeable dependency trees (the Jaeger one pulls in
// thrift): load only the one configured.
const require = createRequire(import.meta.url);

/** Builds the exporter `name` for `endpoint`. `none` has no exporter. */
export function createExporter(
  name: Exclude<ExporterName, 'none'>,
  options: Pick<ResolvedOptions, 'endpoint' | 'headers' | 'batch'> & Partial<Pick<ResolvedOptions, 'tls'>>,
  logger: Logger,
): SpanExporter {
  const url = options.endpoint;
  const headers = { ...options.headers };
  if (options.tls && name !== 'otlp')
    logger.warn(`tracing: the tls option applies to the otlp exporter only; the ${name} exporter ignores it`);
  switch (name) {
    case 'memory':
      return new InMemorySpanExporter();
    case 'console':
      return new ConsoleSpanExporter();
    case 'otlp': {
      const m =
        require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto');
      // The exporter retries inside this budget; keep it within the batch processor's export timeout.
      return new m.OTLPTraceExporter({
        url,
        headers,
        timeoutMillis: options.batch.exportTimeoutMillis,
        // Private CA / mutual TLS for an https endpoint (ignored by http).
        ...(options.tls ? { httpAgentOptions: { keepAlive: true, ...options.tls } } : {}),
      });
    }
    case 'zipkin': {
      const m = require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
      return new m.ZipkinExporter({ url, headers });
    }
    case 'jaeger': {
      const m = require('@opentelemetry/exporter-jaeger') as typeof import('@opentelemetry/exporter-jaeger');
      if (Object.keys(headers).length > 0)
        logger.warn('tracing: the jaeger exporter cannot send custom headers; they are ignored');
      // Credentials travel as basic auth; keep them out of the URL the sender logs.
      const u = new URL(url!);
      const username = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      u.username = '';
      u.password = '';
      const jaeger = new m.JaegerExporter({ endpoint: u.href, ...(username ? { username, password } : {}) });
      // Built against sdk-trace 2.11; the ReadableSpan shape it reads is the same in 2.12.
      const inner = jaeger as unknown as SpanExporter;
      return {
        export: (spans, done) => inner.export(spans, done),
        forceFlush: () => jaeger.forceFlush(),
        // Its own shutdown races the last flush against a timer that is not unref'd, which keeps
        // the process alive for the whole timeout: flush under our own (unref'd) bound instead,
        // then close the HTTP sender's keep-alive agent.
        async shutdown() {
          try {
            await withTimeout(jaeger.forceFlush(), options.batch.exportTimeoutMillis);
          } finally {
            (jaeger as unknown as { _sender?: { close(): void } })._sender?.close();
          }
        },
      };
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`export did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Export counters of a tracer since it was created. */
export interface ExportStats {
  /** Spans the exporter accepted. */
  readonly exportedSpans: number;
  /** Export requests that failed (collector down, rejected, timed out). */
  readonly failedExports: number;
  /** Spans in those failed requests. */
  readonly lostSpans: number;
}

/** Counts export failures and logs them at most once per `intervalMs`. */
export function createExportErrorReporter(options: {
  logger: Logger;
  exporter: string;
  intervalMs: number;
  now: () => number;
}) {
  let lastLog = Number.NEGATIVE_INFINITY;
  let failedExports = 0;
  let lostSpans = 0;
  const totals = { exportedSpans: 0, failedExports: 0, lostSpans: 0 };
  let lastError: unknown;
  const log = () => {
    const err = lastError as { message?: unknown; code?: unknown } | undefined;
    options.logger.error('tracing: span export failed', {
      exporter: options.exporter,
      failedExports,
      lostSpans,
      error: typeof err?.message === 'string' ? err.message : String(err),
      ...(err?.code !== undefined ? { code: err.code } : {}),
    });
    failedExports = 0;
    lostSpans = 0;
    lastError = undefined;
  };
  return {
    succeeded(spans: number) {
      totals.exportedSpans += spans;
    },
    failed(spans: number, error: unknown) {
      totals.failedExports++;
      totals.lostSpans += spans;
      failedExports++;
      lostSpans += spans;
      lastError = error;
      const t = options.now();
      if (t - lastLog >= options.intervalMs) {
        lastLog = t;
        log();
      }
    },
    /** Logs failures not reported yet (called on close, so nothing goes unmentioned). */
    flush() {
      if (failedExports > 0) log();
    },
    /** Counters since creation. */
    stats: (): ExportStats => ({ ...totals }),
  };
}

export type ExportErrorReporter = ReturnType<typeof createExportErrorReporter>;

/** Wraps `inner` so that every failure (callback or throw) reaches `reporter`, never the console. */
export function guardExporter(inner: SpanExporter, reporter: ExportErrorReporter): SpanExporter {
  return {
    export(spans, done) {
      const finish = (result: ExportResult) => {
        if (result.code === ExportResultCode.SUCCESS) reporter.succeeded(spans.length);
        else reporter.failed(spans.length, result.error ?? new Error('export failed'));
        done(result);
      };
      try {
        inner.export(spans, finish);
      } catch (error) {
        finish({ code: ExportResultCode.FAILED, error: error as Error });
      }
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}
