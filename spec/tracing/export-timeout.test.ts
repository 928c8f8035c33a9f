/**
 * A collector that accepts connections and never answers, while the service runs: each export
 * times out (exportTimeoutMillis) and is counted as failed — and its request must end with it. The
 * zipkin and jaeger exporters set no request timeout of their own: every timed-out export left its
 * connection (and payload) open until close, one more per export timeout (2,880 a day with the
 * default 30 s), so file descriptors and memory grew without bound while the collector hung.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { createOtelTracer, type ExporterName } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

const PATHS: Record<string, string> = { otlp: '/v1/traces', zipkin: '/api/v2/spans', jaeger: '/api/traces' };

describe('exports that time out against a silent collector', () => {
  for (const exporter of ['zipkin', 'otlp', ...(sdk.line === 2 ? ['jaeger'] : [])])
    it(`${exporter}: each timed-out export ends its request (open connections stay bounded)`, async (t) => {
      const open = new Set<Socket>();
      let accepted = 0;
      const silent = createServer((socket) => {
        accepted++;
        open.add(socket);
        socket.resume();
        socket.on('error', () => {});
        socket.on('close', () => open.delete(socket));
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      t.after(() => {
        for (const s of open) s.destroy();
        silent.close();
      });
      const port = (silent.address() as { port: number }).port;
      const tracer = createOtelTracer({
        serviceName: 'export-timeout',
        exporter: exporter as ExporterName,
        endpoint: `http://127.0.0.1:${port}${PATHS[exporter]}`,
        batch: { exportTimeoutMillis: 150, scheduledDelayMillis: 10 },
      });
      t.after(() => tracer.close({ timeoutMs: 1000 }));
      // Spans keep coming while the exports time out one after the other, until six have timed out
      // and the collector has accepted six connections. (Both: on a loaded machine an export can
      // time out before the collector's accept has run, and the count of accepted connections
      // read at the sixth failure was 5.)
      const enough = () => tracer.exportStats().failedExports >= 6 && accepted >= 6;
      for (let round = 0; round < 200 && !enough(); round++) {
        for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
        await new Promise((r) => setTimeout(r, 20));
      }
      const failed = tracer.exportStats().failedExports;
      assert.ok(failed >= 6, `exports timed out: ${failed}`);
      assert.ok(accepted >= 6, `the exports connected: ${accepted}`);
      // The cut connections close on the collector's side too: polled (bounded, 5 s), not a fixed
      // 300 ms that a loaded machine can overrun. Connections that stayed open (the bug) never do.
      for (let i = 0; i < 100 && open.size > 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(open.size <= 2, `${open.size} connections still open after ${failed} timed-out exports`);
    });
});
