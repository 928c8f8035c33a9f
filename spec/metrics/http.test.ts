import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Span, SpanContext } from '../../lib/core/contracts.js';
import { MetricsError } from '../../lib/core/errors.js';
import { reloadKnownMethods } from '../../lib/core/http-methods.js';
import { noopLogger, noopMetrics, noopSpan } from '../../lib/core/noop.js';
import { negotiate, OPENMETRICS_TEXT, PROMETHEUS_TEXT } from '../../lib/metrics/prometheus/exposition.js';
import { sampledTraceId } from '../../lib/metrics/prometheus/http.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const OM_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function fakeSpan(sc: SpanContext): Span {
  return { ...noopSpan, spanContext: () => sc, isRecording: () => true } as Span;
}

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('prometheus metrics: HTTP', () => {
  // The known methods are the spans' (OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS): a PROPFIND made
  // known was its own method on the span and `_OTHER` in the request metrics.
  it('OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the known methods here too', async () => {
    const saved = process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
    process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = 'GET,PROPFIND';
    reloadKnownMethods();
    const m = createMetrics();
    try {
      for (const method of ['PROPFIND', 'DELETE', 'GET'])
        m.observeRequest({ method, route: '/dav', status: 207, seconds: 0.01 });
      const body = (await m.render()).body;
      assert.match(body, /http_request_method="PROPFIND"/);
      assert.match(body, /http_request_method="_OTHER"/, 'DELETE left out of the list');
      assert.doesNotMatch(body, /http_request_method="DELETE"/);
    } finally {
      await m.close();
      if (saved === undefined) delete process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
      else process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = saved;
      reloadKnownMethods();
    }
  });

  it('observeRequest refuses what it cannot record faithfully (typed MetricsError, nothing recorded); instrument() maps an empty route to unmatched', async () => {
    for (const naming of ['otel', 'legacy'] as const) {
      const m = createMetrics({ naming });
      const ok = { method: 'GET', route: '/users/:id', status: 200, seconds: 0.01 };
      const bad: [Record<string, unknown>, string, RegExp][] = [
        [{ route: undefined }, 'invalid_label', /route \(a route template/],
        [{ route: '' }, 'invalid_label', /route/],
        [{ route: 7 }, 'invalid_label', /route/],
        [{ status: 'abc' }, 'invalid_value', /status \(an HTTP status 100-999/],
        [{ status: 99999 }, 'invalid_value', /received 99999/],
        [{ status: 20.5 }, 'invalid_value', /status/],
        [{ seconds: -1 }, 'invalid_value', /seconds \(a finite duration >= 0\)/],
        [{ seconds: Number.NaN }, 'invalid_value', /seconds/],
        [{ seconds: Number.POSITIVE_INFINITY }, 'invalid_value', /seconds/],
      ];
      for (const [patch, code, message] of bad)
        assert.throws(
          () => m.observeRequest({ ...ok, ...patch } as never),
          (e: unknown) => e instanceof MetricsError && e.code === code && message.test(e.message),
          `${naming} ${JSON.stringify(patch)}`,
        );
      const before = await m.render();
      assert.doesNotMatch(before.body, /route="\/users\/:id"|NaN"|_sum\{[^}]*\} -/, naming);
      // Good observations still go through: a numeric string status and a response cut off.
      m.observeRequest({ ...ok, status: '404' });
      m.observeRequest({ ...ok, status: undefined });
      const body = (await m.render()).body;
      assert.match(body, naming === 'otel' ? /http_response_status_code="404"/ : /status="404"/, naming);
      await m.close();
    }
    const m = createMetrics();
    const server = createServer(m.instrument((_req, res) => res.end('ok'), { route: () => '' }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await (await fetch(`http://127.0.0.1:${port}/x`)).text();
    server.close();
    await m.close();
    assert.match((await m.render()).body, /http_route="unmatched"/);
  });

  it('observeHttpClient refuses what it cannot record faithfully, as observeRequest does (nothing recorded)', async () => {
    // It recorded a negative duration into _sum, and status/port NaN as "NaN" labels.
    const m = createMetrics();
    const ok = {
      method: 'GET',
      serverAddress: 'api.example',
      serverPort: 443,
      scheme: 'https',
      seconds: 0.01,
    };
    const bad: [Record<string, unknown>, string][] = [
      [{ seconds: -1 }, 'invalid_value'],
      [{ seconds: Number.NaN }, 'invalid_value'],
      [{ status: Number.NaN }, 'invalid_value'],
      [{ status: 0 }, 'invalid_value'],
      [{ serverPort: Number.NaN }, 'invalid_value'],
      [{ serverPort: -1 }, 'invalid_value'],
      [{ serverAddress: undefined }, 'invalid_label'],
      [{ scheme: '' }, 'invalid_label'],
      // Written as no label: a failed call counted as a success.
      [{ status: 503, errorType: '' }, 'invalid_label'],
    ];
    for (const [patch, code] of bad)
      assert.throws(
        () => m.observeHttpClient({ ...ok, ...patch } as never),
        (e: unknown) =>
          e instanceof MetricsError && e.code === code && /^observeHttpClient: /.test(e.message),
        JSON.stringify(patch),
      );
    assert.doesNotMatch(
      (await m.render()).body,
      /^http_client_request_duration_seconds_count/m,
      'nothing recorded',
    );
    m.observeHttpClient({ ...ok, status: 503, errorType: '503' });
    m.observeHttpClient({ ...ok, errorType: 'TypeError' });
    const lines = (await m.render()).body
      .split('\n')
      .filter((l) => l.startsWith('http_client_request_duration_seconds_count'));
    assert.equal(lines.length, 2, lines.join('\n'));
    await m.close();
  });

  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('negotiates OpenMetrics for Prometheus-style Accept headers, text otherwise', () => {
    assert.equal(negotiate(OM_ACCEPT), 'openmetrics');
    assert.equal(negotiate('application/openmetrics-text; version=1.0.0'), 'openmetrics');
    assert.equal(negotiate('text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5'), 'text');
    assert.equal(negotiate('application/openmetrics-text;q=0'), 'text');
    assert.equal(negotiate('*/*'), 'text');
    // Media types are case-insensitive (RFC 9110 §8.3.1).
    assert.equal(negotiate('Application/OpenMetrics-Text; Version=1.0.0'), 'openmetrics');
    assert.equal(negotiate('APPLICATION/OPENMETRICS-TEXT;Q=0.9, text/plain;q=0.5'), 'openmetrics');
    assert.equal(negotiate(undefined), 'text');
    assert.equal(negotiate('garbage;;;q=zz,application/openmetrics-text'), 'openmetrics');
  });

  it('instrument records http_server_request_duration_seconds labelled with the route template, never the raw path', async () => {
    const m = createMetrics({ namespace: 'hyperion' });
    const app = m.instrument(
      (req: IncomingMessage, res) => {
        res.statusCode = req.url?.endsWith('/404') ? 404 : req.url?.endsWith('/503') ? 503 : 200;
        res.end('ok');
      },
      { route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) },
    );
    const { url, server } = await serve(app);
    closers.push(() => new Promise((r) => server.close(r)));
    for (const id of ['1', '2', '3', '404', '503']) await (await fetch(`${url}/users/${id}`)).text();
    await (await fetch(`${url}/elsewhere`, { method: 'POST' })).text();
    await (await fetch(`${url}/users/9`, { method: 'PROPFIND' })).text();
    const body = (await m.render()).body;
    const lines = body
      .split('\n')
      .filter((l) => l.startsWith('hyperion_http_server_request_duration_seconds_count{'));
    const P = 'hyperion_http_server_request_duration_seconds_count';
    assert.deepEqual(lines.sort(), [
      `${P}{http_request_method="GET",http_route="/users/:id",http_response_status_code="200",url_scheme="http"} 3`,
      `${P}{http_request_method="GET",http_route="/users/:id",http_response_status_code="404",url_scheme="http"} 1`,
      `${P}{http_request_method="GET",http_route="/users/:id",http_response_status_code="503",url_scheme="http",error_type="503"} 1`,
      `${P}{http_request_method="POST",http_route="unmatched",http_response_status_code="200",url_scheme="http"} 1`,
      `${P}{http_request_method="_OTHER",http_route="/users/:id",http_response_status_code="200",url_scheme="http"} 1`,
    ]);
    assert.ok(!/\/users\/\d/.test(body), 'no raw path in any label');
    assert.ok(
      !body.includes('hyperion_requests_total'),
      'no separate request counter: the count is the histogram _count',
    );
    // The conventions' default buckets.
    const les = body
      .split('\n')
      .filter((l) => l.includes('http_response_status_code="404"') && l.includes('_bucket{'))
      .map((l) => /le="([^"]+)"/.exec(l)?.[1]);
    assert.deepEqual(les, [
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.075',
      '0.1',
      '0.25',
      '0.5',
      '0.75',
      '1',
      '2.5',
      '5',
      '7.5',
      '10',
      '+Inf',
    ]);
  });

  it("naming: 'legacy' keeps requests_total{method,route,status} and request_duration_seconds{method,route}", async () => {
    const m = createMetrics({ namespace: 'hyperion', naming: 'legacy' });
    const app = m.instrument(
      (req: IncomingMessage, res) => {
        res.statusCode = req.url?.endsWith('/404') ? 404 : 200;
        res.end('ok');
      },
      { route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) },
    );
    const { url, server } = await serve(app);
    closers.push(() => new Promise((r) => server.close(r)));
    for (const id of ['1', '2', '3', '404']) await (await fetch(`${url}/users/${id}`)).text();
    await (await fetch(`${url}/elsewhere`, { method: 'POST' })).text();
    await (await fetch(`${url}/users/9`, { method: 'PROPFIND' })).text();
    const body = (await m.render()).body;
    const lines = body.split('\n').filter((l) => l.startsWith('hyperion_requests_total{'));
    assert.deepEqual(lines.sort(), [
      'hyperion_requests_total{method="GET",route="/users/:id",status="200"} 3',
      'hyperion_requests_total{method="GET",route="/users/:id",status="404"} 1',
      'hyperion_requests_total{method="OTHER",route="/users/:id",status="200"} 1',
      'hyperion_requests_total{method="POST",route="unmatched",status="200"} 1',
    ]);
    assert.ok(body.includes('hyperion_request_duration_seconds_count{method="GET",route="/users/:id"} 4'));
    assert.ok(!body.includes('http_server_request_duration_seconds'));
  });

  it("naming: 'legacy' observeRequest() normalizes the method as instrument() does (a client could invent label values)", async () => {
    const m = createMetrics({ naming: 'legacy' });
    // A server of its own passing req.method as it came: lower case, made up, missing.
    for (const method of ['get', 'GET', 'PROPFIND', 'x'.repeat(40), undefined as unknown as string])
      m.observeRequest({ method, route: '/r', status: 200, seconds: 0.01 });
    const body = (await m.render()).body;
    assert.deepEqual(
      body
        .split('\n')
        .filter((l) => l.startsWith('requests_total{'))
        .sort(),
      [
        'requests_total{method="GET",route="/r",status="200"} 2',
        'requests_total{method="OTHER",route="/r",status="200"} 3',
      ],
    );
    assert.deepEqual(
      body
        .split('\n')
        .filter((l) => l.startsWith('request_duration_seconds_count{'))
        .sort(),
      [
        'request_duration_seconds_count{method="GET",route="/r"} 2',
        'request_duration_seconds_count{method="OTHER",route="/r"} 3',
      ],
    );
  });

  it('error_type names the class of an error thrown or rejected by the handler; the rejection still reaches the caller', async () => {
    const m = createMetrics();
    class PaymentDeclined extends Error {}
    const rejected: unknown[] = [];
    const inner = m.instrument(
      async () => {
        throw new PaymentDeclined('no');
      },
      { route: '/pay' },
    );
    // The outer server answers 500 once the handler's rejection reaches it.
    const { url, server } = await serve((req, res) => {
      (inner(req, res) as Promise<unknown>).catch((e) => {
        rejected.push(e);
        res.writeHead(500).end();
      });
    });
    closers.push(() => new Promise((r) => server.close(r)));
    await (await fetch(`${url}/pay`)).text();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(rejected.length, 1);
    assert.ok(rejected[0] instanceof PaymentDeclined);
    const body = (await m.render()).body;
    assert.match(
      body,
      /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/pay",http_response_status_code="500",url_scheme="http",error_type="PaymentDeclined"\} 1$/m,
    );
  });

  it('a rejection with an instance of an anonymous class is a failure (error_type "Object"), not a success', async () => {
    const m = createMetrics();
    // Built inline, so it gets no name from a binding (its constructor's name is '').
    const anonymous = [class {}][0]!;
    assert.equal(anonymous.name, '');
    const inner = m.instrument(
      async () => {
        throw new anonymous();
      },
      { route: '/anon' },
    );
    const { url, server } = await serve((req, res) => {
      (inner(req, res) as Promise<unknown>).catch(() => res.writeHead(400).end());
    });
    closers.push(() => new Promise((r) => server.close(r)));
    await (await fetch(`${url}/anon`)).text();
    await new Promise((r) => setTimeout(r, 10));
    // Before: the class name '' was written as no label, so the failed request counted as a success.
    assert.match(
      (await m.render()).body,
      /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/anon",http_response_status_code="400",url_scheme="http",error_type="Object"\} 1$/m,
    );
  });

  it('observeRequest refuses what it cannot record faithfully: no object, a non-string method, an empty scheme or errorType', async () => {
    const m = createMetrics();
    const ok = { method: 'GET', route: '/r', status: 500, seconds: 0.1 };
    const refused = (o: unknown, code: string, hint: RegExp) =>
      assert.throws(
        () => m.observeRequest(o as never),
        (e: unknown) => e instanceof MetricsError && e.code === code && hint.test(e.message),
      );
    // TypeErrors before.
    refused(null, 'invalid_value', /an observation object/);
    refused({ ...ok, method: 5 }, 'invalid_label', /method/);
    // Recorded before: a 500 with errorType '' had no error_type (a success), a scheme '' no
    // url_scheme (a label the conventions require), scheme 5 the label "5".
    refused({ ...ok, errorType: '' }, 'invalid_label', /errorType/);
    refused({ ...ok, scheme: '' }, 'invalid_label', /scheme/);
    refused({ ...ok, scheme: 5 }, 'invalid_label', /scheme/);
    assert.doesNotMatch((await m.render()).body, /^http_server_request_duration_seconds_count/m);
    m.observeRequest({ ...ok, scheme: 'https', errorType: 'Timeout' });
    assert.match(
      (await m.render()).body,
      /^http_server_request_duration_seconds_count\{[^}]*url_scheme="https",error_type="Timeout"\} 1$/m,
    );
  });

  it('instrument() around traceHandler: a thrown error gives the same error_type as the server span, not "500"', async () => {
    const m = createMetrics();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, metrics: m });
    const traced = traceHandler(
      app.ctx,
      () => {
        throw new TypeError('bad input');
      },
      { route: '/boom' },
    );
    // The demo's order: the metric wraps the traced handler, which answers the thrown error itself.
    const { url, server } = await serve(m.instrument(traced, { route: '/boom' }));
    closers.push(() => new Promise((r) => server.close(r)));
    const res = await fetch(`${url}/boom`);
    await res.text();
    assert.equal(res.status, 500);
    // The span ends on the response's 'close', just after the client has the answer (bounded wait).
    for (let i = 0; i < 200 && tracer.finishedSpans().length === 0; i++)
      await new Promise((r) => setTimeout(r, 5));
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, 1);
    assert.equal(spans[0]!.attributes['error.type'], 'TypeError');
    const body = (await m.render()).body;
    assert.match(
      body,
      /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/boom",http_response_status_code="500",url_scheme="http",error_type="TypeError"\} 1$/m,
    );
    await tracer.close();
  });

  it('prefix names the built-in metrics apart from namespace/subsystem', async () => {
    const m = createMetrics({ namespace: 'shop', prefix: '' });
    m.counter({ name: 'orders', help: 'x' }).inc();
    m.observeRequest({ method: 'GET', route: '/', status: 200, seconds: 0.001 });
    let body = (await m.render()).body;
    assert.match(body, /^shop_orders_total 1$/m);
    assert.match(body, /^http_server_request_duration_seconds_count\{/m);
    assert.match(body, /^# TYPE metrics_series_dropped_total counter$/m);
    const n = createMetrics({ prefix: 'hyperion', naming: 'legacy' });
    n.counter({ name: 'orders', help: 'x' }).inc();
    n.observeRequest({ method: 'GET', route: '/', status: 200, seconds: 0.001 });
    body = (await n.render()).body;
    assert.match(body, /^orders_total 1$/m);
    assert.match(body, /^hyperion_requests_total\{method="GET",route="\/",status="200"\} 1$/m);
    assert.throws(() => createMetrics({ prefix: 'bad-name' }), /prefix must match/);
    assert.throws(() => createMetrics({ naming: 'prom' as 'otel' }), /naming must be "otel" or "legacy"/);
  });

  it('OpenMetrics declares the unit of …_seconds and …_bytes families in # UNIT lines', async () => {
    const m = createMetrics({ collectRuntime: true });
    m.observeRequest({ method: 'GET', route: '/', status: 200, seconds: 0.001 });
    m.histogram({ name: 'payload_bytes', help: 'x', buckets: [1, 10] }).observe(3);
    m.counter({ name: 'busy_seconds', help: 'x' }).inc(2);
    m.gauge({ name: 'queue_depth', help: 'x' }).set(1);
    const om = (await m.render(OM_ACCEPT)).body;
    assert.match(om, /^# UNIT http_server_request_duration_seconds seconds$/m);
    assert.match(om, /^# UNIT http_client_request_duration_seconds seconds$/m);
    assert.match(om, /^# UNIT payload_bytes bytes$/m);
    assert.match(om, /^# UNIT busy_seconds seconds$/m, 'counter family without _total');
    assert.match(om, /^# UNIT process_cpu_seconds seconds$/m, "prom-client's runtime metrics too");
    assert.match(om, /^# UNIT process_resident_memory_bytes bytes$/m);
    assert.doesNotMatch(om, /^# UNIT queue_depth/m);
    // Every UNIT follows its family's TYPE line.
    const lines = om.split('\n');
    for (const [i, l] of lines.entries())
      if (l.startsWith('# UNIT '))
        assert.equal(lines[i - 1], `# TYPE ${l.split(' ')[2]} ${lines[i - 1]!.split(' ')[3]}`);
    assert.doesNotMatch((await m.render()).body, /# UNIT/, 'the Prometheus text format has no UNIT');
  });

  it('tracedFetch: a failing observeHttpClient is logged and never fails the call', async () => {
    const { url, server } = await serve((_req, res) => res.end('ok'));
    closers.push(() => new Promise((r) => server.close(r)));
    const warned: string[] = [];
    const logger = { ...noopLogger, warn: (msg: string) => void warned.push(msg) };
    const app = createApp({
      logger,
      metrics: {
        ...noopMetrics,
        observeHttpClient() {
          throw new Error('broken metrics');
        },
      },
    });
    closers.push(() => app.close());
    assert.equal(await (await tracedFetch(app.ctx, `${url}/`)).text(), 'ok');
    assert.deepEqual(warned, ['recording http_client_request_duration_seconds failed']);
  });

  it('tracedFetch records http_client_request_duration_seconds through ctx.metrics', async () => {
    const m = createMetrics();
    const { url, server } = await serve((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end();
    });
    closers.push(() => new Promise((r) => server.close(r)));
    const app = createApp({ metrics: m });
    closers.push(() => app.close());
    await (await tracedFetch(app.ctx, `${url}/ok`)).text();
    await (await tracedFetch(app.ctx, `${url}/missing`, { method: 'post' })).text();
    await assert.rejects(tracedFetch(app.ctx, 'http://127.0.0.1:1/refused'));
    const port = new URL(url).port;
    const lines = (await m.render()).body
      .split('\n')
      .filter((l) => l.startsWith('http_client_request_duration_seconds_count{'))
      .sort();
    const P = 'http_client_request_duration_seconds_count';
    assert.deepEqual(lines, [
      `${P}{http_request_method="GET",server_address="127.0.0.1",server_port="1",url_scheme="http",error_type="TypeError"} 1`,
      `${P}{http_request_method="GET",server_address="127.0.0.1",server_port="${port}",url_scheme="http",http_response_status_code="200"} 1`,
      `${P}{http_request_method="POST",server_address="127.0.0.1",server_port="${port}",url_scheme="http",http_response_status_code="404",error_type="404"} 1`,
    ]);
  });

  // fetch serves a data: URL itself: no server to label the series with. The call used to reach
  // observeHttpClient with an empty server address, which refused it, and every such call logged
  // a warning.
  it('tracedFetch of a data: URL records no client series and warns nothing', async () => {
    const m = createMetrics();
    const warned: string[] = [];
    const app = createApp({
      metrics: m,
      logger: { ...noopLogger, warn: (msg: string) => void warned.push(msg) },
    });
    closers.push(() => app.close());
    for (let i = 0; i < 3; i++)
      assert.equal(await (await tracedFetch(app.ctx, 'data:text/plain,hi')).text(), 'hi');
    assert.deepEqual(warned, []);
    assert.doesNotMatch((await m.render()).body, /^http_client_request_duration_seconds_count/m);
  });

  it('records a trace_id exemplar for sampled traces (span or traceparent), only in OpenMetrics', async () => {
    const m = createMetrics();
    const spans = new WeakMap<IncomingMessage, Span>();
    const app = m.instrument(
      (req: IncomingMessage, res) => {
        if (req.headers['x-span'] === 'sampled')
          spans.set(req, fakeSpan({ traceId: TRACE, spanId: '00f067aa0ba902b7', traceFlags: 1 }));
        if (req.headers['x-span'] === 'unsampled')
          spans.set(req, fakeSpan({ traceId: 'a'.repeat(32), spanId: '00f067aa0ba902b7', traceFlags: 0 }));
        res.end();
      },
      { route: '/r', span: (req) => spans.get(req) },
    );
    const { url, server } = await serve(app);
    closers.push(() => new Promise((r) => server.close(r)));

    await (await fetch(`${url}/r`, { headers: { 'x-span': 'unsampled' } })).text();
    let om = (await m.render(OM_ACCEPT)).body;
    assert.ok(!om.includes('trace_id'), 'unsampled trace: no exemplar');

    await (await fetch(`${url}/r`, { headers: { 'x-span': 'sampled' } })).text();
    om = (await m.render(OM_ACCEPT)).body;
    const withExemplar = om.split('\n').filter((l) => l.includes('# {trace_id='));
    assert.equal(withExemplar.length, 1, om);
    assert.match(
      withExemplar[0]!,
      new RegExp(
        `^http_server_request_duration_seconds_bucket\\{http_request_method="GET",http_route="/r",http_response_status_code="200",url_scheme="http",le="[^"]+"\\} \\d+ # \\{trace_id="${TRACE}"\\} [0-9.e-]+ \\d+(\\.\\d+)?$`,
      ),
    );

    const other = 'c'.repeat(32);
    await (await fetch(`${url}/r`, { headers: { traceparent: `00-${other}-00f067aa0ba902b7-01` } })).text();
    assert.ok((await m.render(OM_ACCEPT)).body.includes(`trace_id="${other}"`));
    assert.ok(!(await m.render()).body.includes('trace_id'), 'Prometheus text has no exemplars');

    assert.equal(sampledTraceId(undefined, { traceparent: `00-${other}-00f067aa0ba902b7-00` }), undefined);
    assert.equal(sampledTraceId(undefined, { traceparent: 'garbage' }), undefined);
  });

  for (const naming of ['otel', 'legacy'] as const)
    it(`a request aborted before the response headers is recorded without status and error_type "aborted" (legacy: status 499)`, async () => {
      const m = createMetrics({ naming });
      // Wrapped in an object: resolving with the bare promise would wait for it.
      let arrived!: (res: { closed: Promise<unknown> }) => void;
      const seen = new Promise<{ closed: Promise<unknown> }>((r) => (arrived = r));
      const app = m.instrument(
        (_req, res) => {
          // Never responds. This 'close' listener is added after the adapter's own, so it fires
          // once the aborted request has been recorded.
          arrived({ closed: once(res, 'close') });
        },
        { route: '/slow' },
      );
      const { url, server } = await serve(app);
      closers.push(async () => {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      });
      const ac = new AbortController();
      const req = fetch(`${url}/slow`, { signal: ac.signal }).catch(() => undefined);
      const { closed } = await seen;
      ac.abort();
      await req;
      await closed;
      const body = (await m.render()).body;
      if (naming === 'legacy')
        assert.ok(body.includes('requests_total{method="GET",route="/slow",status="499"} 1'), body);
      else
        assert.match(
          body,
          /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/slow",url_scheme="http",error_type="aborted"\} 1$/m,
        );
    });

  it('listen(): own server on an ephemeral port, content negotiation, 404/405, close()', async () => {
    const m = createMetrics({ port: 0, path: '/metrics', namespace: 'app' });
    m.counter({ name: 'orders', help: 'Orders' }).inc(3);
    const addr = await m.listen();
    assert.ok(addr && addr.port > 0 && addr.host === '127.0.0.1');
    assert.equal(m.address, addr);
    assert.equal(await m.listen(), addr, 'repeated listen shares the server');
    assert.equal(addr.url, `http://127.0.0.1:${addr.port}/metrics`);

    const text = await fetch(addr.url);
    assert.equal(text.headers.get('content-type'), PROMETHEUS_TEXT);
    const tbody = await text.text();
    assert.match(tbody, /^# TYPE app_orders_total counter$/m);
    assert.match(tbody, /^app_orders_total 3$/m);

    const om = await fetch(`${addr.url}?x=1`, { headers: { accept: OM_ACCEPT } });
    assert.equal(om.headers.get('content-type'), OPENMETRICS_TEXT);
    const obody = await om.text();
    assert.match(obody, /^# TYPE app_orders counter$/m, 'OpenMetrics family name has no _total');
    assert.match(obody, /^app_orders_total 3$/m);
    assert.ok(obody.endsWith('# EOF\n'));

    assert.equal((await fetch(`http://127.0.0.1:${addr.port}/other`)).status, 404);
    const post = await fetch(addr.url, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');

    await m.close();
    await m.close();
    await assert.rejects(fetch(addr.url));
    await assert.rejects(m.listen(), /closed/);
  });

  it('handler() mounts in an existing server', async () => {
    const m = createMetrics();
    m.gauge({ name: 'ready', help: 'x' }).set(1);
    const { url, server } = await serve((req, res) => {
      if (req.url === '/internal/metrics') return m.handler(req, res);
      res.writeHead(200).end('app');
    });
    closers.push(() => new Promise((r) => server.close(r)));
    const res = await fetch(`${url}/internal/metrics`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^ready 1$/m);
    assert.equal(await (await fetch(`${url}/`)).text(), 'app');
  });

  it('listen() failure is a MetricsError naming the address', async () => {
    const { server } = await serve((_req, res) => res.end());
    closers.push(() => new Promise((r) => server.close(r)));
    const { port } = server.address() as AddressInfo;
    const m = createMetrics({ port });
    await assert.rejects(
      m.listen(),
      (e: Error & { code?: string }) => e.code === 'listen_failed' && e.message.includes(`127.0.0.1:${port}`),
    );
    await m.close();
  });
});
