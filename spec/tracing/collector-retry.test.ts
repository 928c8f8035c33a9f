/**
 * A collector that asks for a retry (HTTP 429/502/503/504, maybe with `Retry-After`): the OTLP
 * export is retried by the tracer's batch processor — the exporter's own retries waited on timers
 * close() could not cancel, which kept the process alive after close (close-budget.test.ts has
 * the child-process check). The retries must still deliver what a collector accepts later.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { parseRetryAfter } from '../../lib/tracing/otel/agent.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

/** A collector stand-in answering each request with the next of `answers` (then 200). */
async function collector(answers: { status: number; retryAfter?: string }[]) {
  const seen: number[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(performance.now());
      const a = answers.shift() ?? { status: 200 };
      res.writeHead(a.status, a.retryAfter === undefined ? {} : { 'retry-after': a.retryAfter }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
  const stop = () => {
    server.closeAllConnections();
    server.close();
  };
  return { url, seen, stop };
}

describe('OTLP export answered "retry later"', () => {
  it('is retried by the tracer, honouring Retry-After, until the collector accepts it', async (t) => {
    const c = await collector([
      { status: 503, retryAfter: '0' },
      { status: 429, retryAfter: '1' },
    ]);
    t.after(c.stop);
    const tracer = createOtelTracer({
      serviceName: 'retry',
      endpoint: c.url,
      batch: { scheduledDelayMillis: 10 },
    });
    t.after(() => tracer.close());
    for (let i = 0; i < 20; i++) tracer.startSpan(`s${i}`).end();
    await tracer.flush();
    const stats = tracer.exportStats();
    assert.equal(stats.exportedSpans, 20, JSON.stringify(stats));
    assert.equal(stats.failedExports, 0);
    assert.equal(stats.lostSpans, 0);
    // One batch, three attempts; the third came no sooner than the collector's Retry-After: 1.
    assert.equal(c.seen.length, 3);
    assert.ok(c.seen[2]! - c.seen[1]! >= 900, `retried after ${c.seen[2]! - c.seen[1]!} ms`);
  });

  it('gives up within the export timeout with an error naming the status, counted once', async (t) => {
    const c = await collector(Array.from({ length: 10 }, () => ({ status: 502, retryAfter: '0' })));
    t.after(c.stop);
    const tracer = createOtelTracer({
      serviceName: 'retry',
      endpoint: c.url,
      batch: { scheduledDelayMillis: 10 },
    });
    t.after(() => tracer.close());
    for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
    await assert.rejects(tracer.flush(), (err: Error & { code?: string; causes?: unknown[] }) => {
      assert.equal(err.code, 'flush_failed');
      const cause = err.causes?.[0] as Error & { code?: unknown };
      assert.equal(cause.code, 502);
      assert.match(cause.message, /HTTP 502 .*not delivered after 6 attempt\(s\)/);
      return true;
    });
    // The first attempt and the exporter's 5 retries, no more.
    assert.equal(c.seen.length, 6);
    assert.deepEqual(tracer.exportStats().droppedSpans, { queue_full: 0, export_failed: 5, shutdown: 0 });
    assert.equal(tracer.exportStats().failedExports, 1);
  });

  it('parseRetryAfter reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('20', now), 20_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter(['3', '9'], now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-5', now), undefined);
  });
});
