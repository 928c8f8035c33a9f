/**
 * A request node:http cuts at the server's `requestTimeout` (a body still arriving, a handler
 * that never answers): Node writes `408` on the socket itself and destroys it, and the response
 * closes unfinished — as when the client goes away. The server span said "the client went away
 * before the response completed" (`error.type` `aborted`) and the request metric
 * `error_type="aborted"`: the client was blamed for the server's own limit. Both now record the
 * `408` the client got — a 4xx on a server span: no error status, no `error.type` (the HTTP
 * conventions); they say `timeout` where Node could not send it (http-timeout-answer.test.ts). A
 * client that does go away is still `aborted`.
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

const tracer = createOtelTracer({ serviceName: 'http-request-timeout', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
let server: Server;
let port = 0;

before(async () => {
  // The handler answers once the whole body is in: a body that stops coming outlives requestTimeout.
  const handler = traceHandler(
    app.ctx,
    (_ctx, req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    },
    { route: '/upload' },
  );
  server = createServer(
    { requestTimeout: 1000, connectionsCheckingInterval: 100 },
    metrics.instrument(handler, { route: (req) => req.url }),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

/** Sends a chunked POST whose body never ends; resolves with what came back once the server closes. */
function stalledUpload(path: string, giveUpMs?: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(got));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n`);
    // Bounded either way: the client gives up at `giveUpMs`, or after 10 s at the latest.
    setTimeout(() => socket.destroy(), giveUpMs ?? 10_000).unref();
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
  it('is the 408 node:http answered on the server span and the request metric, not the client going away', async () => {
    const answer = await stalledUpload('/slow');
    assert.match(answer, /^HTTP\/1\.1 408 /, 'node:http answered 408 itself');
    const span = await serverSpan('/slow');
    assert.equal(span.attributes['http.response.status_code'], 408);
    assert.equal(span.attributes['error.type'], undefined, 'a 4xx on a server span is no error');
    assert.equal(span.status.code, 0);
    const line = await waitFor(() => series('/slow'), { what: 'the request metric' });
    assert.match(line, /http_response_status_code="408"/);
    assert.doesNotMatch(line, /error_type=/);
  });

  it('a client that gives up first is still aborted', async () => {
    await stalledUpload('/gone', 100);
    const span = await serverSpan('/gone');
    assert.equal(span.attributes['error.type'], 'aborted');
    const line = await waitFor(() => series('/gone'), { what: 'the request metric' });
    assert.match(line, /error_type="aborted"/);
  });
});
