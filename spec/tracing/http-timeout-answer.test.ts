/**
 * What the client gets when node:http cuts a request at the server's `requestTimeout`, and what
 * the server span and the request metric record. Node writes `408 Request Timeout` on the socket
 * itself only when the server has no `clientError` listener and none of the in-flight response's
 * bytes are on the wire: the span recorded no status (or the `200` of a bare `writeHead(200)`,
 * though the client got the 408) and the error status, `error.type` `timeout`. Now the span and
 * the metric record the 408 — a 4xx on a server span: no error status, no `error.type` (the HTTP
 * conventions) — exactly when Node sent it; where it sent nothing, `timeout` as before, and no 408.
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

const tracer = createOtelTracer({ serviceName: 'http-timeout-answer', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
const servers: Server[] = [];

// The handler answers once the whole body is in; some paths start the response first.
const handler = traceHandler(
  app.ctx,
  (_ctx, req, res) => {
    // headersSent, nothing on the wire yet
    if (req.url?.startsWith('/head-only')) res.writeHead(200);
    if (req.url?.startsWith('/partial')) res.writeHead(200).write('partial');
    req.resume();
    req.on('end', () => res.end('ok'));
  },
  { route: '/upload' },
);

async function serve(clientError?: (err: Error, socket: import('node:stream').Duplex) => void) {
  const server = createServer(
    { requestTimeout: 500, connectionsCheckingInterval: 50 },
    metrics.instrument(handler, { route: (req) => req.url }),
  );
  if (clientError) server.on('clientError', clientError);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}
let port = 0;
let portWithListener = 0;
before(async () => {
  port = await serve();
  // A listener that takes the error (as many frameworks' do): Node then writes nothing itself.
  portWithListener = await serve((err, socket) => socket.destroy(err));
});
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  await app.close();
});

/** Sends a chunked POST whose body never ends; resolves with what came back once the server closes. */
function stalledUpload(to: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(to, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n`);
    // Bounded: the server cuts it at 500 ms; the client gives up after 10 s at the latest.
    setTimeout(() => socket.destroy(), 10_000).unref();
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

describe('a request cut at the server requestTimeout', () => {
  it('after a bare writeHead(200): the client got 408, and so say the span and the metric', async () => {
    const answer = await stalledUpload(port, '/head-only');
    assert.match(answer, /^HTTP\/1\.1 408 /, 'node:http answered 408, not the 200');
    const span = await serverSpan('/head-only');
    assert.equal(span.attributes['http.response.status_code'], 408);
    assert.equal(span.attributes['error.type'], undefined);
    assert.equal(span.status.code, 0, 'a 4xx leaves a server span status unset');
    const line = await waitFor(() => series('/head-only'), { what: 'the request metric' });
    assert.match(line, /http_response_status_code="408"/);
    assert.doesNotMatch(line, /error_type=/);
  });

  it('after part of the response went out: no 408 anywhere, the status sent and `timeout`', async () => {
    const answer = await stalledUpload(port, '/partial');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(answer, /408/, 'node:http sent no 408 after the 200');
    const span = await serverSpan('/partial');
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.attributes['error.type'], 'timeout');
    assert.equal(span.status.code, 2);
    assert.doesNotMatch(String(span.status.message), /408/, 'it does not claim a 408 went out');
    const line = await waitFor(() => series('/partial'), { what: 'the request metric' });
    assert.match(line, /http_response_status_code="200"/);
    assert.match(line, /error_type="timeout"/);
  });

  it('on a server with a clientError listener: Node sends nothing, no 408 recorded', async () => {
    const answer = await stalledUpload(portWithListener, '/listener');
    assert.equal(answer, '', 'the listener destroyed the socket; node:http wrote nothing');
    const span = await serverSpan('/listener');
    assert.equal(span.attributes['http.response.status_code'], undefined);
    assert.equal(span.attributes['error.type'], 'timeout');
    assert.equal(span.status.code, 2);
    const line = await waitFor(() => series('/listener'), { what: 'the request metric' });
    assert.doesNotMatch(line, /http_response_status_code=/);
    assert.match(line, /error_type="timeout"/);
  });
});
