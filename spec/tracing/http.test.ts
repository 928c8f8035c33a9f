/** The HTTP helpers over real `node:http` servers and `fetch`, with the OTel tracer and the no-op one. */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { type App, createApp } from '../../lib/core/app.js';
import type { AppContext } from '../../lib/core/context.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import type { FinishedSpan as ReadableSpan } from '../../lib/tracing/otel/index.js';
import { createOtelTracer, type OtelTracer } from '../../lib/tracing/otel/index.js';
import { reloadSemconvOptIn } from '../../lib/tracing/semconv.js';
import { freePort, waitFor } from '../harness/process.js';

const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function serve(listener: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('traceHandler and tracedFetch (OpenTelemetry tracer)', () => {
  const servers: Server[] = [];
  let tracer: OtelTracer;
  let app: App;
  const setup = () => {
    tracer = createOtelTracer({ exporter: 'memory', serviceName: 'http-test' });
    app = createApp({ tracer });
    return app.ctx;
  };
  const ctx0 = setup();
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await app.close();
  });
  const listen = async (listener: Parameters<typeof createServer>[1]) => {
    const s = await serve(listener);
    servers.push(s.server);
    return s.url;
  };
  const finished = (name: string): ReadableSpan => {
    const found = tracer.finishedSpans().filter((s) => s.name === name);
    assert.equal(found.length, 1, `one span named ${name}: ${tracer.finishedSpans().map((s) => s.name)}`);
    return found[0]!;
  };
  const waitSpan = (name: string) =>
    waitFor(() => tracer.finishedSpans().find((s) => s.name === name), {
      what: `span ${name}`,
      timeoutMs: 5000,
    });

  it('server span continues the incoming trace and carries route, method, status, baggage', async () => {
    let seen: AppContext | undefined;
    const url = await listen(
      traceHandler(
        ctx0,
        (ctx, _req, res) => {
          seen = ctx;
          res.statusCode = 201;
          res.end('created');
        },
        { route: '/users/:id' },
      ),
    );
    const res = await fetch(`${url}/users/7?secret=1`, {
      method: 'POST',
      headers: { traceparent: INCOMING, baggage: 'tenant=acme', 'user-agent': 'spec' },
    });
    assert.equal(res.status, 201);
    await res.text();
    const span = await waitSpan('POST /users/:id');
    assert.equal(span.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(span.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(span.kind, 1); // SERVER
    assert.equal(span.attributes['http.route'], '/users/:id');
    assert.equal(span.attributes['http.request.method'], 'POST');
    assert.equal(span.attributes['url.path'], '/users/7');
    assert.equal(span.attributes['http.response.status_code'], 201);
    assert.equal(span.attributes['user_agent.original'], 'spec');
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(seen?.span?.spanContext().spanId, span.spanContext().spanId);
    assert.deepEqual(seen?.baggage, { tenant: 'acme' });
  });

  it('5xx responses set the error status; 4xx do not (server side)', async () => {
    const url = await listen(
      traceHandler(
        ctx0,
        (_ctx, req, res) => {
          res.statusCode = req.url === '/a' ? 503 : 404;
          res.end();
        },
        { route: '/status' },
      ),
    );
    await (await fetch(`${url}/a`)).text();
    await (await fetch(`${url}/b`)).text();
    await waitFor(() => tracer.finishedSpans().filter((s) => s.name === 'GET /status').length === 2, {
      what: 'two spans',
    });
    const spans = tracer.finishedSpans().filter((s) => s.name === 'GET /status');
    const byStatus = new Map(spans.map((s) => [s.attributes['http.response.status_code'], s.status.code]));
    assert.equal(byStatus.get(503), SpanStatusCode.ERROR);
    assert.equal(byStatus.get(404), SpanStatusCode.UNSET);
    const errorType = new Map(
      spans.map((s) => [s.attributes['http.response.status_code'], s.attributes['error.type']]),
    );
    assert.equal(errorType.get(503), '503', 'a failing server span names the status');
    assert.equal(errorType.get(404), undefined, "a 4xx is the client's error, not the server's");
  });

  it('server spans carry url.scheme, server/client/peer addresses and a redacted url.query', async () => {
    const url = await listen(traceHandler(ctx0, (_ctx, _req, res) => res.end('ok'), { route: '/q' }));
    const port = Number(new URL(url).port);
    await (
      await fetch(`${url}/q?user=7&access_token=abc&Signature=s%3D&sig=x&page=2`, {
        headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' },
      })
    ).text();
    const span = await waitSpan('GET /q');
    const a = span.attributes;
    assert.equal(a['url.scheme'], 'http');
    assert.equal(a['url.path'], '/q');
    assert.equal(a['url.query'], 'user=7&access_token=REDACTED&Signature=REDACTED&sig=REDACTED&page=2');
    assert.equal(a['server.address'], '127.0.0.1');
    assert.equal(a['server.port'], port);
    assert.equal(a['client.address'], '203.0.113.9', 'the first X-Forwarded-For address');
    assert.equal(a['network.peer.address'], '127.0.0.1');
    assert.equal(typeof a['network.peer.port'], 'number');
    assert.equal(a['http.response.status_code'], 200);
    for (const old of ['http.method', 'http.status_code', 'http.target', 'net.host.name', 'http.scheme'])
      assert.equal(a[old], undefined, `no deprecated ${old} by default`);
  });

  it('OTEL_SEMCONV_STABILITY_OPT_IN=http/dup adds the deprecated HTTP attributes next to the stable ones', async () => {
    const saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    // Read once, not per span: a handler created before the change keeps stable names only.
    const before = traceHandler(ctx0, (_ctx, _req, res) => res.end('ok'), { route: '/before-dup' });
    process.env.OTEL_SEMCONV_STABILITY_OPT_IN = 'database, http/dup';
    reloadSemconvOptIn();
    try {
      const url = await listen(traceHandler(ctx0, (_ctx, _req, res) => res.end('ok'), { route: '/dup' }));
      const urlBefore = await listen(before);
      await (await fetch(`${urlBefore}/before-dup`)).text();
      assert.equal((await waitSpan('GET /before-dup')).attributes['http.method'], undefined);
      await (await tracedFetch(ctx0, `${url}/dup?a=1`, {}, { name: 'dup-client' })).text();
      const server = (await waitSpan('GET /dup')).attributes;
      assert.equal(server['http.method'], 'GET');
      assert.equal(server['http.request.method'], 'GET');
      assert.equal(server['http.status_code'], 200);
      assert.equal(server['http.target'], '/dup?a=1');
      assert.equal(server['http.scheme'], 'http');
      assert.equal(server['net.host.port'], Number(new URL(url).port));
      const client = finished('dup-client').attributes;
      assert.equal(client['http.url'], `${url}/dup?a=1`);
      assert.equal(client['http.status_code'], 200);
      assert.equal(client['net.peer.name'], '127.0.0.1');
    } finally {
      if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
      else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved;
      reloadSemconvOptIn();
    }
  });

  // The conventions: an instrumentation that may record a valid method as `_OTHER` MUST let the
  // known list be replaced, by OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS when by a variable (a full,
  // case-sensitive override). There was no way: a WebDAV server's PROPFIND was always `_OTHER`.
  it('OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the known methods (server and client spans)', async () => {
    const saved = process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
    process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = 'GET, PROPFIND';
    reloadSemconvOptIn();
    try {
      const url = await listen(traceHandler(ctx0, (_ctx, _req, res) => res.end('ok'), { route: '/dav' }));
      await (await tracedFetch(ctx0, `${url}/dav`, { method: 'PROPFIND' }, { name: 'dav-client' })).text();
      const server = (await waitSpan('PROPFIND /dav')).attributes;
      assert.equal(server['http.request.method'], 'PROPFIND');
      assert.equal(server['http.request.method_original'], undefined);
      const client = finished('dav-client').attributes;
      assert.equal(client['http.request.method'], 'PROPFIND');
      // A full override: a default method left out of the list is `_OTHER` now.
      await (await tracedFetch(ctx0, `${url}/dav`, { method: 'DELETE' }, { name: 'dav-delete' })).text();
      assert.equal(finished('dav-delete').attributes['http.request.method'], '_OTHER');
      assert.equal((await waitSpan('HTTP /dav')).attributes['http.request.method_original'], 'DELETE');
    } finally {
      if (saved === undefined) delete process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
      else process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = saved;
      reloadSemconvOptIn();
    }
    // Unset again: the defaults.
    const url = await listen(traceHandler(ctx0, (_ctx, _req, res) => res.end('ok'), { route: '/dav-after' }));
    await (await fetch(`${url}/dav-after`, { method: 'PROPFIND' })).text();
    assert.equal((await waitSpan('HTTP /dav-after')).attributes['http.request.method'], '_OTHER');
  });

  it('a throwing or rejecting handler yields a 500 and a recorded exception, the server survives', async () => {
    const url = await listen(
      traceHandler(
        ctx0,
        (_ctx, req) => {
          if (req.url === '/sync') throw new Error('sync failure');
          return Promise.reject(new Error('async failure'));
        },
        { route: '/broken' },
      ),
    );
    for (const path of ['/sync', '/async']) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 500);
      await res.text();
    }
    await waitFor(() => tracer.finishedSpans().filter((s) => s.name === 'GET /broken').length === 2, {
      what: 'two spans',
    });
    const messages = tracer
      .finishedSpans()
      .filter((s) => s.name === 'GET /broken')
      .map((s) => {
        assert.equal(s.status.code, SpanStatusCode.ERROR);
        return s.events.find((e) => e.name === 'exception')?.attributes?.['exception.message'];
      })
      .sort();
    assert.deepEqual(messages, ['async failure', 'sync failure']);
    for (const s of tracer.finishedSpans().filter((s) => s.name === 'GET /broken'))
      assert.equal(s.attributes['error.type'], 'Error', 'a thrown error names its class');
  });

  it('tracedFetch: client span, injected headers, status, credentials kept out of url.full', async () => {
    let received: IncomingHttpHeaders = {};
    const url = await listen((req, res) => {
      received = req.headers;
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end('x');
    });
    const { ctx, span: parent } = (() => {
      const s = tracer.startSpan('caller');
      return { ctx: ctx0.with({ span: s, baggage: { tenant: 'acme' } }), span: s };
    })();
    const withCreds = url.replace('http://', 'http://user:pw@');
    const res = await tracedFetch(ctx, `${withCreds}/ok?q=1`, { headers: { 'x-custom': '1' } });
    assert.equal(res.status, 200);
    assert.equal(received.authorization, `Basic ${Buffer.from('user:pw').toString('base64')}`);
    assert.equal(received['x-custom'], '1');
    await res.text();
    const miss = await tracedFetch(ctx, `${url}/missing`, { method: 'post' }, { name: 'lookup' });
    await miss.text();
    parent.end();

    const ok = finished('GET');
    assert.equal(ok.kind, 2); // CLIENT
    assert.equal(ok.parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.equal(ok.attributes['http.response.status_code'], 200);
    // Credentials in url.full are replaced, as the HTTP conventions ask.
    assert.equal(ok.attributes['url.full'], `${url.replace('http://', 'http://REDACTED:REDACTED@')}/ok?q=1`);
    assert.equal(ok.attributes['error.type'], undefined);
    assert.equal(ok.attributes['server.address'], '127.0.0.1');
    const lookup = finished('lookup');
    assert.equal(lookup.attributes['http.request.method'], 'POST');
    assert.equal(lookup.status.code, SpanStatusCode.ERROR);
    assert.equal(lookup.attributes['error.type'], '404', 'a client span with status ≥ 400 names it');
    // The last request carried the client span's context, baggage, and the caller's own header.
    assert.equal(String(received.traceparent).split('-')[2], lookup.spanContext().spanId);
    assert.equal(received.baggage, 'tenant=acme');
    assert.equal(received['x-custom'], undefined, 'headers of the first call only');
    assert.equal(received.authorization, undefined);
  });

  // The client span wrote `[::1]` (the URL's hostname) where the server span of the same call
  // wrote `::1`: one address in two forms, so the two ends did not match on server.address.
  it('tracedFetch to an IPv6 literal: server.address is the bare address, as on the server span', async () => {
    const server = createServer(traceHandler(ctx0, (_ctx, _req, res) => res.end('v6'), { route: '/v6' }));
    await new Promise<void>((r) => server.listen(0, '::1', r));
    servers.push(server);
    const port = (server.address() as { port: number }).port;
    const res = await tracedFetch(ctx0, `http://[::1]:${port}/v6`, {}, { name: 'to-v6' });
    assert.equal(await res.text(), 'v6');
    const client = finished('to-v6');
    assert.equal(client.attributes['server.address'], '::1');
    assert.equal(client.attributes['server.port'], port);
    assert.equal(client.attributes['url.full'], `http://[::1]:${port}/v6`);
    const serverSpan = await waitSpan('GET /v6');
    assert.equal(serverSpan.attributes['server.address'], client.attributes['server.address']);
  });

  // As the README says: a followed redirect stays in the one client span (the conventions'
  // "top-most operation" span), with the URL requested and the final status; `manual` keeps the 3xx.
  it('tracedFetch: a followed redirect is one client span with the URL requested and the final status', async () => {
    const parents: string[] = [];
    const url = await listen((req, res) => {
      parents.push(String(req.headers.traceparent).split('-')[2] ?? '');
      if (req.url === '/moved') res.writeHead(302, { location: '/gone' }).end();
      else res.writeHead(404).end();
    });
    await (await tracedFetch(ctx0, `${url}/moved`, {}, { name: 'followed' })).arrayBuffer();
    const followed = finished('followed');
    assert.equal(followed.attributes['url.full'], `${url}/moved`);
    assert.equal(followed.attributes['http.response.status_code'], 404);
    assert.equal(followed.attributes['error.type'], '404');
    assert.deepEqual(parents, [followed.spanContext().spanId, followed.spanContext().spanId]);

    const res = await tracedFetch(ctx0, `${url}/moved`, { redirect: 'manual' }, { name: 'manual' });
    await res.arrayBuffer();
    const manual = finished('manual');
    assert.equal(manual.attributes['http.response.status_code'], 302);
    assert.equal(manual.status.code, SpanStatusCode.UNSET);
  });

  it('tracedFetch: the span ends when fetch resolves; a body read aborted later is not on it', async () => {
    const url = await listen((_req, res) => {
      res.writeHead(200).write('partial'); // never ended
    });
    const ac = new AbortController();
    const res = await tracedFetch(ctx0, `${url}/hang`, { signal: ac.signal }, { name: 'headers-in' });
    const span = finished('headers-in');
    ac.abort();
    await assert.rejects(res.text(), { name: 'AbortError' });
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
    assert.equal(span.events.length, 0);
  });

  // fetch serves a `data:` URL itself: there is no server, and the span said `server.address: ""`,
  // `server.port: 80`.
  it('tracedFetch of a data: URL records no server.address / server.port', async () => {
    const res = await tracedFetch(ctx0, 'data:text/plain,hi', {}, { name: 'data-url' });
    assert.equal(await res.text(), 'hi');
    const { attributes } = finished('data-url');
    assert.equal(attributes['url.full'], 'data:text/plain,hi');
    assert.equal(attributes['http.response.status_code'], 200);
    assert.ok(!('server.address' in attributes), JSON.stringify(attributes));
    assert.ok(!('server.port' in attributes), JSON.stringify(attributes));
  });

  it('tracedFetch: a network error is recorded on the span and rethrown', async () => {
    const port = await freePort();
    await assert.rejects(tracedFetch(ctx0, `http://127.0.0.1:${port}/`, {}, { name: 'refused' }));
    const span = finished('refused');
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.ok(span.events.some((e) => e.name === 'exception'));
    assert.equal(span.attributes['error.type'], 'ECONNREFUSED');
  });

  it('ctx.signal aborts when the client goes away before the response', async () => {
    let signal: AbortSignal | undefined;
    const url = await listen(
      traceHandler(
        ctx0,
        (ctx) => {
          signal = ctx.signal;
          // Never responds: the client aborts.
        },
        { route: '/slow' },
      ),
    );
    const ac = new AbortController();
    const pending = fetch(`${url}/slow`, { signal: ac.signal }).catch(() => 'aborted');
    await waitFor(() => signal, { what: 'the handler to run' });
    ac.abort();
    assert.equal(await pending, 'aborted');
    await waitFor(() => signal?.aborted, { what: 'ctx.signal to abort' });
    const span = await waitSpan('GET /slow');
    assert.equal(span.attributes['error.type'], 'aborted');
  });
});

describe('traceHandler and tracedFetch (no-op tracer)', () => {
  it('pass the incoming trace context through to the next hop', async () => {
    const app = createApp();
    let downstream: IncomingHttpHeaders = {};
    const echo = await serve((req, res) => {
      downstream = req.headers;
      res.end();
    });
    const front = await serve(
      traceHandler(app.ctx, async (ctx, _req, res) => {
        await (await tracedFetch(ctx, echo.url)).text();
        res.end('ok');
      }),
    );
    try {
      const res = await fetch(front.url, { headers: { traceparent: INCOMING } });
      assert.equal(await res.text(), 'ok');
      assert.equal(downstream.traceparent, INCOMING);
    } finally {
      for (const s of [echo.server, front.server]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      await app.close();
    }
  });
});
