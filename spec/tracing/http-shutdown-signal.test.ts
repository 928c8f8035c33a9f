/**
 * A `traceHandler` whose `ctx` carries an app-wide shutdown signal: when it aborts while a client
 * still waits, a handler that honours `ctx.signal` (here through `tracedFetch`, which follows it)
 * rejects with that abort. The client got a bare 500 on a keep-alive connection, the span and the
 * request metric recorded an `Error`, and `request handler failed` was logged at error level — for
 * every request a deploy stopped. It is now the 503 (`Connection: close`) `drainServer` answers
 * during a shutdown, recorded as `shutdown`, with an info record; a response whose headers had gone
 * out is cut and recorded as `shutdown` too.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, request, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Logger } from '../../lib/core/contracts.js';
import { drainServer } from '../../lib/core/drain.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const records: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const logger: Logger = {
  debug: () => {},
  info: (msg, fields) => void records.push({ level: 'info', msg, fields }),
  warn: (msg, fields) => void records.push({ level: 'warn', msg, fields }),
  error: (msg, fields) => void records.push({ level: 'error', msg, fields }),
  child: () => logger,
};

const tracer = createOtelTracer({ serviceName: 'http-shutdown-signal', exporter: 'memory', logger });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics, logger });
/** The upstream: holds every answer (the test ends them). */
const held: ServerResponse[] = [];
const upstream = createServer((_req, res) => void held.push(res));
let server: Server;
let port = 0;
let shutdown = new AbortController();

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  server = createServer(
    metrics.instrument(
      (req, res) =>
        traceHandler(
          app.ctx.with({ signal: shutdown.signal }),
          async (ctx) => {
            // `/streaming`: the headers and a first chunk go out before the upstream call.
            if (req.url === '/streaming') res.write('first chunk');
            const answer = await tracedFetch(ctx, up);
            res.end(await answer.text());
          },
          { route: req.url ?? '/' },
        )(req, res),
      { route: (req) => req.url },
    ),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  for (const res of held) res.destroy();
  upstream.closeAllConnections();
  server.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  await new Promise((r) => server.close(r));
  await app.close();
});

type Answer = { status?: number; headers?: IncomingHttpHeaders; body?: string; error?: string };

/** GET `path`; once the handler waits on the upstream, the shutdown signal aborts. */
async function duringShutdown(path: string): Promise<Answer> {
  records.length = 0;
  held.length = 0;
  shutdown = new AbortController();
  const answer = new Promise<Answer>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', (e) => resolve({ status: res.statusCode, error: String(e), body }));
    });
    req.on('error', (e) => resolve({ error: String(e) }));
    req.end();
  });
  await waitFor(() => held.length === 1, { what: `the handler of ${path} to wait on the upstream` });
  shutdown.abort(new Error('shutting down'));
  return answer;
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

describe('traceHandler: a handler stopped by the shutdown signal of its ctx', () => {
  it('answers 503 with Connection: close, records shutdown and logs no error', async () => {
    const got = await duringShutdown('/wait');
    assert.equal(got.status, 503, JSON.stringify(got));
    assert.equal(got.headers?.connection, 'close');
    const span = await serverSpan('/wait');
    assert.equal(span.attributes['http.response.status_code'], 503);
    assert.equal(span.attributes['error.type'], 'shutdown');
    const line = await waitFor(() => series('/wait'), { what: 'the request metric of /wait' });
    assert.match(line, /error_type="shutdown"/);
    assert.match(line, /http_response_status_code="503"/);
    const seen = await waitFor(() => records.find((r) => r.msg.startsWith('request handler')), {
      what: 'the record of the stopped handler',
    });
    assert.equal(seen.level, 'info', JSON.stringify(records));
    assert.equal(seen.fields?.reason, 'shutdown');
    assert.deepEqual(
      records.filter((r) => r.level === 'error').map((r) => r.msg),
      [],
    );
  });

  it('cuts a response whose headers went out, recorded as shutdown, with no error record', async () => {
    const got = await duringShutdown('/streaming');
    assert.equal(got.status, 200);
    assert.ok(got.error !== undefined, `the response is cut: ${JSON.stringify(got)}`);
    const span = await serverSpan('/streaming');
    assert.equal(span.attributes['error.type'], 'shutdown');
    const line = await waitFor(() => series('/streaming'), { what: 'the request metric of /streaming' });
    assert.match(line, /error_type="shutdown"/);
    await waitFor(() => records.find((r) => r.msg.startsWith('request handler')), {
      what: 'the record of the stopped handler',
    });
    assert.deepEqual(
      records.filter((r) => r.level === 'error').map((r) => r.msg),
      [],
    );
  });

  it('a request the drain cut before the signal aborted records no answer the client never got', async () => {
    // Its own server (the drain closes it): the drain cuts the request at the end of its grace
    // period, and the shutdown signal aborts as soon as the drain is done — the handler then
    // rejects, its response's 'close' possibly still to come. It recorded a 500 the client never
    // got (a reset), error.type Error, and logged "request handler failed".
    records.length = 0;
    held.length = 0;
    const signal = new AbortController();
    const up = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const own = createServer(
      traceHandler(
        app.ctx.with({ signal: signal.signal }),
        async (ctx, _req, res) => {
          const answer = await tracedFetch(ctx, up);
          res.end(await answer.text());
        },
        { route: '/drained' },
      ),
    );
    // At startup, as an app registers it.
    const drain = drainServer(own, { graceMs: 200 });
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    const ownPort = (own.address() as { port: number }).port;
    const answer = new Promise<Answer>((resolve) => {
      const req = request({ host: '127.0.0.1', port: ownPort, path: '/drained', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode }));
        res.on('error', (e) => resolve({ status: res.statusCode, error: String(e) }));
      });
      req.on('error', (e) => resolve({ error: String(e) }));
      req.end();
    });
    await waitFor(() => held.length === 1, { what: 'the handler of /drained to wait on the upstream' });
    await drain({ timeoutMs: 5000, signal: new AbortController().signal });
    signal.abort(new Error('shutting down'));
    const got = await answer;
    assert.equal(got.status, undefined, JSON.stringify(got));
    const span = await serverSpan('/drained');
    assert.equal(span.attributes['http.response.status_code'], undefined);
    assert.equal(span.attributes['error.type'], 'shutdown');
    await waitFor(() => records.find((r) => r.msg.startsWith('request handler')), {
      what: 'the record of the stopped handler',
    });
    assert.deepEqual(
      records.filter((r) => r.level === 'error').map((r) => r.msg),
      [],
    );
  });
});
