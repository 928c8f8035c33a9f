/**
 * A collector (or a proxy in front of it) that closes an idle keep-alive connection just as the
 * next export is sent on it: the request fails with 'socket hang up' before any answer — the race
 * node:http's documentation says to retry (`request.reusedSocket`). The otlp exporter retries it;
 * the zipkin and jaeger exporters retried nothing, so every export that met the race was lost
 * (`export_failed`). The tracer now sends such an export again on a new connection.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

const EXPORTERS = (['otlp', 'zipkin', 'jaeger'] as const).filter((e) => e !== 'jaeger' || sdk.line === 2);
const PATHS = { otlp: '/v1/traces', zipkin: '/api/v2/spans', jaeger: '/api/traces' } as const;

/**
 * Answers the first request of each connection (202, kept alive) and closes the connection,
 * unanswered, when a second request arrives on it: what an idle timeout firing as the client
 * reuses the socket looks like to the client.
 */
async function closesReusedConnections(t: TestContext) {
  const counts = { requests: 0, answered: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let served = 0;
    let buf = '';
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = '';
      counts.requests++;
      if (served++ > 0) {
        s.destroy();
        return;
      }
      counts.answered++;
      s.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, counts };
}

function captureLogger() {
  const records: { message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: () => {},
    info: () => {},
    warn: (message, fields) => records.push({ message, fields }),
    error: (message, fields) => records.push({ message, fields }),
    child: () => make(),
  });
  return { logger: make(), records };
}

describe('an export sent on a keep-alive connection the collector has just closed', () => {
  for (const exporter of EXPORTERS) {
    it(`${exporter}: is sent again on a new connection, and every span is delivered`, async (t) => {
      const collector = await closesReusedConnections(t);
      const { logger, records } = captureLogger();
      const tracer = createOtelTracer({
        serviceName: 'stale-keepalive',
        exporter,
        endpoint: `http://127.0.0.1:${collector.port}${PATHS[exporter]}`,
        logger,
      });
      try {
        // One export per flush: from the second on, each goes out on the kept-alive connection.
        for (let i = 0; i < 4; i++) {
          tracer.startSpan(`span ${i}`).end();
          await tracer.flush();
        }
        assert.deepEqual(tracer.exportStats(), {
          exportedSpans: 4,
          failedExports: 0,
          lostSpans: 0,
          droppedSpans: { queue_full: 0, export_failed: 0, shutdown: 0 },
        });
        assert.equal(collector.counts.answered, 4);
        // The race was met (a request closed unanswered), or this test proves nothing.
        assert.ok(collector.counts.requests > 4, `requests: ${collector.counts.requests}`);
        assert.deepEqual(records, []);
      } finally {
        await tracer.close();
      }
    });
  }
});
