/**
 * close() racing other calls (session-5 audit): a flush() waiting on exports when close() gives up
 * on a collector that never answers, close() twice and concurrently, spans ended after close().
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { createApp } from '../../lib/core/app.js';
import { TracingError } from '../../lib/core/errors.js';
import { withSpan } from '../../lib/core/span.js';
import { createExportErrorReporter } from '../../lib/tracing/otel/exporters.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

describe('close() racing flush() and late spans (collector never answers)', () => {
  const held = new Set<Socket>();
  const silent = createServer((socket) => {
    held.add(socket);
    socket.resume();
    socket.on('error', () => {});
    socket.on('close', () => held.delete(socket));
  });
  const listening = new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });

  it('a flush() whose spans close() gave up on rejects with one TracingError, not success', async () => {
    await listening;
    const port = (silent.address() as { port: number }).port;
    const tracer = createOtelTracer({
      endpoint: `http://127.0.0.1:${port}/v1/traces`,
      batch: { maxExportBatchSize: 10 },
    });
    for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
    const flushed = tracer.flush().then(
      () => 'resolved',
      (err: unknown) => err,
    );
    const closing = tracer.close({ timeoutMs: 300 });
    assert.equal(tracer.close({ timeoutMs: 50 }), closing, 'a second close() is the same promise');
    await closing;
    const outcome = await flushed;
    assert.ok(outcome instanceof TracingError, `flush settled with ${String(outcome)}`);
    assert.equal(outcome.code, 'flush_failed');
    assert.equal(tracer.exportStats().droppedSpans.shutdown, 25);

    // A span ended after close() is counted too, and a later flush() has nothing to do.
    tracer.startSpan('late').end();
    assert.equal(tracer.exportStats().droppedSpans.shutdown, 26);
    await tracer.flush();
  });
});

describe('export error log: losses inside the interval are written when it ends', () => {
  it('a burst after the first record is logged without waiting for the next loss or close', async () => {
    const records: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (message: string, fields?: Record<string, unknown>) => records.push({ message, fields }),
      error: (message: string, fields?: Record<string, unknown>) => records.push({ message, fields }),
      child: () => logger,
    };
    const r = createExportErrorReporter({
      logger,
      exporter: 'otlp',
      intervalMs: 100,
      now: () => performance.now(),
    });
    r.failed(10, new Error('down'));
    assert.equal(records.length, 1, 'the first failure is logged at once');
    // The rest of a short outage: held back by the rate limit; then nothing more is lost.
    for (let i = 0; i < 5; i++) r.failed(20, new Error('still down'));
    r.dropped('queue_full', 7);
    assert.equal(records.length, 1);
    // Before: this record never came (until another loss after the interval, or close).
    await waitFor(() => records.length === 2, { what: 'the held-back record', timeoutMs: 5000 });
    assert.equal(records[1]!.fields?.failedExports, 5);
    assert.equal(records[1]!.fields?.lostSpans, 107);
    r.beginClose();
    r.closed();
    assert.equal(records.length, 2, 'nothing left for the close summary');
  });

  it('a loss logged at once when the interval ended under a busy event loop is not followed by a second record', async () => {
    // Spans dropped in a synchronous burst (queue full) while the held-back record's timer is
    // overdue: the first loss past the interval is logged at once with every loss held back; the
    // overdue timer then wrote a second record a millisecond later (seen at every interval with
    // 1 M spans/s against a dead collector: "at most one record per interval" broken).
    const at: number[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: () => void at.push(performance.now()),
      error: () => void at.push(performance.now()),
      child: () => logger,
    };
    const intervalMs = 100;
    const r = createExportErrorReporter({
      logger,
      exporter: 'otlp',
      intervalMs,
      now: () => performance.now(),
    });
    r.dropped('queue_full', 1);
    r.dropped('queue_full', 1); // held back: its timer is armed
    // The event loop is busy past the end of the interval (the timer cannot fire)…
    const busyUntil = performance.now() + intervalMs * 1.5;
    while (performance.now() < busyUntil) {
      // spin
    }
    r.dropped('queue_full', 1); // …so this one is logged at once, with the held-back one
    r.dropped('queue_full', 1); // a new interval began: held back again
    assert.equal(at.length, 2);
    await new Promise((resolve) => setTimeout(resolve, intervalMs / 2));
    assert.equal(at.length, 2, `a record ${Math.round(at[2]! - at[1]!)} ms after the previous one`);
    await waitFor(() => at.length === 3, { what: 'the next held-back record', timeoutMs: 5000 });
    assert.ok(at[2]! - at[1]! >= intervalMs * 0.9, `records ${Math.round(at[2]! - at[1]!)} ms apart`);
    r.beginClose();
  });
});

describe('export error log: the held-back record and an early timer', () => {
  it('is not written before the interval ended on the clock, however early its timer fires', () => {
    // A Node timer can fire a millisecond or two before performance.now() (or Date.now()) says
    // its delay passed. The timer is captured here and fired by hand at the clock's chosen times.
    let now = 0;
    const at: number[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: () => void at.push(now),
      error: () => void at.push(now),
      child: () => logger,
    };
    const armed: { fn: () => void; ms: number }[] = [];
    const realSetTimeout = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      armed.push({ fn, ms });
      return realSetTimeout(() => {}, 0);
    }) as typeof setTimeout;
    try {
      const r = createExportErrorReporter({ logger, exporter: 'otlp', intervalMs: 100, now: () => now });
      r.dropped('queue_full', 1);
      now = 10;
      r.dropped('queue_full', 1); // held back: its timer is armed for the 90 ms left
      assert.deepEqual(
        armed.map((a) => a.ms),
        [90],
      );
      now = 98; // the timer fires 2 ms early
      armed[0]!.fn();
      assert.deepEqual(at, [0], 'no second record 98 ms after the first (interval 100 ms)');
      now = 100; // the rest of the interval, waited for
      armed.at(-1)!.fn();
      assert.deepEqual(at, [0, 100]);
      // A clock stepped back by more than the timer's delay does not hold the losses back.
      r.dropped('queue_full', 1);
      now = 150;
      r.dropped('queue_full', 1);
      now = 40;
      armed.at(-1)!.fn();
      assert.deepEqual(at, [0, 100, 40]);
      r.beginClose();
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
  });
});

describe('two tracers in active-context mode', () => {
  it('closing one leaves the other nesting under the active span; the manager goes with the last', async () => {
    const a = createOtelTracer({ exporter: 'memory', activeContext: true });
    const b = createOtelTracer({ exporter: 'memory', activeContext: true });
    const appB = createApp({ tracer: b });
    // A span started with no parent inside withSpan (across an await) nests under it.
    const nests = async () => {
      let inner = '';
      await withSpan(appB.ctx, 'outer', async () => {
        await new Promise((r) => setTimeout(r, 5));
        const s = b.startSpan('free');
        inner = s.spanContext().traceId;
        s.end();
      });
      const outer = b.finishedSpans().find((s) => s.name === 'outer')!;
      b.resetFinishedSpans();
      return inner === outer.spanContext().traceId;
    };
    assert.equal(await nests(), true);
    // Before: a's close disabled the global context manager b was using too.
    await a.close();
    assert.equal(await nests(), true, 'b still nests after a closed');
    await appB.close();
    const probe = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
    const seen = context.with(trace.setSpan(ROOT_CONTEXT, probe), () => trace.getSpan(context.active()));
    assert.equal(seen, undefined, 'the last close unregisters the manager');
  });
});
