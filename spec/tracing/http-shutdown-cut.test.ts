/**
 * A request still running when `drainServer`'s grace period ends has its connection destroyed:
 * its response closes unfinished exactly as when the client hangs up. The server span said
 * `error.type` `aborted`, "the client went away before the response completed", and the request
 * metric `error_type="aborted"`: an operator could not tell the requests a deploy cut from
 * clients giving up. They now say `shutdown`; a client that does give up is still `aborted`.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { drainServer, type ServerDrain } from '../../lib/core/drain.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const tracer = createOtelTracer({ serviceName: 'http-shutdown-cut', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
let server: Server;
let drain: ServerDrain;
let port = 0;
/** Handlers waiting for an answer that never comes (released in `after`). */
const hanging: (() => void)[] = [];

before(async () => {
  const handler = traceHandler(
    app.ctx,
    (_ctx, _req, res) =>
      new Promise<void>((resolve) => {
        hanging.push(() => {
          if (!res.destroyed) res.end();
          resolve();
        });
      }),
    { route: '/work' },
  );
  server = createServer(metrics.instrument(handler, { route: (req) => req.url }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  drain = drainServer(server, { graceMs: 200 });
});
after(async () => {
  for (const release of hanging) release();
  server.closeAllConnections();
  await app.close();
});

/** A GET whose answer never comes; resolves once its connection is gone (or it gives up). */
function hangingGet(path: string, giveUpMs?: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('close', () => resolve(`status ${res.statusCode}`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
    // Bounded either way: the client gives up at `giveUpMs`, or after 10 s at the latest.
    setTimeout(() => req.destroy(), giveUpMs ?? 10_000).unref();
    req.end();
  });
}

const serverSpan = (path: string) =>
  waitFor(() => tracer.finishedSpans().find((s) => s.kind === 1 && s.attributes['url.path'] === path), {
    what: `the server span of ${path}`,
  });

async function series(path: string): Promise<string | undefined> {
  const { body } = await metrics.render();
  return body
    .split('\n')
    .find((l) => l.startsWith('http_server_request_duration_seconds_count{') && l.includes(`"${path}"`));
}

describe('a request cut at the end of the drain grace period', () => {
  it('is `shutdown` on the server span and the request metric; a client that gave up is `aborted`', async () => {
    const gone = hangingGet('/gone', 50);
    const cut = hangingGet('/cut');
    // Both handlers running before the drain begins.
    await waitFor(() => hanging.length === 2 || undefined, { what: 'both requests in their handlers' });
    await gone;
    // The server has seen the client leave before the drain begins (no race with the cut).
    const goneSpan = await serverSpan('/gone');
    const closed = drain();
    assert.equal(await cut, 'ECONNRESET', 'the grace period cut the running request');
    await closed;

    const cutSpan = await serverSpan('/cut');
    assert.equal(cutSpan.attributes['error.type'], 'shutdown');
    assert.equal(cutSpan.attributes['http.response.status_code'], undefined, 'no status went out');
    assert.equal(cutSpan.status.code, 2);
    assert.match(String(cutSpan.status.message), /shut down/);
    const cutLine = await waitFor(() => series('/cut'), { what: 'the request metric of /cut' });
    assert.match(cutLine, /error_type="shutdown"/);

    assert.equal(goneSpan.attributes['error.type'], 'aborted');
    assert.match(String(goneSpan.status.message), /client went away/);
    const goneLine = await waitFor(() => series('/gone'), { what: 'the request metric of /gone' });
    assert.match(goneLine, /error_type="aborted"/);
  });
});

describe('the server span of a request the drain cut, in an app', () => {
  it('has ended when the drain resolves, so the tracer closing next exports it (not a `shutdown` drop)', async () => {
    // The README's setup: `app.defer('http', drainServer(server))`, the tracer closing after it.
    // The drain resolved as soon as it had destroyed the connections; their responses' 'close',
    // which ends the server spans, came after the tracer's close had begun: every span of a
    // request a deploy cut was dropped as `shutdown`, never exported.
    const tracer = createOtelTracer({ serviceName: 'http-shutdown-cut-app', exporter: 'memory' });
    const app = createApp({ tracer });
    const release: (() => void)[] = [];
    const server = createServer(
      traceHandler(
        app.ctx,
        (_ctx, _req, res) =>
          new Promise<void>((resolve) => {
            release.push(() => {
              if (!res.destroyed) res.end();
              resolve();
            });
          }),
        { route: '/work' },
      ),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port: appPort } = server.address() as { port: number };
    let seen: string[] = [];
    // Runs between the drain and the tracer's close (disposers run newest first).
    app.defer('after drain', () => {
      seen = tracer.finishedSpans().map((s) => String(s.attributes['error.type']));
    });
    app.defer('http', drainServer(server, { graceMs: 100 }));
    const client = new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port: appPort, path: '/work', agent: false }, (res) => {
        res.resume();
        res.on('close', () => resolve(`status ${res.statusCode}`));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(String(err.code)));
      setTimeout(() => req.destroy(), 10_000).unref();
      req.end();
    });
    try {
      await waitFor(() => release.length === 1 || undefined, { what: 'the request in its handler' });
      await app.close();
      assert.equal(await client, 'ECONNRESET', 'the grace period cut the running request');
      assert.deepEqual(seen, ['shutdown'], 'the span had ended when the drain resolved');
      const stats = tracer.exportStats();
      assert.equal(stats.exportedSpans, 1);
      assert.equal(stats.lostSpans, 0);
    } finally {
      for (const r of release) r();
      server.closeAllConnections();
      server.close();
    }
  });
});
