/**
 * Issue 15 items 3 and 4: every dropped span is counted (queue full, export failed, shutdown), in
 * `exportStats()`, as `spans_dropped_total{reason}` when the app has a metrics adapter, and in
 * rate-limited log records; `tracer.flush()` rejects with one `TracingError` carrying the causes.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { closeOnSignals, createApp } from '../../lib/core/app.js';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { HyperionError, TracingError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { freePort, waitFor } from '../harness/process.js';

function captureLogger() {
  const records: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: (message, fields) => records.push({ level: 'debug', message, fields }),
    info: (message, fields) => records.push({ level: 'info', message, fields }),
    warn: (message, fields) => records.push({ level: 'warn', message, fields }),
    error: (message, fields) => records.push({ level: 'error', message, fields }),
    child: () => make(),
  });
  return { logger: make(), records };
}

/** A collector that accepts connections and never answers. */
async function silentCollector(t: TestContext): Promise<string> {
  const held = new Set<Socket>();
  const server = createNetServer((s) => {
    held.add(s);
    s.resume();
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
}

describe('dropped spans are counted, exposed and logged', () => {
  it('queue full and shutdown: exportStats, spans_dropped_total{reason} and one rate-limited record each', async (t) => {
    const endpoint = await silentCollector(t);
    const { logger, records } = captureLogger();
    let now = 0;
    const tracer = createOtelTracer({
      serviceName: 'drops',
      endpoint,
      logger,
      now: () => now,
      batch: { maxQueueSize: 100, maxExportBatchSize: 50, scheduledDelayMillis: 60_000 },
    });
    const metrics = createMetrics({ collectRuntime: false });
    const app = createApp({ tracer, metrics, logger, disposeTimeoutMs: 1000 });

    // 50 spans fill a batch, which goes out (and hangs); 100 more fill the queue; 850 are dropped.
    for (let i = 0; i < 1000; i++) app.tracer.startSpan(`s${i}`).end();
    assert.deepEqual(tracer.exportStats().droppedSpans, { queue_full: 850, export_failed: 0, shutdown: 0 });
    assert.equal(tracer.exportStats().lostSpans, 850);
    // One record for 850 drops within the interval, not one per span.
    const dropRecords = () => records.filter((r) => r.message === 'tracing: spans dropped');
    assert.equal(dropRecords().length, 1);
    assert.equal(dropRecords()[0]!.level, 'warn');
    now += 60_000;
    app.tracer.startSpan('one more').end();
    assert.equal(dropRecords().length, 2);
    assert.equal(
      dropRecords()[1]!.fields?.lostSpans,
      850,
      'the record sums the drops since the previous one',
    );

    const scrape = async () => (await metrics.render()).body;
    let text = await scrape();
    assert.match(text, /^spans_dropped_total\{reason="queue_full"\} 851$/m);
    assert.match(text, /^spans_dropped_total\{reason="export_failed"\} 0$/m);
    assert.match(text, /^spans_dropped_total\{reason="shutdown"\} 0$/m);

    // The tracer closes within a 1 s budget: the batch in flight and the queue are given up on
    // and counted (closed directly here, so the metrics registry is still there to read it).
    const started = performance.now();
    await tracer.close({ timeoutMs: 1000 });
    // The budget is kept by timers: on a loaded machine they fire late (this assert failed at
    // load 8 on 2 cores), so late timers get a margin; a close that waited for the hanging
    // export (the bug this guards against) would wait for the exporter's own timeout (seconds).
    const closeMs = performance.now() - started;
    assert.ok(closeMs < 1500, `close took ${Math.round(closeMs)} ms for a 1000 ms budget`);
    assert.deepEqual(tracer.exportStats().droppedSpans, { queue_full: 851, export_failed: 0, shutdown: 150 });
    assert.equal(tracer.exportStats().lostSpans, 1001);
    const summary = records.filter((r) => r.message === 'tracing: spans not delivered (summary at close)');
    assert.equal(summary.length, 1);
    assert.equal(summary[0]!.fields?.undelivered, 150);
    text = await scrape();
    assert.match(text, /^spans_dropped_total\{reason="shutdown"\} 150$/m);
    assert.match(text, /^spans_exported_total 0$/m);
    await app.close();
  });

  it('export failed: counted as export_failed and in failedExports', async () => {
    const port = await freePort(); // refuses
    const tracer = createOtelTracer({
      endpoint: `http://127.0.0.1:${port}/v1/traces`,
      batch: { maxExportBatchSize: 10, scheduledDelayMillis: 60_000 },
    });
    for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
    await tracer.flush().catch(() => {});
    const stats = tracer.exportStats();
    assert.equal(stats.droppedSpans.export_failed, 25);
    assert.equal(stats.failedExports, 3);
    await tracer.close();
  });
});

describe('spans ended once close() has begun', () => {
  it('are never exported, each one counted as a shutdown drop (README: a handler still running)', async (t) => {
    // An accepting collector: the spans ended before close() are delivered, the others are lost
    // and must be counted. (Mutation pass: not counting them survived every test.)
    const server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const tracer = createOtelTracer({
      serviceName: 'late-spans',
      endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`,
      batch: { scheduledDelayMillis: 60_000 },
    });
    const during = tracer.startSpan('during');
    const after = tracer.startSpan('after');
    for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
    const closing = tracer.close({ timeoutMs: 5000 });
    during.end();
    await closing;
    after.end();
    const stats = tracer.exportStats();
    assert.equal(stats.exportedSpans, 3);
    assert.deepEqual(stats.droppedSpans, { queue_full: 0, export_failed: 0, shutdown: 2 });
    assert.equal(stats.lostSpans, 2);
  });
});

describe('closeOnSignals with a silent collector', () => {
  it('the signal closes the app within its budget without an error (exit code stays 0)', async (t) => {
    const endpoint = await silentCollector(t);
    const tracer = createOtelTracer({ endpoint, batch: { maxExportBatchSize: 10 } });
    const app = createApp({ tracer, disposeTimeoutMs: 800 });
    for (let i = 0; i < 25; i++) app.tracer.startSpan(`s${i}`).end();
    const errors: unknown[] = [];
    const before = process.exitCode;
    closeOnSignals(app, { signals: ['SIGUSR2'], exit: false, onError: (e) => errors.push(e) });
    const started = performance.now();
    process.emit('SIGUSR2', 'SIGUSR2');
    await waitFor(() => app.closed && tracer.exportStats().lostSpans === 25, { timeoutMs: 5000 });
    await app.close();
    // (Overrunning the 800 ms budget would have rejected: errors would not be empty.)
    assert.ok(performance.now() - started < 1000);
    assert.deepEqual(errors, []);
    assert.equal(process.exitCode, before);
    assert.equal(tracer.exportStats().droppedSpans.shutdown, 25);
  });
});

describe('tracer.flush() failures', () => {
  it('rejects with one TracingError (flush_failed) carrying every export error as causes', async () => {
    const port = await freePort();
    const tracer = createOtelTracer({
      endpoint: `http://127.0.0.1:${port}/v1/traces`,
      batch: { maxExportBatchSize: 10, scheduledDelayMillis: 60_000 },
    });
    for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
    const err = await tracer.flush().then(
      () => assert.fail('flush should reject'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TracingError, String(err));
    assert.ok(err instanceof HyperionError);
    assert.equal(err.code, 'flush_failed');
    assert.equal(err.causes.length, 3, 'one cause per failed export request');
    for (const c of err.causes) assert.ok(c instanceof Error);
    assert.equal(err.cause, err.causes[0]);
    assert.match(err.message, /flush failed \(3 error\(s\)\): connect ECONNREFUSED/);
    assert.ok(!Array.isArray(err));
    await tracer.close();
  });

  it('a provider that rejects with a plain array (the SDK) is wrapped the same way', async () => {
    const provider = {
      getTracer: () => createOtelTracer({ exporter: 'memory' }).otelTracer!,
      forceFlush: () => Promise.reject([new Error('a'), new Error('b')]),
    };
    const tracer = createOtelTracer({ provider: provider as never });
    const err = (await tracer.flush().catch((e: unknown) => e)) as TracingError;
    assert.ok(err instanceof TracingError);
    assert.deepEqual(
      err.causes.map((c) => (c as Error).message),
      ['a', 'b'],
    );
  });

  it('resolves when every export succeeded', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    tracer.startSpan('ok').end();
    await tracer.flush();
    await tracer.close();
  });
});
