/**
 * The batching span processor of the network exporters. Same batching as the SDK's
 * `BatchSpanProcessor` (bounded queue, batches of `maxExportBatchSize`, an export every
 * `scheduledDelayMillis` or as soon as a batch is full, one export at a time, each bounded by
 * `exportTimeoutMillis`), plus what the SDK one lacks:
 *
 * - every lost span is counted by reason (`queue_full`, `export_failed`, `shutdown`), through the
 *   public `SpanProcessor` contract only — no private SDK fields;
 * - `close(budgetMs)` delivers what it can within the budget, then gives up on the collector:
 *   the spans still queued or in flight are counted as `shutdown`, `abort()` cuts the exporter's
 *   connections, and it resolves (never rejects) — so `app.close()` fits its disposer budget;
 * - every timer is unref'd: a pending export never keeps the process alive on its own.
 */
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { SpanDropReason } from '../../core/contracts.js';
import { TimeoutError } from '../../core/errors.js';
import type { FinishedSpan, SdkSpanExporter } from './sdk.js';

// The SDK's span-processor contract, as both lines define it (only the public methods).
interface SpanProcessor {
  onStart(span: unknown, parentContext: unknown): void;
  onEnd(span: FinishedSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

type ReadableSpan = FinishedSpan;
type SpanExporter = SdkSpanExporter;

/** Where the processor reports what happened to spans (the tracer's export error reporter). */
export interface SpanAccounting {
  succeeded(spans: number): void;
  failed(spans: number, error: unknown): void;
  dropped(reason: SpanDropReason, spans?: number): void;
}

export interface AccountingBatchOptions {
  exporter: SpanExporter;
  accounting: SpanAccounting;
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  /** Cuts the exporter's connections (called once when close gives up). */
  abort?: () => void;
}

/** What `close()` achieved. */
export interface CloseResult {
  /** Spans given up on when the budget ran out (counted as `shutdown` drops). */
  readonly undelivered: number;
  /** True when the budget ran out before everything was exported or had failed. */
  readonly timedOut: boolean;
}

export interface AccountingBatchProcessor extends SpanProcessor {
  /**
   * Exports what is queued within `budgetMs` (`Infinity`: each export bounded by its own timeout
   * only), then shuts the exporter down. Idempotent; never rejects.
   */
  close(budgetMs: number): Promise<CloseResult>;
  /** Spans queued now (tests). */
  readonly queued: number;
}

interface Flight {
  readonly size: number;
  /** Settles once: `ok`, or the error the export failed with. */
  readonly done: Promise<{ ok: boolean; error?: unknown }>;
  /** Stops waiting for this export; its spans count as `shutdown`. */
  abandon(): void;
}

const SAMPLED = 1;

export function createAccountingBatchProcessor(options: AccountingBatchOptions): AccountingBatchProcessor {
  const {
    exporter,
    accounting,
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis,
    exportTimeoutMillis,
  } = options;
  let queue: ReadableSpan[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flight: Flight | undefined;
  let closing = false;
  let closed: Promise<CloseResult> | undefined;

  const clearTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  const take = (): ReadableSpan[] => {
    if (queue.length <= maxExportBatchSize) {
      const all = queue;
      queue = [];
      return all;
    }
    return queue.splice(0, maxExportBatchSize);
  };

  /** Exports one batch. Successes, failures and timeouts are counted here, once. */
  const exportBatch = (spans: ReadableSpan[]): Flight => {
    let settled = false;
    let settle!: (outcome: { ok: boolean; error?: unknown }) => void;
    const done = new Promise<{ ok: boolean; error?: unknown }>((resolve) => {
      settle = resolve;
    });
    const finish = (ok: boolean, error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      if (ok) {
        accounting.succeeded(spans.length);
        return settle({ ok });
      }
      const err = error ?? new Error('span export failed');
      accounting.failed(spans.length, err);
      settle({ ok, error: err });
    };
    const bound = setTimeout(
      () => finish(false, new TimeoutError(`span export did not finish within ${exportTimeoutMillis} ms`)),
      exportTimeoutMillis,
    );
    bound.unref();
    const send = () => {
      // The exporter's own HTTP calls must not be traced (they would feed this queue).
      context.with(suppressTracing(context.active()), () => {
        try {
          exporter.export(spans, (result) => finish(result.code === ExportResultCode.SUCCESS, result.error));
        } catch (err) {
          finish(false, err);
        }
      });
    };
    // Resources with async attributes (detectors) must settle before export, as in the SDK.
    const pending = spans
      .map(
        (s) =>
          s.resource as { asyncAttributesPending?: boolean; waitForAsyncAttributes?: () => Promise<void> },
      )
      .filter((r) => r.asyncAttributesPending && r.waitForAsyncAttributes);
    if (pending.length === 0) send();
    else Promise.all(pending.map((r) => r.waitForAsyncAttributes!())).then(send, (err) => finish(false, err));
    return {
      size: spans.length,
      done,
      abandon() {
        if (settled) return;
        settled = true;
        clearTimeout(bound);
        accounting.dropped('shutdown', spans.length);
        // With its error: a forceFlush() waiting on this export rejects (it resolved as if
        // delivered); close() itself ignores it.
        settle({ ok: false, error: new TimeoutError(`export of ${spans.length} span(s) given up at close`) });
      },
    };
  };

  const exportNext = () => {
    clearTimer();
    if (flight || queue.length === 0) return;
    const current = exportBatch(take());
    flight = current;
    void current.done.then(() => {
      if (flight === current) flight = undefined;
      if (!closing) schedule();
    });
  };

  const schedule = () => {
    if (flight || closing || queue.length === 0) return;
    if (queue.length >= maxExportBatchSize) return exportNext();
    if (timer) return;
    timer = setTimeout(exportNext, scheduledDelayMillis);
    timer.unref();
  };

  /** Exports everything queued now, one batch after the other; resolves with the errors seen. */
  const drainQueue = async (): Promise<unknown[]> => {
    const errors: unknown[] = [];
    while (flight || queue.length > 0) {
      const current = flight ?? exportBatch(take());
      flight = current;
      const outcome = await current.done;
      if (flight === current) flight = undefined;
      if (!outcome.ok && outcome.error !== undefined) errors.push(outcome.error);
    }
    return errors;
  };

  return {
    onStart() {},
    onEnd(span: ReadableSpan) {
      if ((span.spanContext().traceFlags & SAMPLED) === 0) return;
      if (closing) return accounting.dropped('shutdown', 1);
      if (queue.length >= maxQueueSize) return accounting.dropped('queue_full', 1);
      queue.push(span);
      if (!flight && (queue.length >= maxExportBatchSize || !timer)) schedule();
    },
    async forceFlush() {
      clearTimer();
      const errors = await drainQueue();
      if (!closing) schedule();
      if (errors.length > 0) throw new AggregateError(errors, `${errors.length} span export(s) failed`);
    },
    shutdown() {
      return this.close(Number.POSITIVE_INFINITY).then(() => {});
    },
    close(budgetMs: number) {
      closed ??= (async (): Promise<CloseResult> => {
        closing = true;
        clearTimer();
        const deadline = performance.now() + budgetMs;
        let giveUp: NodeJS.Timeout | undefined;
        const outOfTime = new Promise<'timeout'>((resolve) => {
          if (budgetMs === Number.POSITIVE_INFINITY) return;
          giveUp = setTimeout(() => resolve('timeout'), Math.max(0, deadline - performance.now()));
          giveUp.unref();
        });
        const delivered = drainQueue().then(() => 'done' as const);
        const outcome = await Promise.race([delivered, outOfTime]);
        clearTimeout(giveUp);
        let undelivered = 0;
        if (outcome === 'timeout') {
          undelivered = queue.length + (flight?.size ?? 0);
          if (queue.length > 0) accounting.dropped('shutdown', queue.length);
          queue = [];
          flight?.abandon();
          flight = undefined;
          options.abort?.();
        }
        // The exporter's shutdown waits for its pending requests, which abort() has just failed;
        // bounded anyway, by what is left of the budget (the caller keeps a margin for this).
        const left =
          outcome === 'timeout' ? 100 : Math.min(1000, Math.max(100, deadline - performance.now()));
        let stop: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.resolve()
            .then(() => exporter.shutdown())
            .catch(() => {}),
          new Promise<void>((resolve) => {
            stop = setTimeout(resolve, left);
            stop.unref();
          }),
        ]);
        clearTimeout(stop);
        options.abort?.();
        return { undelivered, timedOut: outcome === 'timeout' };
      })();
      return closed;
    },
    get queued() {
      return queue.length;
    },
  };
}
