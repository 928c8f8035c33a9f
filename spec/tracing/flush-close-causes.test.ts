/**
 * A flush() that close() overtakes: close() exports the queued batches beside the one in flight
 * (up to 4 at once), and gives up on them when its budget runs out. flush() rejected naming the
 * batch it was waiting on only — "1 error(s): export of 2 span(s) given up at close" for the 5 spans
 * of the call that were all lost — and an export close() ran beside it that failed before flush()
 * looked was left out too. Its `causes` list every export of the call's spans that failed now.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

async function collector(t: TestContext, answer: (body: string, res: ServerResponse) => void) {
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(Buffer.concat(chunks).toString('latin1'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

const PATHS = { otlp: '/v1/traces', zipkin: '/api/v2/spans', jaeger: '/api/traces' };
// The jaeger exporter's sender buffers across calls: close() runs its exports one at a time.
const exporters = ['otlp', 'zipkin'] as const;

/** Sum of the span counts the causes name (`export of N span(s) …` / `… N span(s) …`). */
const spansIn = (causes: readonly unknown[]) =>
  causes.reduce<number>((n, c) => n + Number(/(\d+) span\(s\)/.exec(String(c))?.[1] ?? 0), 0);

describe('flush() overtaken by close()', () => {
  for (const exporter of exporters) {
    it(`${exporter}: a silent collector, close() gives up: flush()'s causes cover every span of the call`, async (t) => {
      const port = await collector(t, () => {});
      const tracer = createOtelTracer({
        exporter,
        endpoint: `http://127.0.0.1:${port}${PATHS[exporter]}`,
        batch: { scheduledDelayMillis: 60_000, exportTimeoutMillis: 60_000, maxExportBatchSize: 2 },
      });
      for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
      const flushed = tracer.flush().then(
        () => undefined,
        (err: unknown) => err,
      );
      await tracer.close({ timeoutMs: 400 });
      const err = await flushed;
      assert.ok(err instanceof TracingError, `flush() resolved: ${String(err)}`);
      assert.equal(tracer.exportStats().droppedSpans.shutdown, 5);
      assert.equal(err.causes.length, 3, err.message);
      assert.equal(spansIn(err.causes), 5, err.causes.map(String).join(' | '));
    });

    it(`${exporter}: an export close() ran beside the flushed one failed first: it is among the causes`, async (t) => {
      // The first batch (the one flush() waits on: spans `slow…`) is answered late and fine, the
      // other (which close() exports beside it) at once with 500.
      const port = await collector(t, (body, res) => {
        if (body.includes('slow')) setTimeout(() => res.writeHead(200).end(), 300);
        else res.writeHead(500).end();
      });
      const tracer = createOtelTracer({
        exporter,
        endpoint: `http://127.0.0.1:${port}${PATHS[exporter]}`,
        batch: { scheduledDelayMillis: 60_000, maxExportBatchSize: 2 },
      });
      t.after(() => tracer.close());
      for (let i = 0; i < 4; i++) tracer.startSpan(i < 2 ? `slow${i}` : `fail${i}`).end();
      const flushed = tracer.flush().then(
        () => undefined,
        (err: unknown) => err,
      );
      const closed = tracer.close();
      const err = await flushed;
      await closed;
      const stats = tracer.exportStats();
      assert.equal(stats.exportedSpans, 2);
      assert.equal(stats.droppedSpans.export_failed, 2);
      assert.ok(err instanceof TracingError, `flush() resolved though 2 of its spans were lost`);
      assert.equal(err.causes.length, 1, err.message);
    });
  }
});
void sdk;
