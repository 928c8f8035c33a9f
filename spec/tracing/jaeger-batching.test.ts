/**
 * The Jaeger (thrift over HTTP) exporter sends one request per batch. Its HTTP sender used to post
 * every 100 spans and wait for each answer before taking more, so a batch of 512 was 6 round trips
 * in a row: against a collector answering in 1 s, a 5 s close budget delivered none of 1,000 spans.
 * The exporter exists on the OpenTelemetry JS 2.x line only.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

async function collector(delayMs: number) {
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.writeHead(202).end();
      }, delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/traces`,
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

describe('jaeger exporter batching', { skip: sdk.line !== 2 && 'the jaeger exporter is 2.x only' }, () => {
  it('sends a batch of 512 spans in one request', async (t) => {
    const c = await collector(0);
    t.after(() => c.stop());
    const tracer = createOtelTracer({
      serviceName: 'jaeger-batch',
      exporter: 'jaeger',
      endpoint: c.url,
      batch: { maxExportBatchSize: 512, scheduledDelayMillis: 10 },
    });
    t.after(() => tracer.close());
    for (let i = 0; i < 512; i++) tracer.startSpan(`s${i}`).end();
    await tracer.flush();
    assert.equal(tracer.exportStats().exportedSpans, 512);
    assert.equal(c.requests, 1);
  });

  it('delivers 1,000 spans to a collector answering in 1 s within a 5 s close budget', async (t) => {
    const c = await collector(1000);
    t.after(() => c.stop());
    const tracer = createOtelTracer({ serviceName: 'jaeger-slow', exporter: 'jaeger', endpoint: c.url });
    const app = createApp({ tracer, disposeTimeoutMs: 5000 });
    for (let i = 0; i < 1000; i++) app.tracer.startSpan(`s${i}`).end();
    await app.close();
    const stats = tracer.exportStats();
    assert.equal(stats.exportedSpans, 1000, JSON.stringify(stats));
    assert.equal(stats.lostSpans, 0);
    // Two batches (512 + 488), one request each.
    assert.equal(c.requests, 2);
  });
});
