/**
 * The fast paths of traceHandler / tracedFetch give what the general code gave: `url.full` without
 * the redaction copy, the `Host` header without the regex (properties against the previous code),
 * the request headers as a plain object (every `init.headers` form still sent as before), one
 * end-of-response listener (span ended once, aborted requests still marked).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { type App, createApp } from '../../lib/core/app.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer, type OtelTracer } from '../../lib/tracing/otel/index.js';
import { fullUrl, parseHost, redactUrl } from '../../lib/tracing/semconv.js';
import { waitFor } from '../harness/process.js';

/**
 * The `Host` parser before the fast path: the reference — with the later rule that a name with
 * whitespace and a port over 65535 are malformed (forwarded.test.ts).
 */
function parseHostRegex(host: string): { address: string; port: number | undefined } | undefined {
  const m = /^(\[[^\]\s]+\]|[^:\s]+)(?::(\d+))?$/.exec(host.trim());
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : undefined;
  if (port !== undefined && port > 65535) return undefined;
  return { address: m[1]!.replace(/^\[|\]$/g, ''), port };
}

const piece = (chars: string, max = 8) =>
  fc.array(fc.constantFrom(...chars.split('')), { maxLength: max }).map((a) => a.join(''));

/** URLs with and without credentials, query (sensitive names too), `@` / `?` in odd places, hash. */
const urlArb = fc
  .record({
    scheme: fc.constantFrom('http', 'https'),
    user: fc.option(piece('abz09%40:', 6), { nil: undefined }),
    host: fc.constantFrom('127.0.0.1', 'example.com', '[::1]', 'xn--bcher-kva.example'),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    path: piece('ab/@%20.-~', 12),
    query: fc.option(
      fc.array(
        fc.tuple(fc.constantFrom('token', 'Signature', 'page', 'a b', 'key', 'x', ''), piece('ab1=@?', 4)),
        { maxLength: 4 },
      ),
      { nil: undefined },
    ),
    hash: fc.option(piece('ab?@', 4), { nil: undefined }),
  })
  .map((u) => {
    const auth = u.user === undefined ? '' : `${u.user}@`;
    const port = u.port === undefined ? '' : `:${u.port}`;
    const query = u.query === undefined ? '' : `?${u.query.map(([k, v]) => `${k}=${v}`).join('&')}`;
    const hash = u.hash === undefined ? '' : `#${u.hash}`;
    return `${u.scheme}://${auth}${u.host}${port}/${u.path}${query}${hash}`;
  });

describe('fast paths against the previous code', () => {
  it('fullUrl(url) equals redactUrl(url) (credentials and query values redacted, others as is)', () => {
    fc.assert(
      fc.property(urlArb, (s) => {
        let url: URL;
        try {
          url = new URL(s);
        } catch {
          return; // not a URL: tracedFetch throws before either runs
        }
        assert.equal(fullUrl(url), redactUrl(url));
      }),
      { numRuns: 2000 },
    );
    assert.equal(fullUrl(new URL('http://h:81/a/b')), 'http://h:81/a/b');
    assert.equal(fullUrl(new URL('http://u:p@h/a')), 'http://REDACTED:REDACTED@h/a');
    assert.equal(fullUrl(new URL('http://h/a?token=x&b=1')), 'http://h/a?token=REDACTED&b=1');
  });

  it('parseHost(h) equals the regex parse, IPv6 in brackets included', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          piece('ab1:[]. \t', 10),
          fc
            .tuple(
              fc.constantFrom('localhost', '127.0.0.1', '[::1]', '[fe80::1%eth0]', 'a]', '[b'),
              piece('0129:', 6),
            )
            .map(([h, p]) => `${h}:${p}`),
          fc.string({ maxLength: 12 }),
        ),
        (h) => assert.deepEqual(parseHost(h), parseHostRegex(h)),
      ),
      { numRuns: 5000 },
    );
    assert.deepEqual(parseHost('[::1]:8080'), { address: '::1', port: 8080 });
    assert.deepEqual(parseHost('example.com'), { address: 'example.com', port: undefined });
    assert.deepEqual(parseHost('example.com:0080'), { address: 'example.com', port: 80 });
    assert.equal(parseHost('a:b:c'), undefined);
    assert.equal(parseHost('host:'), undefined);
    for (const h of ['h:12345678901234567890', 'h:9007199254740993', ' h:1 ', ':80'])
      assert.deepEqual(parseHost(h), parseHostRegex(h), h);
  });
});

