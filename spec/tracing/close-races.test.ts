/**
 * close() racing other calls (session-5 audit): a flush() waiting on exports when close() gives up
 * on a collector that never answers, close() twice and concurrently, spans ended after close().
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

describe('close() racing flush() and late spans (collector never answers)', () => {
  const held = new Set<Socket>();
  const silent = createServer((socket) => {
    held.add(socket);
    socket.resume();
    socket.on('error', () => {});
    socket.on('close', () => held.delete(socket));
  });
  const listening = new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });

  it('a flush() whose spans close() gave up on rejects with one TracingError, not success', async () => {
    await listening;
    const port = (silent.address() as { port: number }).port;
    const tracer = createOtelTracer({
      endpoint: `http://127.0.0.1:${port}/v1/traces`,
      batch: { maxExportBatchSize: 10 },
    });
    for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
    const flushed = tracer.flush().then(
      () => 'resolved',
      (err: unknown) => err,
    );
    const closing = tracer.close({ timeoutMs: 300 });
    assert.equal(tracer.close({ timeoutMs: 50 }), closing, 'a second close() is the same promise');
    await closing;
    const outcome = await flushed;
    assert.ok(outcome instanceof TracingError, `flush settled with ${String(outcome)}`);
    assert.equal(outcome.code, 'flush_failed');
    assert.equal(tracer.exportStats().droppedSpans.shutdown, 25);

    // A span ended after close() is counted too, and a later flush() has nothing to do.
    tracer.startSpan('late').end();
    assert.equal(tracer.exportStats().droppedSpans.shutdown, 26);
    await tracer.flush();
  });
});
