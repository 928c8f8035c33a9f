/**
 * `ctx.signal` in a `traceHandler` handler: aborts when the client goes away, and also when the
 * `ctx` given to `traceHandler` carries a signal that aborts (an app-wide shutdown signal). The
 * request's own signal used to replace that one: the handler never heard of the cancellation.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const tracer = createOtelTracer({ serviceName: 'http-signal', exporter: 'memory' });
const app = createApp({ tracer });
const shutdown = new AbortController();
let server: Server;
let base = '';

before(async () => {
  const handler = traceHandler(app.ctx.with({ signal: shutdown.signal }), async (ctx, _req, res) => {
    // Waits for its signal (at most 5 s), then says whether it was aborted.
    const aborted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      ctx.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve(true);
      });
      if (ctx.signal?.aborted) resolve(true);
    });
    res.end(aborted ? 'aborted' : 'not aborted');
  });
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

describe('traceHandler ctx.signal', () => {
  it('aborts when the signal of the ctx given to traceHandler aborts', async () => {
    const answer = fetch(`${base}/wait`).then((r) => r.text());
    // Once the request is running, cancel the app.
    setTimeout(() => shutdown.abort(), 100);
    assert.equal(await answer, 'aborted');
  });
});
