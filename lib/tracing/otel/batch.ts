/**
 * The batching span processor of the network exporters. Same batching as the SDK's
 * `BatchSpanProcessor` (bounded queue, batches of `maxExportBatchSize`, an export every
 * `scheduledDelayMillis` or as soon as a batch is full, one export at a time, each bounded by
 * `exportTimeoutMillis`; at close, a few at once — see `CLOSE_CONCURRENCY`), plus what the SDK
 * one lacks:
 *
 * - every lost span is counted by reason (`queue_full`, `export_failed`, `shutdown`), through the
 *   public `SpanProcessor` contract only — no private SDK fields;
 * - `close(budgetMs)` delivers what it can within the budget, then gives up on the collector:
 *   the spans still queued or in flight are counted as `shutdown`, `abort()` cuts the exporter's
 *   connections, and it resolves (never rejects) — so `app.close()` fits its disposer budget;
 * - every timer is unref'd: a pending export never keeps the process alive on its own;
 * - an export the collector answered with a retryable status (HTTP 429/502/503/504, see
 *   `observe`) is retried here, as the OTLP exporter would (up to 5 retries, backoff from 1 s ×1.5
 *   up to 5 s with ±20 % jitter, or the collector's `Retry-After`), inside the export's timeout —
 *   on a timer close() cancels, and never past close's budget: a retry that would come later is
 *   not waited for.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SpanDropReason } from '../../core/contracts.js';
import { TimeoutError } from '../../core/errors.js';
import { MAX_TIMER_MS } from '../../core/options.js';
import type { ExportAttempt } from './agent.js';
import { api, core } from './peers.js';
import type { FinishedSpan, SdkSpanExporter } from './sdk.js';

const { context } = api;
const { ExportResultCode, suppressTracing } = core;
/** The enum's type (the value above comes from the loaded package). */
type ExportResultCode = import('@opentelemetry/core').ExportResultCode;

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
  abort?: (() => void) | undefined;
  /**
   * Runs one export call so that a retryable answer of the collector is written into `record`
   * (and not retried by the exporter itself: agent.ts `ExportAgents.attempt`), or so that
   * `record.cut()` can end its requests when the export times out (`RequestTracker.attempt`).
   * Without it, the processor retries nothing and cuts nothing.
   */
  observe?: (<T>(record: ExportAttempt, fn: () => T) => T) | undefined;
  /** Exports close() runs at once (default `CLOSE_CONCURRENCY`; 1 for an exporter whose calls share state). */
  closeConcurrency?: number | undefined;
  /**
   * Removes secrets from collector-written text (a partial success's message) before it is cut
   * to length: a secret cut in two would no longer be found whole afterwards.
   */
  redact?: ((text: string) => string) | undefined;
}

/** Retries of one export after a retryable answer, and their backoff (as otlp-exporter-base's). */
const MAX_RETRIES = 5;
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;

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
  /** How many spans had been taken from the queue before this batch's first (see `taken`). */
  readonly from: number;
  /** Settles once: `ok`, or the error the export failed with. */
  readonly done: Promise<{ ok: boolean; error?: unknown }>;
  /** Stops waiting for this export; its spans count as `shutdown`. */
  abandon(): void;
  /** True once `done` has settled (or is about to: it was decided). */
  readonly settled: boolean;
  /** close() began: fails the export now if its pending retry comes after close's budget. */
  closeBegan(): void;
}

const SAMPLED = 1;

/**
 * Exports `close()` runs at once. One after the other, a collector that is up but slow lost what
 * the budget could not wait for: answering in 3 s, it got 2 of the 4 batches of a full default
 * queue (2,048 spans) within the default 10 s budget, and 1,024 spans were dropped as `shutdown`.
 * The SDK's own processor sends every batch at once on shutdown; a few at a time stays well under
 * the OTLP exporter's concurrency limit (30, beyond which it fails exports at once).
 */
