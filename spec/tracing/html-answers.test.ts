/**
 * An endpoint that answers an export with an HTML page (HTTP 200, text/html) is no trace
 * collector: typically Jaeger's UI/query port (16686), which serves its page to any POST. Every
 * exporter (otlp, zipkin, jaeger) reported that as a success, so the spans were counted as exported
 * and nothing was logged. They are lost spans: `export_failed`, one error record, flush() rejects.
 * Checked against a stand-in and against a real Jaeger's query port.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless } from '../harness/process.js';
import { sdk } from './otel-line.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

type Exporter = 'otlp' | 'zipkin' | 'jaeger';
const exporters: Exporter[] = sdk.line === 2 ? ['otlp', 'zipkin', 'jaeger'] : ['otlp', 'zipkin'];
const PATHS: Record<Exporter, string> = {
  otlp: '/v1/traces',
  zipkin: '/api/v2/spans',
  jaeger: '/api/traces',
};

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

/** Ends three spans, flushes; what the tracer then says. */
async function exportThree(t: TestContext, exporter: Exporter, endpoint: string) {
  const { logger, records } = captureLogger();
  const tracer = createOtelTracer({ exporter, endpoint, logger, batch: { scheduledDelayMillis: 60_000 } });
  t.after(() => tracer.close());
  for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
  const flushed = await tracer.flush().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { flushed, stats: tracer.exportStats(), records };
}

function assertLost(r: Awaited<ReturnType<typeof exportThree>>) {
  assert.ok(r.flushed instanceof TracingError, `flush() resolved: ${String(r.flushed)}`);
  assert.equal(r.flushed.code, 'flush_failed');
  assert.equal(r.stats.exportedSpans, 0);
  assert.equal(r.stats.droppedSpans.export_failed, 3);
  const errors = r.records.filter((x) => x.message === 'tracing: span export failed');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.fields?.code, 200);
  assert.match(String(errors[0]!.fields?.error), /HTML page \(text\/html\).*16686/);
}

describe('an export answered with an HTML page (stand-in)', () => {
  for (const exporter of exporters) {
    it(`${exporter}: 200 text/html counts as export_failed, one error record, flush() rejects`, async (t) => {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () =>
          res
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
            .end('<!doctype html><html></html>'),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => {
        server.closeAllConnections();
        server.close();
      });
      const port = (server.address() as AddressInfo).port;
      assertLost(await exportThree(t, exporter, `http://127.0.0.1:${port}${PATHS[exporter]}`));
    });
  }
});

describeWithServers("exports sent to a real Jaeger's query/UI port", skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });
  for (const exporter of exporters) {
    it(`${exporter}: the spans count as lost, not exported`, async (t) => {
      assertLost(await exportThree(t, exporter, `${jaeger.queryUrl}${PATHS[exporter]}`));
    });
    it(`${exporter}: the right receiver still takes them`, async (t) => {
      const endpoint =
        exporter === 'otlp'
          ? jaeger.otlpEndpoint
          : exporter === 'zipkin'
            ? jaeger.zipkinEndpoint
            : jaeger.jaegerEndpoint;
      const r = await exportThree(t, exporter, endpoint);
      assert.equal(r.flushed, undefined);
      assert.equal(r.stats.exportedSpans, 3);
      assert.equal(r.stats.lostSpans, 0);
    });
  }
});
