/**
 * A collector that is up but slow loses nothing at close when the budget allows it: close() used
 * to export the queued batches one after the other, so a collector answering in 3 s got 2 of the
 * 4 batches of a full default queue (2,048 spans) within the default 10 s budget, and 1,024 spans
 * were dropped as `shutdown`. It now exports a few batches at once, as the SDK's processor does
 * on shutdown.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createAccountingBatchProcessor } from '../../lib/tracing/otel/batch.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import type { FinishedSpan, SdkSpanExporter } from '../../lib/tracing/otel/sdk.js';

/** A collector answering every request `delayMs` after its body arrived (status `status`). */
async function slowCollector(delayMs: number, status: number) {
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.writeHead(status, { 'content-type': 'application/x-protobuf' }).end();
      }, delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    get requests() {
      return requests;
    },
    stop() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('close() with a collector that is up but slow', () => {
  for (const [exporter, path, status] of [
    ['otlp', '/v1/traces', 200],
    ['zipkin', '/api/v2/spans', 202],
  ] as const)
    it(`${exporter}: a full default queue (2,048 spans), answers in 3 s, default budget: every span delivered`, async (t) => {
      const c = await slowCollector(3000, status);
      t.after(() => c.stop());
      const tracer = createOtelTracer({
        serviceName: 'slow-collector',
        exporter,
        endpoint: `http://127.0.0.1:${c.port}${path}`,
      });
      const app = createApp({ tracer });
      for (let i = 0; i < 2048; i++) app.tracer.startSpan(`s${i}`).end();
      await app.close();
      const stats = tracer.exportStats();
      assert.equal(stats.exportedSpans, 2048, JSON.stringify(stats));
      assert.equal(stats.lostSpans, 0);
      assert.equal(c.requests, 4);
    });
});

describe('close() with a small budget', () => {
  it('starts no export once its budget is spent (serializing batches is synchronous work)', async () => {
    // Every lane started its export at once: with batches that take longer to serialize than the
    // budget (a cold 512-span batch: ~10 ms and more), close() outlasted a small disposeTimeoutMs
    // and app.close() rejected for the tracer.
    let exports = 0;
    const exporter = {
      export() {
        exports++;
        const until = performance.now() + 20;
        while (performance.now() < until) {
          // the synchronous part of an export (serialization); no answer ever comes
        }
      },
      shutdown: async () => {},
    } as unknown as SdkSpanExporter;
    const dropped: number[] = [];
    const batching = createAccountingBatchProcessor({
      exporter,
      accounting: { succeeded() {}, failed() {}, dropped: (_reason, n = 1) => dropped.push(n) },
      maxQueueSize: 2048,
      maxExportBatchSize: 10,
      scheduledDelayMillis: 60_000,
      exportTimeoutMillis: 30_000,
    });
    const span = { spanContext: () => ({ traceFlags: 1 }), resource: {} } as unknown as FinishedSpan;
    for (let i = 0; i < 40; i++) batching.onEnd(span);
    // The first batch went out as it filled up; close() starts one more (5 ms left when it
    // begins), then the budget is spent: the old lanes started 3 more.
    assert.equal(exports, 1);
    const result = await batching.close(5);
    assert.equal(exports, 2);
    assert.equal(result.timedOut, true);
    assert.equal(result.undelivered, 40);
    assert.equal(
      dropped.reduce((a, b) => a + b, 0),
      40,
    );
  });
});
