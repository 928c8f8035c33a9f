/**
 * `traceHandler` under node:http2's compatibility API (`http2.createServer(handler)`), which hands
 * node:http-shaped req/res to the same handler. A stream the client cancelled (RST_STREAM CANCEL,
 * or its session destroyed) before the handler ended the response reports `writableFinished`
 * there, though the response was never ended: its server span ended as complete — no
 * `error.type`, no error status, `ctx.signal` never aborted — where an HTTP/1 client going away
 * gives `error.type` `aborted` and the error status. The spans must now be the HTTP/1 ones.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { withHttpDup } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const tracer = createOtelTracer({ serviceName: 'http2-server-spans', exporter: 'memory' });
const app = createApp({ tracer });
/** Per path, called once its handler runs (the client cancels then). */
const onStarted = new Map<string, () => void>();
/** Paths whose `ctx.signal` aborted. */
const aborted = new Set<string>();

const handler = traceHandler(
  app.ctx,
  async (ctx, req, res) => {
    const path = req.url ?? '';
    if (path.startsWith('/ok')) {
      res.end('ok');
      return;
    }
    if (path.startsWith('/partial')) {
      res.writeHead(200);
      res.write('part');
    }
    onStarted.get(path)?.();
    // Never answered in full: waits for the client to go away (at most 5 s).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      ctx.signal?.addEventListener('abort', () => {
        aborted.add(path);
        clearTimeout(timer);
        resolve();
      });
    });
    if (!res.writableEnded && !res.destroyed) res.end('late');
  },
  { route: '/r' },
);

let h1: http.Server;
let h2: http2.Http2Server;
let h1Port = 0;
let h2Url = '';

before(async () => {
  h1 = http.createServer(handler);
  h2 = http2.createServer(handler as unknown as Parameters<typeof http2.createServer>[0]);
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  h1Port = (h1.address() as AddressInfo).port;
  h2Url = `http://127.0.0.1:${(h2.address() as AddressInfo).port}`;
});
after(async () => {
  h1.closeAllConnections();
  await new Promise((r) => h1.close(r));
  await new Promise((r) => h2.close(r));
  await app.close();
});

/** One HTTP/2 request on its own session: `cancel` once the handler ran (for /partial, once the headers arrived). */
function h2Call(path: string, cancel: 'none' | 'stream' | 'session'): Promise<void> {
  const client = http2.connect(h2Url);
  client.on('error', () => {});
  return new Promise<void>((resolve) => {
    const stream = client.request({ ':path': path });
    stream.on('error', () => {});
    stream.on('close', () => {
      client.destroy();
      resolve();
    });
    const cut = () => (cancel === 'stream' ? stream.close(http2.constants.NGHTTP2_CANCEL) : client.destroy());
    stream.on('response', () => {
      stream.resume();
      if (cancel !== 'none') cut();
    });
    if (cancel !== 'none' && !path.startsWith('/partial')) onStarted.set(path, () => setImmediate(cut));
    stream.end();
  });
}

/** One HTTP/1 request whose client socket is destroyed once the handler ran (for /partial, once the headers arrived). */
function h1Abort(path: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: h1Port, path, agent: false });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.on('response', (r) => {
      r.on('error', () => {});
      req.destroy();
    });
    if (!path.startsWith('/partial')) onStarted.set(path, () => setImmediate(() => req.destroy()));
  });
}

/** What the span of `path` records about its end. */
async function outcome(path: string) {
  const span = await waitFor(() => tracer.finishedSpans().find((s) => s.attributes['url.path'] === path), {
    what: `the span of ${path}`,
    timeoutMs: 5000,
  });
  return {
    status: span.attributes['http.response.status_code'],
    errorType: span.attributes['error.type'],
    code: span.status.code,
    message: span.status.message,
  };
}

const ERROR = 2;

