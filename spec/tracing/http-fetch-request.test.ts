/**
 * `tracedFetch` given a `Request`, as `fetch` takes one: it was read as a URL string
 * ("[object Request]") and failed with TypeError Invalid URL before anything was sent.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { tracedFetch } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const tracer = createOtelTracer({ serviceName: 'fetch-request', exporter: 'memory' });
const app = createApp({ tracer });
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hang') {
      // Answers only after 5 s: the caller's signal ends the call first.
      const timer = setTimeout(() => res.end(), 5000);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          body,
          a: req.headers['x-a'],
          b: req.headers['x-b'],
          traceparent: req.headers.traceparent,
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

describe('tracedFetch with a Request', () => {
  it("sends the Request's method, headers and body, with the trace headers of its client span", async () => {
    const req = new Request(`${base}/orders?token=s3cret`, {
      method: 'POST',
      headers: { 'x-a': '1' },
      body: 'hello',
    });
    const res = await tracedFetch(app.ctx, req);
    const seen = (await res.json()) as Record<string, string | undefined>;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/orders?token=s3cret');
    assert.equal(seen.body, 'hello');
    assert.equal(seen.a, '1');
    const span = tracer.finishedSpans().find((s) => s.kind === 2 && s.name === 'POST');
    assert.ok(span, 'a client span named POST');
    assert.equal(span.attributes['http.request.method'], 'POST');
    assert.equal(span.attributes['url.full'], `${base}/orders?token=REDACTED`);
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(seen.traceparent?.split('-')[2], span.spanContext().spanId);
  });

  it('init overrides the Request as in fetch: method, and headers replacing its own', async () => {
    const req = new Request(`${base}/x`, { method: 'PUT', headers: { 'x-a': '1' }, body: 'b' });
    const res = await tracedFetch(app.ctx, req, { method: 'POST', headers: { 'x-b': '2' } });
    const seen = (await res.json()) as Record<string, string | undefined>;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.a, undefined);
    assert.equal(seen.b, '2');
    assert.ok(seen.traceparent);
  });

  it("honours the Request's own signal", async () => {
    const req = new Request(`${base}/hang`, { signal: AbortSignal.timeout(100) });
    await assert.rejects(tracedFetch(app.ctx, req), { name: 'TimeoutError' });
    const span = tracer
      .finishedSpans()
      .find((s) => s.kind === 2 && String(s.attributes['url.full']).endsWith('/hang'));
    assert.equal(span?.attributes['error.type'], 'TimeoutError');
  });

  it("init.signal null is no signal, as in fetch: neither the Request's own nor ctx.signal", async () => {
    // Both aborted already: a call that followed either would reject at once.
    const aborted = () =>
      new Request(`${base}/null-signal`, { signal: AbortSignal.abort(new Error('request')) });
    const plain = await fetch(aborted(), { signal: null });
    assert.equal(plain.status, 200);
    await plain.text();
    // It used to follow the Request's signal still (and ctx.signal), and rejected at once.
    const res = await tracedFetch(app.ctx, aborted(), { signal: null });
    assert.equal(((await res.json()) as { url: string }).url, '/null-signal');
    const ctx = app.ctx.with({ signal: AbortSignal.abort(new Error('ctx')) });
    const again = await tracedFetch(ctx, `${base}/null-signal`, { signal: null });
    assert.equal(again.status, 200);
    await again.text();
  });
});

describe('tracedFetch from JavaScript: null init and options', () => {
  it('tracedFetch(ctx, url, null) sends as fetch(url, null) does, with its client span; null options are none', async () => {
    // fetch takes `null` as no init; tracedFetch threw a TypeError (reading 'method' of null)
    // before anything was sent, and `null` options threw reading 'name'.
    const plain = await fetch(`${base}/null-init`, null as unknown as RequestInit);
    assert.equal(plain.status, 200);
    const res = await tracedFetch(app.ctx, `${base}/null-init`, null as unknown as RequestInit);
    const seen = (await res.json()) as Record<string, string | undefined>;
    assert.equal(seen.method, 'GET');
    const span = tracer
      .finishedSpans()
      .find((s) => s.kind === 2 && String(s.attributes['url.full']).endsWith('/null-init'));
    assert.ok(span, 'a client span');
    assert.equal(seen.traceparent?.split('-')[2], span.spanContext().spanId);
    const again = await tracedFetch(app.ctx, `${base}/null-options`, {}, null as never);
    assert.equal(again.status, 200);
    await again.text();
  });
});
