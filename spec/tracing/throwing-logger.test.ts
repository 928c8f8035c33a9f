/**
 * A logger that throws (a closed destination, a `write` of the caller's own) never stops the
 * tracer: the export-failure record threw inside the batch processor's accounting, that export
 * never settled, `flush()` never resolved and no span was exported again.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import type { Logger } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const throwing = (calls: string[]): Logger => {
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (m) => {
      calls.push(m);
      throw new Error('log destination closed');
    },
    error: (m) => {
      calls.push(m);
      throw new Error('log destination closed');
    },
    child: () => logger,
  };
  return logger;
};

/** `p`, or a rejection naming `what` when it has not settled within 10 s (a hang, not a timing). */
function settlesOrHangs<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} never settled`)), 10_000);
  });
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

describe('a logger that throws', () => {
  it('a failed export is still counted and settled; the next spans are exported', async (t) => {
    // The collector refuses the first export (400, not retried), then accepts.
    let requests = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        requests++;
        res.writeHead(requests === 1 ? 400 : 200, { 'content-type': 'application/x-protobuf' });
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const calls: string[] = [];
    const tracer = createOtelTracer({
      endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`,
      logger: throwing(calls),
      batch: { scheduledDelayMillis: 60_000 },
    });
    try {
      tracer.startSpan('refused').end();
      await assert.rejects(settlesOrHangs(tracer.flush(), 'the first flush'), /flush failed/);
      assert.ok(calls.includes('tracing: span export failed'), JSON.stringify(calls));
      tracer.startSpan('accepted').end();
      await settlesOrHangs(tracer.flush(), 'the second flush');
      assert.equal(tracer.exportStats().exportedSpans, 1);
      assert.equal(tracer.exportStats().failedExports, 1);
    } finally {
      await tracer.close({ timeoutMs: 1000 });
    }
  });

  it('attributes that are not an object are dropped without throwing into the caller', () => {
    const calls: string[] = [];
    const tracer = createOtelTracer({ exporter: 'memory', logger: throwing(calls) });
    const span = tracer.startSpan('s');
    assert.doesNotThrow(() => span.setAttributes('req-1' as never));
    assert.doesNotThrow(() => tracer.startSpan('t', { attributes: ['x'] as never }).end());
    span.end();
    assert.ok(calls.length > 0);
    assert.equal(tracer.finishedSpans().length, 2);
  });
});
