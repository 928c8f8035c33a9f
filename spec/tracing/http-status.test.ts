/**
 * Span status, `http.response.status_code` and `error.type` of HTTP spans as the OpenTelemetry
 * HTTP span conventions define them (docs/http/http-spans.md, "Status"), on spans and on the
 * request metric alike:
 *
 * - `http.response.status_code` only "if and only if one was received/sent": a request the client
 *   gave up on before any answer has none (it was recorded as 200, Node's default statusCode);
 * - a response not sent in full (client gone) is an error: status Error and `error.type` (the
 *   span had error.type but status Unset; the metric had neither when the status had gone out);
 * - "Don't set the span status description if the reason can be inferred from
 *   http.response.status_code" (it was `HTTP 502`);
 * - the method is recorded as sent: fetch sends `patch` as written (it upper-cases only
 *   DELETE/GET/HEAD/OPTIONS/POST/PUT), which is not the known method `PATCH` — `_OTHER`, with
 *   `http.request.method_original` (it was recorded as `PATCH`);
 * - the zipkin export still marks such a span as failed (its `error` tag comes from a description:
 *   spec/tracing/jaeger.test.ts checks it end to end).
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { withErrorDescription } from '../../lib/tracing/otel/exporters.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import type { FinishedSpan } from '../../lib/tracing/otel/sdk.js';
import { waitFor } from '../harness/process.js';

const tracer = createOtelTracer({ serviceName: 'http-status', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
let server: Server;
let port = 0;
const ERROR = 2;
const UNSET = 0;

const handler = traceHandler(
  app.ctx,
  async (_ctx, req, res) => {
    const path = req.url ?? '/';
    if (path === '/never') return; // the client gives up first
    if (path === '/half') {
      res.writeHead(200);
      res.write('part');
      return; // the client gives up after the headers
    }
    if (path === '/bad-gateway') {
      res.statusCode = 502;
      res.end();
      return;
    }
    if (path === '/not-found') {
      res.statusCode = 404;
      res.end();
      return;
    }
    if (path === '/throws') throw new RangeError('no such thing');
    if (path === '/cut') {
      // What `await pipeline(source, res)` does when its source fails: the response is destroyed,
      // then the handler rejects.
      res.destroy();
      throw new RangeError('source failed');
    }
    if (path === '/socket-cut') {
      // Its connection destroyed (by the handler here; a proxy or the server's own code elsewhere)
      // and the handler rejecting in the same turn, before the response saw the socket close.
      req.socket.destroy();
      throw new RangeError('connection gone');
    }
    if (path === '/cut-with-error') {
      // The response destroyed with the error that cut it — the handler rejects only later (as
      // `pipeline` does on Node 24, after the response closed) or never.
      res.write('part');
      res.destroy(new RangeError('source failed'));
      return;
    }
    res.end(`${req.method}`);
  },
  { route: '/r' },
);

before(async () => {
  server = createServer(metrics.instrument(handler, { route: (req) => req.url }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

/** Sends GET `path` and destroys the request once `when` happened. */
function giveUp(path: string, when: 'sent' | 'headers'): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => resolve());
    req.end(() => {
      if (when === 'sent')
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
    });
  });
}

const serverSpan = (path: string) =>
  waitFor(() => tracer.finishedSpans().find((s) => s.kind === 1 && s.attributes['url.path'] === path), {
    what: `the server span of ${path}`,
  });

async function requestSeries(path: string): Promise<string[]> {
  const { body } = await metrics.render();
  return body
    .split('\n')
    .filter((l) => l.startsWith('http_server_request_duration_seconds_count{') && l.includes(`"${path}"`));
}

