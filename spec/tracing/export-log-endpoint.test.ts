/**
 * The export-failure log records name the collector. Found from outside with a collector answering
 * 500 (and 401, 400): the record read `{ exporter: 'otlp', error: 'Internal Server Error', code: 500 }`
 * — no URL, only a refused connection named its address, in Node's message — so an operator could
 * not tell which collector refused. It is shown as scheme, host and path: the endpoint's
 * credentials and query (an API key) are never in it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const PASSWORD = 'pw-Secr3t-url';
const API_KEY = 'qk-Secr3t-query';

describe('export-failure records name the collector', () => {
  for (const [exporter, path] of [
    ['otlp', '/v1/traces'],
    ['zipkin', '/api/v2/spans'],
  ] as const)
    it(`${exporter}: a 500 is logged with the endpoint, without its credentials`, async () => {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end('down'));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const records: { message: string; fields: LogFields | undefined }[] = [];
      const push = (message: string, fields?: LogFields) => void records.push({ message, fields });
      const logger: Logger = { debug: push, info: push, warn: push, error: push, child: () => logger };
      try {
        const tracer = createOtelTracer({
          exporter,
          endpoint: `http://collector-user:${PASSWORD}@127.0.0.1:${port}${path}?api_key=${API_KEY}`,
          logger,
          batch: { scheduledDelayMillis: 60_000 },
        });
        tracer.startSpan('op').end();
        await tracer.flush().catch(() => {});
        tracer.startSpan('op').end();
        await tracer.close({ timeoutMs: 1000 });
        const seen = JSON.stringify(records);
        const failed = records.find((r) => r.message === 'tracing: span export failed');
        assert.ok(failed, seen);
        assert.equal(failed.fields?.endpoint, `http://127.0.0.1:${port}${path}`, seen);
        const summary = records.find((r) => r.message === 'tracing: spans not delivered (summary at close)');
        assert.equal(summary?.fields?.endpoint, `http://127.0.0.1:${port}${path}`, seen);
        for (const secret of [PASSWORD, API_KEY, 'collector-user']) assert.ok(!seen.includes(secret), seen);
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
});
