/**
 * OTLP partial success: a collector that takes an export request (HTTP 200) but rejects some of
 * its spans says so in the response body (`partial_success.rejected_spans`). The OTLP exporter only
 * reports that to `diag` and calls the export a success, so those spans were counted as exported
 * and nothing was logged. They are lost spans: counted as `export_failed`, logged, and a flush()
 * waiting for them rejects.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

/** `ExportTraceServiceResponse { partial_success { rejected_spans, error_message } }` in protobuf. */
function partialSuccess(rejected: number, message: string): Buffer {
  const text = Buffer.from(message);
  const inner = Buffer.concat([Buffer.from([0x08, rejected, 0x12, text.length]), text]);
  return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
}

/** A collector stand-in on loopback answering every export with 200 and `body`. */
async function collector(t: TestContext, body: Buffer, contentType = 'application/x-protobuf') {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': contentType }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
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

async function exportFive(t: TestContext, endpoint: string) {
  const { logger, records } = captureLogger();
  const tracer = createOtelTracer({ endpoint, logger, batch: { scheduledDelayMillis: 60_000 } });
  t.after(() => tracer.close());
  for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
  const flushed = await tracer.flush().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { stats: tracer.exportStats(), records, flushed };
}

describe('OTLP partial success', () => {
  it('spans the collector rejected in a 200 answer are lost spans: counted, logged, flush() rejects', async (t) => {
    const { stats, records, flushed } = await exportFive(t, await collector(t, partialSuccess(2, 'too old')));
    assert.equal(stats.exportedSpans, 3);
    assert.equal(stats.droppedSpans.export_failed, 2);
    assert.equal(stats.lostSpans, 2);
    assert.equal(stats.failedExports, 1);
    assert.ok(flushed instanceof TracingError && flushed.code === 'flush_failed', String(flushed));
    assert.match(flushed.message, /rejected 2 of 5 span\(s\): too old/);
    const errors = records.filter((r) => r.message === 'tracing: span export failed');
    assert.equal(errors.length, 1);
  });

  it('the same in an OTLP/JSON answer', async (t) => {
    const body = Buffer.from(JSON.stringify({ partialSuccess: { rejectedSpans: '1', errorMessage: 'x' } }));
    const { stats } = await exportFive(t, await collector(t, body, 'application/json'));
    assert.equal(stats.exportedSpans, 4);
    assert.equal(stats.droppedSpans.export_failed, 1);
  });

  it('a partial success that rejects nothing (a warning only) and an empty answer: every span exported', async (t) => {
    for (const body of [partialSuccess(0, 'just a warning'), Buffer.alloc(0)]) {
      const { stats, flushed } = await exportFive(t, await collector(t, body));
      assert.equal(stats.exportedSpans, 5);
      assert.equal(stats.lostSpans, 0);
      assert.equal(flushed, undefined);
    }
  });

  it('a collector message echoing the auth header or the endpoint key: no secret in the log record or flush() error', async (t) => {
    // The message reached the 'span export failed' record unscrubbed (flush() scrubbed only its own
    // error), and cut at 200 characters a token straddling the cut could not be found whole (pads
    // 164 and 130 put the token, then the key, across that cut).
    const TOKEN = 'ps-echo-token-8f2c41d7';
    const KEY = 'ps-echo-key-55e0a1';
    for (const pad of [0, 164, 130]) {
      const message = `${'x'.repeat(pad)}got Authorization: Bearer ${TOKEN} for ?api_key=${KEY}`;
      const body = Buffer.from(
        JSON.stringify({ partialSuccess: { rejectedSpans: 1, errorMessage: message } }),
      );
      const endpoint = `${await collector(t, body, 'application/json')}?api_key=${KEY}`;
      const { logger, records } = captureLogger();
      const tracer = createOtelTracer({
        endpoint,
        headers: { authorization: `Bearer ${TOKEN}` },
        logger,
        batch: { scheduledDelayMillis: 60_000 },
      });
      tracer.startSpan('s').end();
      const flushed = await tracer.flush().then(
        () => undefined,
        (err: unknown) => err,
      );
      await tracer.close();
      assert.equal(tracer.exportStats().droppedSpans.export_failed, 1);
      const logged = JSON.stringify(records);
      assert.match(logged, /span export failed/);
      const seen = `${logged}\n${(flushed as Error | undefined)?.message}`;
      for (const secret of [TOKEN, KEY])
        for (let n = 8; n <= secret.length; n++)
          assert.ok(!seen.includes(secret.slice(0, n)), `pad ${pad}: part of ${secret} in ${seen}`);
    }
  });
});