const CLOSE_CONCURRENCY = 4;

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
  /** Spans taken from the queue for export since creation: a span's place in the export order. */
  let taken = 0;
  let timer: NodeJS.Timeout | undefined;
  let flight: Flight | undefined;
  /** The exports close() runs beside `flight` (see `CLOSE_CONCURRENCY`). */
  const closeFlights = new Set<Flight>();
  /**
   * Every export close() started, settled or not (close runs once: bounded by the queue): a
   * flush() overtaken by close() reads the outcome of those holding its spans from here. It looked
   * only at `closeFlights`, which loses an export once it settles or close() gives up on it, so
   * its error named the batch it waited on alone, and it resolved when only the others failed.
   */
  const closeStarted: Flight[] = [];
  let closing = false;
  /** When close() gives up (performance.now() ms); no retry is scheduled past it. */
  let closeDeadline = Number.POSITIVE_INFINITY;
  let closed: Promise<CloseResult> | undefined;

  const clearTimer = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  const take = (): ReadableSpan[] => {
    if (queue.length <= maxExportBatchSize) {
      const all = queue;
      queue = [];
      taken += all.length;
      return all;
    }
    taken += maxExportBatchSize;
    return queue.splice(0, maxExportBatchSize);
  };

  /** Exports one batch. Successes, failures and timeouts are counted here, once. */
  const exportBatch = (spans: ReadableSpan[]): Flight => {
    let settled = false;
    let settle!: (outcome: { ok: boolean; error?: unknown }) => void;
    const done = new Promise<{ ok: boolean; error?: unknown }>((resolve) => {
      settle = resolve;
    });
    let retryTimer: NodeJS.Timeout | undefined;
    let retries = 0;
    /** Times sent again after a stale keep-alive socket (`ExportAttempt.staleSocket`). */
    let staleResends = 0;
    /** When the pending retry runs, and how to fail the export instead of waiting for it. */
    let retryAt = 0;
    let giveUpRetry: (() => void) | undefined;
    const startedAt = performance.now();
    // Called right after take().
    const from = taken - spans.length;
    const finish = (ok: boolean, error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      clearTimeout(retryTimer);
      if (ok) {
        accounting.succeeded(spans.length);
        return settle({ ok });
      }
      const err = error ?? new Error('span export failed');
      accounting.failed(spans.length, err);
      settle({ ok, error: err });
    };
    /** Settles an export the collector took only in part: `lost` spans failed, the rest delivered. */
    const finishPartly = (lost: number, error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      clearTimeout(retryTimer);
      if (lost < spans.length) accounting.succeeded(spans.length - lost);
      accounting.failed(lost, error);
      settle({ ok: false, error });
    };
    /** The current attempt's record: a timed-out export cuts its requests (`ExportAttempt.cut`). */
    let attempt: ExportAttempt | undefined;
    const bound = setTimeout(() => {
      finish(false, new TimeoutError(`span export did not finish within ${exportTimeoutMillis} ms`));
      attempt?.cut?.();
    }, exportTimeoutMillis);
    bound.unref();
    /** When to retry after a retryable answer, ms from now; `undefined`: not any more. */
    const retryDelay = (retryAfterMs: number | undefined): number | undefined => {
      if (retries >= MAX_RETRIES) return undefined;
      const backoff = Math.min(
        INITIAL_BACKOFF_MS * BACKOFF_MULTIPLIER ** retries * (1 + (Math.random() * 2 - 1) * JITTER),
        MAX_BACKOFF_MS,
      );
      const delay = retryAfterMs ?? backoff;
      const now = performance.now();
      // Within the export's own timeout (as the exporter's deadline), and never past close's budget.
      if (now + delay > startedAt + exportTimeoutMillis || now + delay > closeDeadline) return undefined;
      return delay;
    };
    const send = () => {
      const record: ExportAttempt = {};
      attempt = record;
      // The exporter calls back in the context its export ran in: the request tracking of
      // agent.ts (every HTTP request started there is taken for an export request, cut on timeout
      // and at close) and suppressed tracing. The result — the logger's record, the retry timer —
      // is handled in the context send() was called in: a log shipper whose timer started in the
      // `span export failed` record had its requests destroyed by the tracer's close ("span
      // export abandoned") with the zipkin and jaeger exporters.
      const outside = AsyncLocalStorage.snapshot();
      const onResult = (result: { code: ExportResultCode; error?: Error }) => outside(() => handle(result));
      const handle = (result: { code: ExportResultCode; error?: Error }) => {
        if (settled) return;
        if (result.code === ExportResultCode.SUCCESS) {
          // An answer the exporter took for a success though nothing was delivered (agent.ts).
          const undelivered = record.undelivered;
          if (undelivered)
            return finish(false, Object.assign(new Error(undelivered.message), { code: undelivered.status }));
          const rejected = record.rejected;
          if (!rejected) return finish(true);
          // An OTLP partial success: the rejected spans are lost (they used to count as exported).
          const lost = Math.min(rejected.spans, spans.length);
          return finishPartly(
            lost,
            new Error(
              `collector rejected ${lost} of ${spans.length} span(s)` +
                (rejected.message
                  ? `: ${(options.redact?.(rejected.message) ?? rejected.message).slice(0, 200)}`
                  : ''),
            ),
          );
        }
        // The request met a keep-alive connection the collector had just closed, before any
        // answer: sent again at once (the otlp exporter does this itself). Each such failure
        // takes a dead socket out of the pool; bounded all the same.
        if (record.staleSocket && staleResends < MAX_RETRIES) {
          staleResends++;
          return send();
        }
        const retryable = record.retryable;
        // A redirect the otlp exporter failed on: its error says only "Temporary Redirect", ours
        // names where it points (agent.ts), as the zipkin and jaeger exports' errors do.
        if (!retryable && record.undelivered)
          return finish(
            false,
            Object.assign(new Error(record.undelivered.message, { cause: result.error }), {
              code: record.undelivered.status,
            }),
          );
        if (!retryable) return finish(false, result.error);
        const error = Object.assign(
          new Error(
            `collector answered HTTP ${retryable.status} (retry later)` +
              (retryable.retryAfterMs !== undefined
                ? ` with Retry-After ${Math.round(retryable.retryAfterMs)} ms`
                : '') +
              `; not delivered after ${retries + 1} attempt(s)`,
            { cause: result.error },
          ),
          { code: retryable.status },
        );
        const delay = retryDelay(retryable.retryAfterMs);
        if (delay === undefined) return finish(false, error);
        retries++;
        retryAt = performance.now() + delay;
        giveUpRetry = () => finish(false, error);
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          send();
        }, delay);
        retryTimer.unref();
      };
      // An answer cut short (agent.ts): what the exporter would have reported at its end — a
      // status the collector took the request with (2xx, as the otlp exporter reads such an
      // answer) is a success, any other a failure.
      record.cutShort = (status, error) =>
        onResult(
          status >= 200 && status < 300
            ? { code: ExportResultCode.SUCCESS }
            : { code: ExportResultCode.FAILED, error },
        );
      const run = () => exporter.export(spans, onResult);
      // The exporter's own HTTP calls must not be traced (they would feed this queue).
      context.with(suppressTracing(context.active()), () => {
        try {
          if (options.observe) options.observe(record, run);
          else run();
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
      from,
      done,
      get settled() {
        return settled;
      },
      closeBegan() {
        // A retry planned (before close began) for after close's budget is not waited for.
        if (retryTimer !== undefined && retryAt > closeDeadline) giveUpRetry?.();
      },
      abandon() {
        if (settled) return;
        settled = true;
        clearTimeout(bound);
        clearTimeout(retryTimer);
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

  /**
   * flush(): exports the spans queued now and the batch in flight, one batch after the other;
   * resolves with the errors seen. A flush() waited for every span ended while it ran: under
   * steady traffic faster than the collector, it never resolved.
   */
  const drainQueue = async (): Promise<unknown[]> => {
    const errors: unknown[] = [];
    const target = taken + queue.length;
    // Exports settled before the call hold none of its spans.
    const seen = new Set<Flight>(closeStarted.filter((f) => f.settled));
    for (;;) {
      // A batch holding only spans ended after the call is not waited for.
      if (flight && flight.from >= target) break;
      // A batch close() exported (or is exporting) that holds spans of this call.
      let beside: Flight | undefined;
      if (!flight) for (const f of closeStarted) if (!seen.has(f) && f.from < target) beside ??= f;
      if (!flight && !beside && (taken >= target || queue.length === 0)) break;
      const current = flight ?? beside ?? exportBatch(take());
      if (!beside) flight = current;
      if (seen.has(current)) break;
      seen.add(current);
      const outcome = await current.done;
      if (flight === current) flight = undefined;
      if (!outcome.ok && outcome.error !== undefined) errors.push(outcome.error);
    }
    return errors;
  };

  /**
   * close(): the batch in flight and everything queued, `CLOSE_CONCURRENCY` exports at a time
   * (no span is added once closing). One lane carries `flight` (a flush() running meanwhile waits
   * on it), the others `closeFlights`.
   */
  const drainAtClose = async (): Promise<void> => {
    const lane = async (first: boolean) => {
      for (;;) {
        // Past the budget, no export is started (serializing a batch is synchronous work, ~10 ms
        // or more for a cold 512-span one, which a small budget cannot pay for several lanes):
        // the lane waits for close() to give up on what is left.
        if (performance.now() >= closeDeadline) return new Promise<never>(() => {});
        if (first) {
          if (!flight && queue.length === 0) return;
          const current = flight ?? exportBatch(take());
          closeStarted.push(current);
          flight = current;
          await current.done;
          if (flight === current) flight = undefined;
        } else {
          if (queue.length === 0) return;
          const current = exportBatch(take());
          closeStarted.push(current);
          closeFlights.add(current);
          await current.done;
          closeFlights.delete(current);
        }
      }
    };
    const lanes = [lane(true)];
    for (let i = 1; i < (options.closeConcurrency ?? CLOSE_CONCURRENCY); i++) lanes.push(lane(false));
    await Promise.all(lanes);
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
        closeDeadline = deadline;
        flight?.closeBegan();
        let giveUp: NodeJS.Timeout | undefined;
        const outOfTime = new Promise<'timeout'>((resolve) => {
          if (budgetMs === Number.POSITIVE_INFINITY) return;
          // Capped at what a Node timer holds: a longer one fires after 1 ms (a budget of
          // Number.MAX_SAFE_INTEGER gave up at once and dropped every queued span).
          giveUp = setTimeout(
            () => resolve('timeout'),
            Math.min(MAX_TIMER_MS, Math.max(0, deadline - performance.now())),
          );
          giveUp.unref();
        });
        const delivered = drainAtClose().then(() => 'done' as const);
        const outcome = await Promise.race([delivered, outOfTime]);
        clearTimeout(giveUp);
        let undelivered = 0;
        if (outcome === 'timeout') {
          const exporting = [...(flight ? [flight] : []), ...closeFlights].filter((f) => !f.settled);
          undelivered = queue.length + exporting.reduce((n, f) => n + f.size, 0);
          if (queue.length > 0) accounting.dropped('shutdown', queue.length);
          queue = [];
          for (const f of exporting) f.abandon();
          closeFlights.clear();
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
