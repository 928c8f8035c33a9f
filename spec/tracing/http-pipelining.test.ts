/**
 * HTTP/1.1 pipelining and a client that goes away: requests queued behind an earlier one on the
 * same connection. On Node 20 their responses never emit `close` when the connection drops (Node
 * 24's do), and the server span, `ctx.signal`, the request metric and `drainServer` all waited for
 * it: the span of the last queued request was never ended, its handler's signal never aborted, it
 * was never counted, and the drain counted it in flight until its grace ran out.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { drainServer, type ServerDrain } from '../../lib/core/drain.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const tracer = createOtelTracer({ serviceName: 'http-pipelining', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
const ERROR = 2;
let server: Server;
let drain: ServerDrain;
let port = 0;
let started = 0;
const aborted = new Set<string>();

const handler = traceHandler(
  app.ctx,
  async (ctx, req, res) => {
    started++;
    if (req.url === '/first') {
      // Answer once the two queued requests are running too.
      await waitFor(() => started >= 3, { what: 'three requests started', timeoutMs: 5000 });
      res.end('first');
      return;
    }
    // A queued request: its answer waits until the client went away (at most 5 s).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      ctx.signal?.addEventListener('abort', () => {
        aborted.add(req.url ?? '');
        clearTimeout(timer);
        resolve();
      });
    });
    res.end('late');
  },
  { route: '/p' },
);

before(async () => {
  server = createServer(metrics.instrument(handler, { route: (req) => req.url }));
  drain = drainServer(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

describe('pipelined requests whose client goes away', () => {
  it('end their spans as aborted, abort ctx.signal, are counted once, and leave no request in flight', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    socket.write(get('/first') + get('/queued-2') + get('/queued-3'));
    // The client leaves once the first answer arrived.
    await new Promise((r) => socket.once('data', r));
    socket.destroy();

    const spans = await waitFor(
      () => {
        const found = tracer.finishedSpans().filter((s) => s.kind === 1);
        return found.length >= 3 ? found : undefined;
      },
      { what: 'three server spans', timeoutMs: 5000 },
    );
    assert.equal(spans.length, 3);
    for (const path of ['/queued-2', '/queued-3']) {
      const span = spans.find((s) => s.attributes['url.path'] === path);
      assert.ok(span, `a span for ${path}`);
      assert.equal(span.attributes['error.type'], 'aborted', path);
      assert.equal(span.status.code, ERROR, path);
      assert.ok(aborted.has(path), `ctx.signal of ${path} aborted`);
    }
    const first = spans.find((s) => s.attributes['url.path'] === '/first');
    assert.equal(first?.attributes['error.type'], undefined);

    const { body } = await metrics.render();
    const counts = body
      .split('\n')
      .filter((l) => l.startsWith('http_server_request_duration_seconds_count{'))
      .map((l) => [
        /http_route="([^"]*)"/.exec(l)?.[1],
        /error_type="([^"]*)"/.exec(l)?.[1],
        l.split(' ')[1],
      ]);
    assert.deepEqual(counts.sort(), [
      ['/first', undefined, '1'],
      ['/queued-2', 'aborted', '1'],
      ['/queued-3', 'aborted', '1'],
    ]);
    await waitFor(() => drain.inFlight === 0, { what: 'no request in flight', timeoutMs: 5000 });
  });
});
