/**
 * The `now` option (the clock of the export-failure log's rate limit) runs inside the exporter's
 * response callback: a clock that threw was an uncaught exception there, which ended the process
 * at the first failed export (zipkin), and one giving `NaN` lifted the rate limit (every failure
 * logged). Such a clock now falls back to `Date.now()`: the failures are counted, one record per
 * interval, flush() rejects as for any failed export.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

async function refusingCollector(t: TestContext) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/spans`;
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

const clocks: Record<string, () => number> = {
  throws: () => {
    throw new Error('clock not stubbed');
  },
  'gives NaN': () => Number.NaN,
};

describe('a `now` clock that throws or gives NaN', () => {
  for (const [name, now] of Object.entries(clocks)) {
    it(`${name}: failed exports are counted and logged once per interval, nothing thrown`, async (t) => {
      const endpoint = await refusingCollector(t);
      const { logger, records } = captureLogger();
      const tracer = createOtelTracer({
        exporter: 'zipkin',
        endpoint,
        logger,
        now,
        batch: { scheduledDelayMillis: 60_000 },
      });
      t.after(() => tracer.close());
      for (let i = 0; i < 3; i++) {
        tracer.startSpan(`s${i}`).end();
        const err = await tracer.flush().then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof TracingError, `flush() settled with ${String(err)}`);
      }
      assert.equal(tracer.exportStats().failedExports, 3);
      assert.equal(tracer.exportStats().droppedSpans.export_failed, 3);
      // The default interval (60 s): the first failure is written, the other two held back.
      assert.equal(records.filter((r) => r.message === 'tracing: span export failed').length, 1);
    });
  }
});