describe('tracedFetch request headers and traceHandler end-of-response', () => {
  const servers: Server[] = [];
  const tracer: OtelTracer = createOtelTracer({ exporter: 'memory', serviceName: 'fast-paths' });
  const app: App = createApp({ tracer });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await app.close();
  });
  const listen = async (listener: Parameters<typeof createServer>[1]) => {
    const server = createServer(listener);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  };

  it('plain objects, Headers, arrays and no headers: the caller’s headers plus one traceparent', async () => {
    let raw: string[] = [];
    const url = await listen((req, res) => {
      raw = req.rawHeaders;
      res.end('x');
    });
    const caller = tracer.startSpan('caller');
    const ctx = app.ctx.with({ span: caller, baggage: { tenant: 'acme' } });
    const stale = '00-11111111111111111111111111111111-2222222222222222-01';
    const forms: [string, RequestInit['headers']][] = [
      ['none', undefined],
      ['plain', { 'X-Custom': '1', Traceparent: stale }],
      ['null prototype', Object.assign(Object.create(null) as Record<string, string>, { 'x-custom': '1' })],
      ['Headers', new Headers({ 'x-custom': '1', traceparent: stale })],
      [
        'array',
        [
          ['x-custom', '1'],
          ['TRACEPARENT', stale],
        ],
      ],
    ];
    for (const [form, headers] of forms) {
      await (await tracedFetch(ctx, `${url}/h`, { headers }, { name: `form ${form}` })).text();
      const seen = new Map<string, string[]>();
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i]!.toLowerCase();
        seen.set(k, [...(seen.get(k) ?? []), raw[i + 1]!]);
      }
      const span = tracer.finishedSpans().find((s) => s.name === `form ${form}`)!;
      const traceparent = seen.get('traceparent');
      assert.equal(traceparent?.length, 1, `${form}: one traceparent`);
      assert.equal(traceparent[0]!.split('-')[2], span.spanContext().spanId, `${form}: the client span's`);
      assert.deepEqual(seen.get('baggage'), ['tenant=acme'], form);
      if (form !== 'none') assert.deepEqual(seen.get('x-custom'), ['1'], form);
    }
    caller.end();
  });

  it('credentials become basic auth unless the caller set authorization (any case)', async () => {
    let auth: string | undefined;
    const url = await listen((req, res) => {
      auth = req.headers.authorization;
      res.end('x');
    });
    const withCreds = url.replace('http://', 'http://us%40er:p%3Aw@');
    await (await tracedFetch(app.ctx, `${withCreds}/a`)).text();
    assert.equal(auth, `Basic ${Buffer.from('us@er:p:w').toString('base64')}`);
    await (await tracedFetch(app.ctx, `${withCreds}/a`, { headers: { Authorization: 'Bearer t' } })).text();
    assert.equal(auth, 'Bearer t');
  });

  it('one span per response, ended once: completed, aborted and thrown-after-end', async () => {
    let release: (() => void) | undefined;
    const url = await listen(
      traceHandler(
        app.ctx,
        (_ctx, req, res) => {
          if (req.url === '/slow') {
            release = () => res.end('late');
            return;
          }
          res.end('ok');
          if (req.url === '/throw') throw new Error('after end');
        },
        { route: '/end' },
      ),
    );
    const count = () => tracer.finishedSpans().filter((s) => s.name === 'GET /end');
    await (await fetch(`${url}/ok`)).text();
    await (await fetch(`${url}/throw`)).text();
    const ac = new AbortController();
    const pending = fetch(`${url}/slow`, { signal: ac.signal }).catch(() => 'aborted');
    await waitFor(() => release, { what: 'the slow handler' });
    ac.abort();
    await pending;
    await waitFor(() => count().length === 3 || undefined, { what: 'three server spans' });
    release?.();
    await new Promise((r) => setTimeout(r, 50));
    const spans = count();
    assert.equal(spans.length, 3, 'each ended once');
    const types = spans.map((s) => s.attributes['error.type']).sort();
    assert.deepEqual(types, ['Error', 'aborted', undefined]);
  });
});
