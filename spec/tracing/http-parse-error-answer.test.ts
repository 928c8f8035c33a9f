/**
 * A request node:http cannot parse once its handler runs — a malformed chunked body, garbage or
 * an oversized header block pipelined behind it — is cut by Node, which first writes its own
 * answer on the socket (`400 Bad Request`, `431` for headers too large) when the server has no
 * `clientError` listener and none of the response is on the wire yet: the same rule as its `408`
 * at the request timeout. The server span recorded no status, `error.type` `aborted` and "the
 * client went away", and the request metric `error_type="aborted"`, though the client was there
 * and got that 400. Now both record the status the client got — a 4xx on a server span: no error
 * status, no `error.type` (the HTTP conventions) —, as for the 408; a client that stops sending
 * mid-body (its FIN) is still `aborted`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const tracer = createOtelTracer({ serviceName: 'http-parse-error-answer', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
let server: Server;
let port = 0;
/** Handlers of /wait… answer only when released (in `after`, or never: Node cuts them first). */
const waiting: (() => void)[] = [];

before(async () => {
  const handler = traceHandler(
    app.ctx,
    (_ctx, req, res) => {
      // headersSent, nothing on the wire yet: Node's own answer still goes out
      if (req.url?.startsWith('/head-only')) res.writeHead(200);
      if (req.url?.startsWith('/wait')) {
        waiting.push(() => {
          if (!res.destroyed) res.end('late');
        });
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok'));
    },
    { route: '/upload' },
  );
  server = createServer({ maxHeaderSize: 1024 }, metrics.instrument(handler, { route: (req) => req.url }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  for (const release of waiting) release();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

/**
 * Writes `data` on a connection, and `end` (the client's FIN) after it when asked; resolves with
 * what came back once the connection closes (bounded: the client gives up after 10 s).
 */
function send(data: string, end = false): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.write(data);
    if (end) setTimeout(() => socket.end(), 100).unref();
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

const CHUNKED = 'Host: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n';

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

/** The span and the request metric of `path` record `status`, with no error. */
async function recordedAs(path: string, status: number): Promise<void> {
  const span = await serverSpan(path);
  assert.equal(span.attributes['http.response.status_code'], status, `${path}: the status the client got`);
  assert.equal(span.attributes['error.type'], undefined, `${path}: a 4xx has no error.type`);
  assert.equal(span.status.code, 0, `${path}: a 4xx leaves a server span status unset`);
  const line = await waitFor(() => series(path), { what: `the request metric of ${path}` });
  assert.match(line, new RegExp(`http_response_status_code="${status}"`));
  assert.doesNotMatch(line, /error_type=/);
}

describe('a request node:http cut because it could not parse it', () => {
  it('a malformed chunk in the body: the client got 400, and so say the span and the metric', async () => {
    const answer = await send(`POST /bad-chunk HTTP/1.1\r\n${CHUNKED}zz\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 /, 'node:http answered 400');
    await recordedAs('/bad-chunk', 400);
  });

  it('after a bare writeHead(200): the 400 went out, not the 200', async () => {
    const answer = await send(`POST /head-only HTTP/1.1\r\n${CHUNKED}zz\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 /);
    await recordedAs('/head-only', 400);
  });

  it('garbage pipelined behind a running request: its 400 is that request’s answer', async () => {
    const answer = await send('GET /wait-garbage HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    await recordedAs('/wait-garbage', 400);
  });

  it('an oversized header block pipelined behind a running request: 431', async () => {
    const big = `GET /next HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(2048)}\r\n\r\n`;
    const answer = await send(`GET /wait-big HTTP/1.1\r\nHost: x\r\n\r\n${big}`);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    await recordedAs('/wait-big', 431);
  });

  it('a client that stops mid-body (its FIN) is still `aborted`', async () => {
    await send(`POST /gone HTTP/1.1\r\n${CHUNKED}`, true);
    const span = await serverSpan('/gone');
    assert.equal(span.attributes['http.response.status_code'], undefined);
    assert.equal(span.attributes['error.type'], 'aborted');
    assert.equal(span.status.code, 2);
    const line = await waitFor(() => series('/gone'), { what: 'the request metric of /gone' });
    assert.match(line, /error_type="aborted"/);
  });
});
