/**
 * A collector (or a proxy in front of it) that closes the connection in the middle of its answer:
 * the zipkin exporter reports an export only from the answer body's `end`, which then never comes,
 * so the export hung until the export timeout (30 s by default; flush() with it), and was then
 * counted as timed out — also when the collector had taken the spans (HTTP 200). The export now
 * settles when the connection closes, as the otlp exporter reads such an answer: a 2xx is
 * delivered, any other status an export failure naming it — with the otlp exporter too, whose
 * error for a refusal cut short was Node's bare "aborted".
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

/** Answers `status` announcing a 100-byte body, sends 3 bytes, then closes the connection. */
async function cuttingCollector(t: TestContext, status: number, path: string) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"a', () => res.socket?.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

function captureLogger() {
  const records: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: () => {},
    info: () => {},
    warn: (message, fields) => records.push({ level: 'warn', message, fields }),
    error: (message, fields) => records.push({ level: 'error', message, fields }),
    child: () => make(),
  });
  return { logger: make(), records };
}

const exporters = (sdk.line === 2 ? ['zipkin', 'jaeger', 'otlp'] : ['zipkin', 'otlp']) as (
  | 'zipkin'
  | 'jaeger'
  | 'otlp'
)[];
const PATHS = { zipkin: '/api/v2/spans', jaeger: '/api/traces', otlp: '/v1/traces' };

describe('a collector closing the connection in the middle of its answer', () => {
  for (const exporter of exporters) {
    it(`${exporter}, HTTP 200 cut short: the spans count as exported, flush() resolves`, async (t) => {
      const endpoint = await cuttingCollector(t, 200, PATHS[exporter]);
      const { logger, records } = captureLogger();
      // A shorter export timeout than the default 30 s, so that the old behaviour (waiting for it)
      // fails this test sooner; nothing here depends on how long the export takes.
      const tracer = createOtelTracer({
        exporter,
        endpoint,
        logger,
        batch: { scheduledDelayMillis: 60_000, exportTimeoutMillis: 5_000 },
      });
      t.after(() => tracer.close());
      for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
      await tracer.flush();
      assert.deepEqual(tracer.exportStats(), {
        exportedSpans: 3,
        failedExports: 0,
        lostSpans: 0,
        droppedSpans: { queue_full: 0, export_failed: 0, shutdown: 0 },
      });
      assert.deepEqual(
        records.filter((r) => r.level === 'error'),
        [],
      );
    });
  }

  // otlp: the error was Node's bare "aborted" (the exporter reads the cut answer's 'error' event),
  // in flush()'s error and in the log record alike; it now says what zipkin's and jaeger's say.
  // (The jaeger exporter reports from the answer's status line, before the cut: its error is its
  // own "server responded with HTTP 500".)
  for (const [exporter, status] of [
    ['zipkin', 500],
    ['otlp', 500],
    ['otlp', 400],
    ['otlp', 404],
    ['zipkin', 404],
    ['otlp', 401],
  ] as const)
    it(`${exporter}, HTTP ${status} cut short: export_failed, the error names the status and the cut`, async (t) => {
      const endpoint = await cuttingCollector(t, status, PATHS[exporter]);
      const { logger, records } = captureLogger();
      const tracer = createOtelTracer({
        exporter,
        endpoint,
        logger,
        batch: { scheduledDelayMillis: 60_000, exportTimeoutMillis: 5_000 },
      });
      t.after(() => tracer.close());
      for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
      const flushed = await tracer.flush().then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(flushed instanceof TracingError, `flush() resolved: ${String(flushed)}`);
      assert.match(
        String(flushed.causes[0]),
        new RegExp(
          `collector answered HTTP ${status} and closed the connection before the answer was complete`,
        ),
      );
      const stats = tracer.exportStats();
      assert.equal(stats.exportedSpans, 0);
      assert.equal(stats.failedExports, 1);
      assert.equal(stats.droppedSpans.export_failed, 3);
      const errors = records.filter((r) => r.message === 'tracing: span export failed');
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]!.fields?.error), new RegExp(`HTTP ${status} and closed the connection`));
      // What to check, as for the same status answered whole: the host and port (the path is the
      // receiver's own), the credentials.
      const hint = {
        404: /though the path .* is its own: check the host and port/,
        401: /refused the credentials/,
      }[status as 404 | 401];
      if (hint) {
        assert.match(flushed.message, hint);
        assert.match(String(errors[0]!.fields?.hint), hint);
      }
    });
});
