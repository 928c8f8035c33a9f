/**
 * Budgets and intervals longer than a Node timer holds (2^31 − 1 ms, about 24.8 days): Node fires
 * such a timer after 1 ms, with a TimeoutOverflowWarning. They must mean "a long time", not "now".
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { withTimeout } from '../../lib/core/timeout.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { freePort } from '../harness/process.js';

function overflowWarnings() {
  const seen: string[] = [];
  const on = (w: Error) => {
    if (w.name === 'TimeoutOverflowWarning') seen.push(w.message);
  };
  process.on('warning', on);
  return { seen, stop: () => process.off('warning', on) };
}

const turn = () => new Promise((r) => setTimeout(r, 20));

describe('budgets beyond the longest Node timer', () => {
  it('withTimeout with a finite budget of 1e12 ms waits for the work (it rejected after 1 ms)', async () => {
    const warnings = overflowWarnings();
    try {
      const work = new Promise((r) => setTimeout(r, 30, 'done'));
      const timer = withTimeout(work, 1e12, () => new Error('gave up'), { unref: true });
      assert.equal(await timer, 'done');
      assert.deepEqual(warnings.seen, []);
    } finally {
      warnings.stop();
    }
  });

  it('tracer.close({ timeoutMs: Number.MAX_SAFE_INTEGER }) delivers the queued spans to a slow collector', async (t) => {
    const warnings = overflowWarnings();
    // Answers every export 100 ms after the request (an empty protobuf body is a full success).
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/x-protobuf' });
          res.end();
        }, 100),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      warnings.stop();
      server.closeAllConnections();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const tracer = createOtelTracer({ endpoint: `http://127.0.0.1:${port}/v1/traces` });
    for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
    await tracer.close({ timeoutMs: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(tracer.exportStats(), {
      exportedSpans: 5,
      failedExports: 0,
      lostSpans: 0,
      droppedSpans: { queue_full: 0, export_failed: 0, shutdown: 0 },
    });
    assert.deepEqual(warnings.seen, []);
  });

  it('errorLogIntervalMs of 1e10 ms: one export-failure record, not one per failure', async () => {
    const warnings = overflowWarnings();
    const records: { message: string; fields?: LogFields }[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn: (message, fields) => void records.push({ message, fields }),
      error: (message, fields) => void records.push({ message, fields }),
      child: () => logger,
    };
    const port = await freePort(); // nothing listens: each export is refused at once
    const tracer = createOtelTracer({
      endpoint: `http://127.0.0.1:${port}/v1/traces`,
      logger,
      errorLogIntervalMs: 1e10,
      batch: { scheduledDelayMillis: 60_000 },
    });
    try {
      for (let i = 0; i < 4; i++) {
        tracer.startSpan(`lost ${i}`).end();
        await assert.rejects(tracer.flush());
        await turn();
      }
      assert.equal(tracer.exportStats().failedExports, 4);
      const failed = records.filter((r) => r.message === 'tracing: span export failed');
      assert.equal(failed.length, 1, JSON.stringify(records));
      assert.deepEqual(warnings.seen, []);
    } finally {
      warnings.stop();
      await tracer.close({ timeoutMs: 1000 });
    }
  });
});
