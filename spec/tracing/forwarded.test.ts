/**
 * Behind a reverse proxy (TLS terminated there), the server span and the request metric describe
 * the request the client made, as the OpenTelemetry HTTP conventions ask: `url.scheme` from
 * `Forwarded: proto=` / `X-Forwarded-Proto`, `server.address`/`server.port` from `Forwarded: host=`
 * / `X-Forwarded-Host` — as `client.address` already came from `Forwarded: for=` /
 * `X-Forwarded-For`. They used to say `http` and the proxy's upstream host.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { forwardedHost, forwardedParam, forwardedProto } from '../../lib/core/forwarded.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const tracer = createOtelTracer({ serviceName: 'forwarded', exporter: 'memory' });
const metrics = createMetrics({});
const app = createApp({ tracer, metrics });
let server: Server;
let port = 0;

before(async () => {
  const handler = traceHandler(app.ctx, (_ctx, _req, res) => res.end('ok'), { route: '/f' });
  server = createServer(metrics.instrument(handler, { route: (req) => req.url }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

/** GET `path` with `headers` (node:http, so that Host and the others are sent as given). */
function get(path: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

const span = (path: string) => tracer.finishedSpans().find((s) => s.attributes['url.path'] === path)!;

describe('a malformed Host header', () => {
  it('a port over 65535 or a name with a space is not recorded: server.address / server.port come from the socket', async () => {
    for (const [path, host] of [
      ['/host-port', 'shop.example.com:99999'],
      ['/host-space', 'a b'],
      ['/host-v6-space', '[::1 x]:80'],
    ] as const) {
      await get(path, { host });
      const a = span(path).attributes;
      assert.equal(a['server.address'], '127.0.0.1', `${host}: ${a['server.address']}`);
      assert.equal(a['server.port'], port, `${host}: ${a['server.port']}`);
    }
    await get('/host-ok', { host: 'shop.example.com:65535' });
    assert.equal(span('/host-ok').attributes['server.port'], 65535);
  });
});

describe('requests through a reverse proxy', () => {
  it('X-Forwarded-Proto / X-Forwarded-Host: url.scheme, server.address and server.port of the original request', async () => {
    await get('/xf', {
      host: 'backend:8080',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'shop.example.com',
      'x-forwarded-for': '203.0.113.9, 10.0.0.2',
    });
    const a = span('/xf').attributes;
    assert.equal(a['url.scheme'], 'https');
    assert.equal(a['server.address'], 'shop.example.com');
    assert.equal(a['server.port'], 443, 'the default port of the forwarded scheme');
    assert.equal(a['client.address'], '203.0.113.9');
    assert.match((await metrics.render()).body, /_count\{[^}]*http_route="\/xf",[^}]*url_scheme="https"/);
  });

  it('Forwarded (RFC 7239) wins, quoted host with its port', async () => {
    await get('/fw', {
      host: 'backend:8080',
      forwarded: 'for=198.51.100.7;proto=https;host="shop.example.com:8443", for=10.0.0.2;proto=http',
      'x-forwarded-proto': 'http',
    });
    const a = span('/fw').attributes;
    assert.equal(a['url.scheme'], 'https');
    assert.equal(a['server.address'], 'shop.example.com');
    assert.equal(a['server.port'], 8443);
    assert.equal(a['client.address'], '198.51.100.7');
  });

  it('Forwarded for= with a port, or no address (unknown, obfuscated): client.address is the address alone, else the next source', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['/for-v4-port', { forwarded: 'for="192.0.2.43:47011";proto=https' }, '192.0.2.43'],
      ['/for-v6-port', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, '2001:db8:cafe::17'],
      ['/for-v6', { forwarded: 'for="[2001:db8:cafe::17]"' }, '2001:db8:cafe::17'],
      ['/for-unknown', { forwarded: 'for=unknown', 'x-forwarded-for': '203.0.113.5' }, '203.0.113.5'],
      ['/for-hidden', { forwarded: 'for=_hidden' }, '127.0.0.1'],
    ];
    for (const [path, headers] of cases) await get(path, { host: 'backend:8080', ...headers });
    for (const [path, , expected] of cases)
      assert.equal(span(path).attributes['client.address'], expected, path);
  });

  it('a malformed Forwarded for= / host= (bracket or quote left open, no IP address, port over 65535) is ignored: the next source is used', async () => {
    // Each used to be recorded as far as a lenient pattern read it: `for="[::1"` gave ::1,
    // `for=hello` gave hello, `host="ex.com` gave server.address `"ex.com`.
    const xff = { 'x-forwarded-for': '203.0.113.5' };
    const cases: [string, Record<string, string>, string][] = [
      ['/bad-v6-open', { forwarded: 'for="[::1"', ...xff }, '203.0.113.5'],
      ['/bad-v6-close', { forwarded: 'for="::1]"', ...xff }, '203.0.113.5'],
      ['/bad-quote-open', { forwarded: 'for="192.0.2.1', ...xff }, '203.0.113.5'],
      ['/bad-quote-trail', { forwarded: 'for="192.0.2.1"x', ...xff }, '203.0.113.5'],
      ['/bad-name', { forwarded: 'for=hello', ...xff }, '203.0.113.5'],
      ['/bad-markup', { forwarded: 'for="<script>"', ...xff }, '203.0.113.5'],
      ['/bad-v4', { forwarded: 'for=999.1.1.1', ...xff }, '203.0.113.5'],
      ['/bad-port', { forwarded: 'for="[2001:db8::1]:99999"', ...xff }, '203.0.113.5'],
      ['/bad-xff', { 'x-forwarded-for': 'not-an-ip' }, '127.0.0.1'],
      ['/xff-port', { 'x-forwarded-for': '198.51.100.4:51234' }, '198.51.100.4'],
      ['/obf-port', { forwarded: 'for="192.0.2.9:_p1"' }, '192.0.2.9'],
    ];
    for (const [path, headers] of cases) await get(path, { host: 'backend:8080', ...headers });
    for (const [path, , expected] of cases)
      assert.equal(span(path).attributes['client.address'], expected, path);
    await get('/bad-host', { host: 'backend:8080', forwarded: 'host="shop.example.com' });
    assert.equal(span('/bad-host').attributes['server.address'], 'backend');
    assert.equal(forwardedParam({ forwarded: 'host=ex"com' }, 'host'), undefined);
    assert.equal(forwardedParam({ forwarded: 'host="ex.com"' }, 'host'), 'ex.com');
  });

  it('a proxy-reported host that does not parse (port over 65535, space in the name) is skipped for the next source, not for the socket', async () => {
    // Each recorded the local socket's address and port, the valid Host beside it unread.
    const cases: [string, Record<string, string>, string, number][] = [
      ['/xfh-port', { 'x-forwarded-host': 'shop.example.com:99999' }, 'backend', 8080],
      ['/xfh-space', { 'x-forwarded-host': 'shop example.com' }, 'backend', 8080],
      ['/fw-host-space', { forwarded: 'host="shop example.com"' }, 'backend', 8080],
      [
        '/fw-host-port-xfh',
        { forwarded: 'host="shop.example.com:70000"', 'x-forwarded-host': 'www.example.com:8443' },
        'www.example.com',
        8443,
      ],
    ];
    for (const [path, headers] of cases) await get(path, { host: 'backend:8080', ...headers });
    for (const [path, , address, serverPort] of cases) {
      const a = span(path).attributes;
      assert.equal(a['server.address'], address, path);
      assert.equal(a['server.port'], serverPort, path);
    }
  });

  it('without proxy headers, or with a scheme that is neither http nor https: the connection and Host', async () => {
    await get('/plain', { host: 'api.example.com:8080' });
    await get('/bogus', { host: 'api.example.com', 'x-forwarded-proto': 'gopher' });
    const plain = span('/plain').attributes;
    assert.equal(plain['url.scheme'], 'http');
    assert.equal(plain['server.address'], 'api.example.com');
    assert.equal(plain['server.port'], 8080);
    const bogus = span('/bogus').attributes;
    assert.equal(bogus['url.scheme'], 'http');
    assert.equal(bogus['server.port'], 80);
    const body = (await metrics.render()).body;
    assert.doesNotMatch(body, /gopher/, 'a client cannot invent url_scheme values');
  });

  it('the header helpers', () => {
    assert.equal(forwardedProto({ 'x-forwarded-proto': 'HTTPS, http' }), 'https');
    assert.equal(forwardedProto({ forwarded: 'proto="https"' }), 'https');
    assert.equal(forwardedProto({ forwarded: 'for=a', 'x-forwarded-proto': 'https' }), 'https');
    assert.equal(forwardedProto({ 'x-forwarded-proto': 'ws' }), undefined);
    assert.equal(forwardedProto({}), undefined);
    assert.equal(forwardedHost({ 'x-forwarded-host': 'a.example, b.example' }), 'a.example');
    assert.equal(forwardedHost({ forwarded: 'Host=a.example:81;proto=https' }), 'a.example:81');
    assert.equal(forwardedHost({}), undefined);
    assert.equal(forwardedParam({ forwarded: 'for=x;host=' }, 'host'), undefined);
  });
});
