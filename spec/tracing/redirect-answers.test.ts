/**
 * A collector (or an ingress in front of it) that answers a zipkin or jaeger export with a redirect
 * — HTTP 301/302/307/308, e.g. http sent on to https — has taken none of the spans: neither
 * exporter follows redirects, and both report every status under 400 as a success. The spans were
 * counted as exported and nothing was logged. They are lost spans: `export_failed`, one error
 * record naming the status, and flush() rejects. (The otlp exporter already fails on a 3xx; its
 * error now names the target too.)
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

/** A collector stand-in on loopback answering every request with `status` (and a Location). */
async function collector(t: TestContext, status: number, path: string) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(
          status,
          status >= 300 && status < 400 ? { location: `https://user:pw@collector.example${path}?k=v` } : {},
        )
        .end(),
    );
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

const exporters = (sdk.line === 2 ? ['zipkin', 'jaeger'] : ['zipkin']) as ('zipkin' | 'jaeger')[];
const PATHS = { zipkin: '/api/v2/spans', jaeger: '/api/traces' };

describe('zipkin and jaeger exports answered with a redirect', () => {
  for (const exporter of exporters) {
    for (const status of [301, 302, 307, 308]) {
      it(`${exporter}, HTTP ${status}: the spans count as export_failed, one error record, flush() rejects`, async (t) => {
        const endpoint = await collector(t, status, PATHS[exporter]);
        const { logger, records } = captureLogger();
        const tracer = createOtelTracer({
          exporter,
          endpoint,
          logger,
          batch: { scheduledDelayMillis: 60_000 },
        });
        t.after(() => tracer.close());
        for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
        const flushed = await tracer.flush().then(
          () => undefined,
          (err: unknown) => err,
        );
        assert.ok(flushed instanceof TracingError, `flush() resolved: ${String(flushed)}`);
        assert.equal(flushed.code, 'flush_failed');
        const stats = tracer.exportStats();
        assert.equal(stats.exportedSpans, 0);
        assert.equal(stats.droppedSpans.export_failed, 3);
        assert.equal(stats.failedExports, 1);
        const errors = records.filter((r) => r.message === 'tracing: span export failed');
        assert.equal(errors.length, 1);
        assert.equal(errors[0]!.fields?.code, status);
        const message = String(errors[0]!.fields?.error);
        assert.match(message, new RegExp(`HTTP ${status} \\(a redirect`));
        // Where it points, without the credentials or query the Location carried.
        assert.match(message, /to https:\/\/collector\.example\//);
        assert.doesNotMatch(message, /pw|k=v/);
      });
    }
    it(`${exporter}, HTTP 202: still an export`, async (t) => {
      const endpoint = await collector(t, 202, PATHS[exporter]);
      const tracer = createOtelTracer({ exporter, endpoint, batch: { scheduledDelayMillis: 60_000 } });
      t.after(() => tracer.close());
      for (let i = 0; i < 3; i++) tracer.startSpan(`s${i}`).end();
      await tracer.flush();
      assert.equal(tracer.exportStats().exportedSpans, 3);
      assert.equal(tracer.exportStats().lostSpans, 0);
    });
  }
});

// The otlp exporter fails on a 3xx by itself, but its error was the status text alone
// ("Temporary Redirect"): the record now names where the redirect points, as for zipkin and jaeger.
describe('otlp export answered with a redirect', () => {
  for (const status of [301, 307, 308]) {
    it(`HTTP ${status}: the error record names the target, without its credentials or query`, async (t) => {
      const endpoint = await collector(t, status, '/v1/traces');
      const { logger, records } = captureLogger();
      const tracer = createOtelTracer({
        exporter: 'otlp',
        endpoint,
        logger,
        batch: { scheduledDelayMillis: 60_000 },
      });
      t.after(() => tracer.close());
      tracer.startSpan('s').end();
      const flushed = await tracer.flush().then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(flushed instanceof TracingError, `flush() resolved: ${String(flushed)}`);
      assert.equal(tracer.exportStats().droppedSpans.export_failed, 1);
      const errors = records.filter((r) => r.message === 'tracing: span export failed');
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.fields?.code, status);
      const message = String(errors[0]!.fields?.error);
      assert.match(message, new RegExp(`HTTP ${status} \\(a redirect`));
      assert.match(message, /to https:\/\/collector\.example\/v1\/traces/);
      assert.doesNotMatch(message, /pw|k=v/);
    });
  }
});
