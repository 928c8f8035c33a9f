/**
 * The demo's calls between services, seen in a real Jaeger: a GET whose connection the peer closed
 * under it (a peer draining) is sent again, up to twice, each attempt in a client span of its own.
 * The HTTP conventions ask every resent request's span to carry `http.request.resend_count` (the
 * ordinal of the resend: 1, 2); the repeats carried nothing that told them from the first attempt,
 * so a trace showed three identical calls.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, it } from 'node:test';
import { callService } from '../../demo/http.js';
import { createApp } from '../../lib/core/app.js';
import { startSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, type JaegerSpan, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);
const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key);

describeWithServers('demo: a call sent again carries http.request.resend_count', skip, () => {
  let jaeger: Jaeger;
  let peer: Server;
  let requests = 0;
  before(async () => {
    jaeger = await startJaeger();
    // The first two requests lose their connection before any answer (UND_ERR_SOCKET at the
    // caller, one of the codes callService sends a GET again for); the third is answered.
    peer = createServer((req, res) => {
      requests++;
      if (requests <= 2) {
        req.socket.destroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end('{"id":7}');
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    peer?.closeAllConnections();
    await new Promise((resolve) => peer?.close(resolve));
    await jaeger?.stop();
  });

  it('the first attempt has none, the two repeats 1 and 2 (int); the call succeeds', async () => {
    const tracer = createOtelTracer({
      serviceName: 'resend-caller',
      endpoint: jaeger.otlpEndpoint,
      batch: { scheduledDelayMillis: 50 },
    });
    const app = createApp({ tracer });
    try {
      const { port } = peer.address() as { port: number };
      // A root span for the three attempts to hang under, so one trace holds them.
      const { ctx, span } = startSpan(app.ctx, 'caller');
      const result = await callService(
        ctx,
        { service: 'user-service', baseUrl: `http://127.0.0.1:${port}` },
        'GET',
        '/users/7',
        { template: '/users/:id' },
      );
      span.end();
      assert.equal(result.status, 200);
      assert.equal(requests, 3);
      await tracer.flush();
      const traceId = span.spanContext().traceId;
      const spans = await waitFor(
        async () => {
          const calls = (await jaeger.getTrace(traceId))?.spans.filter(
            (s) => s.operationName === 'GET /users/:id',
          );
          return calls && calls.length === 3 ? calls : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `the three client spans of trace ${traceId} in Jaeger` },
      );
      spans.sort((a, b) => a.startTime - b.startTime);
      assert.deepEqual(
        spans.map((s) => tag(s, 'http.request.resend_count')?.value),
        [undefined, 1, 2],
      );
      for (const s of spans.slice(1)) assert.equal(tag(s, 'http.request.resend_count')?.type, 'int64');
      assert.deepEqual(
        spans.map((s) => tag(s, 'error.type')?.value),
        ['UND_ERR_SOCKET', 'UND_ERR_SOCKET', undefined],
      );
      assert.equal(tag(spans[2]!, 'http.response.status_code')?.value, 200);
    } finally {
      await app.close();
    }
  });
});
