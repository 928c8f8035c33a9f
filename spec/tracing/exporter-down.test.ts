/**
 * A collector that is down must not hurt the service: requests keep being served, memory stays
 * bounded by the queue limit, and export errors are logged once per interval, not per span.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createApp } from '../../lib/core/app.js';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer, type ExporterName } from '../../lib/tracing/otel/index.js';
import { freePort, waitFor } from '../harness/process.js';
import { sdk } from './otel-line.js';

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

// A real major GC makes heap figures comparable; expose it without a command-line flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

describe('exporter endpoint down', () => {
  for (const exporter of ['otlp', 'zipkin', ...(sdk.line === 2 ? (['jaeger'] as const) : [])] as const) {
    it(`${exporter}: keeps serving, stays bounded, logs export errors once per interval`, async (t) => {
      const port = await freePort(); // nothing listens here
      const { logger, records } = captureLogger();
      let now = 1_000_000;
      const tracer = createOtelTracer({
        exporter: exporter as ExporterName,
        endpoint: `http://127.0.0.1:${port}/`,
        serviceName: 'down',
        logger,
        now: () => now,
        errorLogIntervalMs: 60_000,
        batch: {
          maxQueueSize: 200,
          maxExportBatchSize: 50,
          scheduledDelayMillis: 5,
          exportTimeoutMillis: 500,
        },
      });
      const app = createApp({ tracer, logger });
      const server: Server = createServer(
        traceHandler(app.ctx, (_ctx, _req, res) => res.end('ok'), { route: '/ping' }),
      );
      t.after(async () => {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
        await app.close().catch(() => {});
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

      // The service answers every request while its spans cannot be exported.
      for (let round = 0; round < 20; round++) {
        const replies = await Promise.all(
          Array.from({ length: 10 }, () =>
            fetch(`${base}/ping`).then(async (r) => [r.status, await r.text()]),
          ),
        );
        for (const reply of replies) assert.deepEqual(reply, [200, 'ok']);
      }

      const exportErrors = () => records.filter((r) => r.message === 'tracing: span export failed');
      await waitFor(() => exportErrors().length > 0, { timeoutMs: 15_000, what: 'an export error record' });
      // Many more exports fail while the clock stands still: still one record.
      await waitFor(
        () => {
          tracer.startSpan('filler').end();
          return tracer.exportStats().failedExports >= 3;
        },
        { timeoutMs: 20_000, intervalMs: 20, what: 'several failed exports' },
      );
      assert.equal(exportErrors().length, 1, JSON.stringify(exportErrors()));
      const first = exportErrors()[0]!;
      assert.equal(first.level, 'error');
      assert.equal(first.fields?.exporter, exporter);

      // Memory: 20,000 spans with 1 KiB of distinct attribute data each (≈ 40 MiB if kept) stay
      // within the 200-span queue plus the batches in flight.
      const before = heapUsed();
      for (let i = 0; i < 20_000; i++) {
        tracer.startSpan('heavy', { attributes: { blob: randomBytes(512).toString('hex'), i } }).end();
      }
      const grown = heapUsed() - before;
      assert.ok(grown < 12 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);

      // After the interval, the next failure is logged again, with the failures counted meanwhile.
      now += 60_000;
      await waitFor(
        () => {
          tracer.startSpan('nudge').end();
          return exportErrors().length >= 2;
        },
        { timeoutMs: 20_000, intervalMs: 20, what: 'the record of the next interval' },
      );
      assert.equal(exportErrors().length, 2);
      assert.ok(
        Number(exportErrors()[1]!.fields?.failedExports) >= 2,
        'failures since the last record are summed',
      );
      assert.equal(tracer.exportStats().exportedSpans, 0);
    });
  }
});