describe('HTTP span status and status code (OpenTelemetry HTTP conventions)', () => {
  it('a request the client gave up on before any answer: no status code, error status, error.type aborted', async () => {
    await giveUp('/never', 'sent');
    const span = await serverSpan('/never');
    assert.equal(span.attributes['http.response.status_code'], undefined, 'no status was sent');
    assert.equal(span.attributes['error.type'], 'aborted');
    assert.equal(span.status.code, ERROR);
    const series = await waitFor(
      async () => ((await requestSeries('/never')).length > 0 ? requestSeries('/never') : undefined),
      {
        what: 'the request metric',
      },
    );
    assert.equal(series.length, 1);
    assert.match(series[0]!, /error_type="aborted"/);
    assert.doesNotMatch(series[0]!, /http_response_status_code/);
  });

  it('a response cut off after its headers: the status sent, error status, error.type aborted — on the metric too', async () => {
    await giveUp('/half', 'headers');
    const span = await serverSpan('/half');
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.attributes['error.type'], 'aborted');
    assert.equal(span.status.code, ERROR);
    const series = await waitFor(
      async () => ((await requestSeries('/half')).length > 0 ? requestSeries('/half') : undefined),
      {
        what: 'the request metric',
      },
    );
    assert.equal(series.length, 1);
    assert.match(series[0]!, /http_response_status_code="200"/);
    assert.match(series[0]!, /error_type="aborted"/);
  });

  it('status errors carry no description (the status code says it); 4xx is no server error', async () => {
    const bad = await tracedFetch(app.ctx, `http://127.0.0.1:${port}/bad-gateway`);
    assert.equal(bad.status, 502);
    const notFound = await tracedFetch(app.ctx, `http://127.0.0.1:${port}/not-found`);
    assert.equal(notFound.status, 404);
    const server502 = await serverSpan('/bad-gateway');
    assert.deepEqual(server502.status, { code: ERROR });
    assert.equal(server502.attributes['error.type'], '502');
    const server404 = await serverSpan('/not-found');
    assert.equal(server404.status.code, UNSET);
    assert.equal(server404.attributes['error.type'], undefined);
    const clients = tracer.finishedSpans().filter((s) => s.kind === 2);
    const client = (path: string) => clients.find((s) => String(s.attributes['url.full']).endsWith(path))!;
    assert.deepEqual(client('/bad-gateway').status, { code: ERROR });
    assert.deepEqual(client('/not-found').status, { code: ERROR });
    assert.equal(client('/not-found').attributes['error.type'], '404');
  });

  it('a handler that throws keeps the description of its error', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/throws`);
    assert.equal(res.status, 500);
    const span = await serverSpan('/throws');
    assert.equal(span.status.code, ERROR);
    assert.equal(span.status.message, 'no such thing');
    assert.equal(span.attributes['error.type'], 'RangeError');
  });

  it('a handler that destroyed its response, then threw: no status code (none went out), error.type its class', async () => {
    // The bare 500 was written into the destroyed response: nothing reached the client (a
    // reset), but Node marked the headers as sent and the span and metric said 500.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/cut`));
    const span = await serverSpan('/cut');
    assert.equal(span.attributes['http.response.status_code'], undefined, 'no status was sent');
    assert.equal(span.attributes['error.type'], 'RangeError');
    assert.equal(span.status.code, ERROR);
    const series = await waitFor(
      async () => ((await requestSeries('/cut')).length > 0 ? requestSeries('/cut') : undefined),
      { what: 'the request metric' },
    );
    assert.equal(series.length, 1);
    assert.doesNotMatch(series[0]!, /http_response_status_code/);
    assert.match(series[0]!, /error_type="RangeError"/);
  });

  it('a handler whose connection was destroyed, then threw in the same turn: no status code either', async () => {
    // The response was not yet marked destroyed (its socket's close comes a turn later): the bare
    // 500 went into a dead socket, and the span and metric said 500.
    await assert.rejects(fetch(`http://127.0.0.1:${port}/socket-cut`));
    const span = await serverSpan('/socket-cut');
    assert.equal(span.attributes['http.response.status_code'], undefined, 'no status was sent');
    assert.equal(span.attributes['error.type'], 'RangeError');
    assert.equal(span.status.code, ERROR);
    const series = await waitFor(
      async () =>
        (await requestSeries('/socket-cut')).length > 0 ? requestSeries('/socket-cut') : undefined,
      { what: 'the request metric' },
    );
    assert.equal(series.length, 1);
    assert.doesNotMatch(series[0]!, /http_response_status_code/);
    assert.match(series[0]!, /error_type="RangeError"/);
  });

  it('a response the server destroyed with an error: error.type its class, not aborted (the client did not leave)', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${port}/cut-with-error`).then((r) => r.text()));
    const span = await serverSpan('/cut-with-error');
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.attributes['error.type'], 'RangeError');
    assert.equal(span.status.code, ERROR);
    assert.equal(span.status.message, 'source failed');
    const series = await waitFor(
      async () =>
        (await requestSeries('/cut-with-error')).length > 0 ? requestSeries('/cut-with-error') : undefined,
      { what: 'the request metric' },
    );
    assert.equal(series.length, 1);
    assert.match(series[0]!, /error_type="RangeError"/);
  });

  it('tracedFetch records the method fetch sends: get → GET, patch → _OTHER with its original', async () => {
    // node:http refuses a lower-case method (400): what matters is what the client span says.
    const asSent = await tracedFetch(app.ctx, `http://127.0.0.1:${port}/ok`, { method: 'get' });
    assert.equal(await asSent.text(), 'GET');
    const lower = await tracedFetch(app.ctx, `http://127.0.0.1:${port}/ok`, { method: 'patch' });
    assert.equal(lower.status, 400, 'the request line said "patch"');
    const upper = await tracedFetch(app.ctx, `http://127.0.0.1:${port}/ok`, { method: 'PATCH' });
    assert.equal(await upper.text(), 'PATCH');
    const clients = tracer
      .finishedSpans()
      .filter((s) => s.kind === 2 && String(s.attributes['url.full']).endsWith('/ok'));
    const [get, patch, PATCH] = clients.slice(-3);
    assert.equal(get!.name, 'GET');
    assert.equal(get!.attributes['http.request.method'], 'GET');
    assert.equal(get!.attributes['http.request.method_original'], undefined);
    assert.equal(patch!.name, 'HTTP');
    assert.equal(patch!.attributes['http.request.method'], '_OTHER');
    assert.equal(patch!.attributes['http.request.method_original'], 'patch');
    assert.equal(PATCH!.name, 'PATCH');
    assert.equal(PATCH!.attributes['http.request.method'], 'PATCH');
    const { body } = await metrics.render();
    assert.match(
      body,
      /^http_client_request_duration_seconds_count\{http_request_method="_OTHER",.*http_response_status_code="400"/m,
    );
  });
});

describe('zipkin export of an error status without a description', () => {
  it('gets a description for the error tag (its error.type, else "error"); other spans are passed as they are', () => {
    const span = {
      name: 'GET /r',
      status: { code: ERROR },
      attributes: { 'error.type': '502' },
    } as unknown as FinishedSpan;
    const shown = withErrorDescription(span);
    assert.deepEqual(shown.status, { code: ERROR, message: '502' });
    assert.equal(shown.name, 'GET /r');
    assert.deepEqual(span.status, { code: ERROR }, 'the span itself is unchanged');
    const bare = withErrorDescription({ status: { code: ERROR }, attributes: {} } as unknown as FinishedSpan);
    assert.equal(bare.status.message, 'error');
    const described = { status: { code: ERROR, message: 'boom' }, attributes: {} } as unknown as FinishedSpan;
    assert.equal(withErrorDescription(described), described);
    const ok = { status: { code: UNSET }, attributes: {} } as unknown as FinishedSpan;
    assert.equal(withErrorDescription(ok), ok);
  });
});
