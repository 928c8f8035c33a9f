/**
 * The exporter calls back in the context its export ran in, where the tracer tracks the HTTP
 * requests started (zipkin and jaeger export through the global agent: those requests are cut on
 * an export timeout and at close). The `span export failed` record was written in that context,
 * so a log shipper whose timer started there — its first record — had its own request taken for
 * an export request and destroyed by the tracer's close ("span export abandoned: the tracer
 * closed"). The result is handled in the context the export was started from now.
 */
import assert from 'node:assert/strict';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { Logger } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

async function listen(t: TestContext, handler: (res: ServerResponse) => void): Promise<number> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

const PATHS = { zipkin: '/api/v2/spans', jaeger: '/api/traces' };
const exporters = (sdk.line === 2 ? ['zipkin', 'jaeger'] : ['zipkin']) as ('zipkin' | 'jaeger')[];

describe("a log shipper's request started from the export failure record", () => {
  for (const exporter of exporters) {
    it(`${exporter}: is not cut by the tracer's close()`, async (t) => {
      const collectorPort = await listen(t, (res) => res.writeHead(500).end());
      // The log service holds its answer until the tracer is closed.
      let received!: () => void;
      const shipping = new Promise<void>((resolve) => {
        received = resolve;
      });
      const held: ServerResponse[] = [];
      const logPort = await listen(t, (res) => {
        held.push(res);
        received();
      });
      // Batches records and posts them from a timer started by the first one (as log transports do).
      let started = false;
      const outcome = new Promise<string>((resolve) => {
        const ship = () => {
          const req = request({ host: '127.0.0.1', port: logPort, method: 'POST', path: '/logs' }, (res) => {
            res.resume();
            res.on('end', () => resolve(`shipped ${res.statusCode}`));
          });
          req.on('error', (err) => resolve(`ship failed: ${err.message}`));
          req.end('records');
        };
        const record = () => {
          if (started) return;
          started = true;
          setTimeout(ship, 1);
        };
        const logger: Logger = { debug() {}, info() {}, warn: record, error: record, child: () => logger };
        const tracer = createOtelTracer({
          exporter,
          endpoint: `http://127.0.0.1:${collectorPort}${PATHS[exporter]}`,
          logger,
          batch: { scheduledDelayMillis: 60_000 },
        });
        tracer.startSpan('op').end();
        void tracer
          .flush()
          .catch(() => {})
          .then(() => shipping)
          .then(() => tracer.close())
          .then(() => {
            for (const res of held) res.writeHead(200).end();
          });
      });
      assert.equal(await outcome, 'shipped 200');
    });
  }
});