describe('traceHandler on a node:http2 compatibility server', () => {
  it('a completed request: its status code, no error.type, no error status', async () => {
    await h2Call('/ok-h2', 'none');
    const got = await outcome('/ok-h2');
    assert.equal(got.status, 200);
    assert.equal(got.errorType, undefined);
    assert.notEqual(got.code, ERROR);
  });

  it('a stream cancelled before any answer ends its span as an HTTP/1 abort does', async () => {
    await h1Abort('/hang-h1');
    const h1Span = await outcome('/hang-h1');
    assert.equal(h1Span.errorType, 'aborted');
    assert.equal(h1Span.status, undefined);
    assert.equal(h1Span.code, ERROR);

    await h2Call('/hang-stream', 'stream');
    await h2Call('/hang-session', 'session');
    assert.deepEqual(await outcome('/hang-stream'), h1Span);
    assert.deepEqual(await outcome('/hang-session'), h1Span);
    await waitFor(() => aborted.has('/hang-stream') && aborted.has('/hang-session'), {
      what: 'ctx.signal of the cancelled streams aborted',
      timeoutMs: 5000,
    });
  });

  it('a stream cancelled after its headers went out keeps its status, and is aborted', async () => {
    await h1Abort('/partial-h1');
    const h1Span = await outcome('/partial-h1');
    assert.equal(h1Span.errorType, 'aborted');
    assert.equal(h1Span.status, 200);
    assert.equal(h1Span.code, ERROR);

    await h2Call('/partial-stream', 'stream');
    await h2Call('/partial-session', 'session');
    assert.deepEqual(await outcome('/partial-stream'), h1Span);
    assert.deepEqual(await outcome('/partial-session'), h1Span);
  });
});

describe('network.protocol.version of an HTTP/2 request', () => {
  it('is "2", as the conventions write it (node:http2 says httpVersion "2.0"); HTTP/1.1 stays "1.1"', async () => {
    await h2Call('/ok-version-h2', 'none');
    const span = await waitFor(
      () => tracer.finishedSpans().find((s) => s.attributes['url.path'] === '/ok-version-h2'),
      { what: 'the span of /ok-version-h2', timeoutMs: 5000 },
    );
    assert.equal(span.attributes['network.protocol.version'], '2');
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: h1Port, path: '/ok-version-h1', agent: false }, (r) => {
          r.resume();
          r.on('end', resolve);
        })
        .on('error', reject);
    });
    const h1Span = await waitFor(
      () => tracer.finishedSpans().find((s) => s.attributes['url.path'] === '/ok-version-h1'),
      { what: 'the span of /ok-version-h1', timeoutMs: 5000 },
    );
    assert.equal(h1Span.attributes['network.protocol.version'], '1.1');
  });

  it('the deprecated http.flavor (OTEL_SEMCONV_STABILITY_OPT_IN=http/dup) keeps its own "2.0"', () => {
    const dup = withHttpDup({ 'network.protocol.version': '2' }, 'server', {
      httpDup: true,
      databaseDup: false,
    });
    assert.equal(dup['network.protocol.version'], '2');
    assert.equal(dup['http.flavor'], '2.0');
  });
});

describe('server.address / server.port of an HTTP/2 request', () => {
  /** One HTTP/2 request carrying `authority` as its `:authority` pseudo-header. */
  const withAuthority = (path: string, authority: string) =>
    new Promise<void>((resolve, reject) => {
      const client = http2.connect(h2Url);
      client.on('error', reject);
      const stream = client.request({ ':path': path, ':authority': authority });
      stream.on('error', reject);
      stream.resume();
      stream.on('close', () => {
        client.close();
        resolve();
      });
      stream.end();
    });
  const spanOf = (path: string) =>
    waitFor(() => tracer.finishedSpans().find((s) => s.attributes['url.path'] === path), {
      what: `the span of ${path}`,
      timeoutMs: 5000,
    });

  // HTTP/2 has no Host header: the host the client asked for is `:authority`, which the
  // conventions list before Host. The span recorded the server socket's 127.0.0.1 and its port.
  it('come from the :authority pseudo-header, not the local socket', async () => {
    await withAuthority('/ok-authority-port', 'api.example.com:8443');
    const span = await spanOf('/ok-authority-port');
    assert.equal(span.attributes['server.address'], 'api.example.com');
    assert.equal(span.attributes['server.port'], 8443);
  });

  it("an :authority without a port gives the scheme's default port", async () => {
    await withAuthority('/ok-authority-bare', 'api.example.com');
    const span = await spanOf('/ok-authority-bare');
    assert.equal(span.attributes['server.address'], 'api.example.com');
    assert.equal(span.attributes['server.port'], 80);
  });

  it('a proxy-reported host (X-Forwarded-Host) still wins over :authority', async () => {
    await new Promise<void>((resolve, reject) => {
      const client = http2.connect(h2Url);
      client.on('error', reject);
      const stream = client.request({
        ':path': '/ok-authority-forwarded',
        ':authority': 'internal.svc:8080',
        'x-forwarded-host': 'shop.example.com',
      });
      stream.on('error', reject);
      stream.resume();
      stream.on('close', () => {
        client.close();
        resolve();
      });
      stream.end();
    });
    const span = await spanOf('/ok-authority-forwarded');
    assert.equal(span.attributes['server.address'], 'shop.example.com');
    assert.equal(span.attributes['server.port'], 80);
  });
});
