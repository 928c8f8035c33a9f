/**
 * The OpenTelemetry tracer against a real Jaeger v2: for each exporter, two services talk over real
 * HTTP with propagation, and Jaeger's query API must show one trace with the right links.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type App, createApp } from '../../lib/core/app.js';
import { startSpan, withSpan } from '../../lib/core/span.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer, type ExporterName } from '../../lib/tracing/otel/index.js';
import {
  JAEGER_INSTALL_HINT,
  type Jaeger,
  type JaegerSpan,
  type JaegerTrace,
  startJaeger,
} from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';
import { sdk } from './otel-line.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);
// The thrift exporter is 2.x-only (on 3.x it is a TracingError: otel.test.ts).
const NETWORK_EXPORTERS = (['otlp', 'zipkin', 'jaeger'] as const).filter(
  (e) => e !== 'jaeger' || sdk.line === 2,
);

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

function endpointOf(jaeger: Jaeger, exporter: (typeof NETWORK_EXPORTERS)[number]): string {
  return exporter === 'otlp'
    ? jaeger.otlpEndpoint
    : exporter === 'zipkin'
      ? jaeger.zipkinEndpoint
      : jaeger.jaegerEndpoint;
}

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const isError = (span: JaegerSpan) =>
  tag(span, 'error') === true || tag(span, 'otel.status_code') === 'ERROR';
const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** Polls Jaeger until the trace has `count` spans (ingestion is asynchronous). */
async function traceWithSpans(jaeger: Jaeger, traceId: string, count: number): Promise<JaegerTrace> {
  return waitFor(
    async () => {
      const t = await jaeger.getTrace(traceId);
      return t && t.spans.length >= count ? t : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `trace ${traceId} with ${count} spans in Jaeger` },
  );
}

describeWithServers('OpenTelemetry tracer → real Jaeger', skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });

  for (const exporter of NETWORK_EXPORTERS) {
    describe(`exporter: ${exporter}`, () => {
      const run = `${exporter}-${process.pid}-${Date.now().toString(36)}`;
      const tracerFor = (service: string) =>
        createOtelTracer({
          exporter: exporter as ExporterName,
          endpoint: endpointOf(jaeger, exporter),
          serviceName: service,
          attributes: { 'deployment.environment': 'test', 'service.version': '1.2.3' },
        });

      it('one trace across two services over real HTTP, with links, attributes, events and errors', async () => {
        const frontName = `frontend-${run}`;
        const backName = `backend-${run}`;
        const back: App = createApp({ tracer: tracerFor(backName) });
        const front: App = createApp({ tracer: tracerFor(frontName) });
        const servers: Server[] = [];
        try {
          const backServer = createServer((req, res) => {
            if (req.url?.startsWith('/fail'))
              return traceHandler(
                back.ctx,
                async () => {
                  throw new Error('backend exploded');
                },
                { route: '/fail' },
              )(req, res);
            return traceHandler(
              back.ctx,
              async (ctx, _req, res) => {
                const rows = await withSpan(ctx, 'db.query', async (_c, span) => {
                  span.setAttributes({ 'db.rows': 3, tenant: ctx.baggage.tenant ?? 'none' });
                  span.addEvent('cache.miss', { 'cache.key': 'item:42' });
                  return 3;
                });
                res.setHeader('content-type', 'application/json');
                res.end(JSON.stringify({ rows }));
              },
              { route: '/items/:id' },
            )(req, res);
          });
          servers.push(backServer);
          const backUrl = await listen(backServer);

          const frontServer = createServer(
            traceHandler(
              front.ctx,
              async (ctx, _req, res) => {
                const withTenant = ctx.with({ baggage: { tenant: 'acme' } });
                const ok = await tracedFetch(withTenant, `${backUrl}/items/42`);
                const body = await ok.json();
                const failed = await tracedFetch(withTenant, `${backUrl}/fail`);
                await failed.arrayBuffer();
                res.setHeader('x-trace-id', ctx.span?.spanContext().traceId ?? '');
                res.end(JSON.stringify({ body, failed: failed.status }));
              },
              { route: '/checkout' },
            ),
          );
          servers.push(frontServer);
          const frontUrl = await listen(frontServer);

          const res = await fetch(`${frontUrl}/checkout`);
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), { body: { rows: 3 }, failed: 500 });
          const traceId = res.headers.get('x-trace-id') ?? '';
          assert.match(traceId, /^[0-9a-f]{32}$/);

          await Promise.all(servers.map(closeServer));
          await Promise.all([front.close(), back.close()]);

          const trace = await traceWithSpans(jaeger, traceId, 6);
          assert.equal(trace.spans.length, 6, trace.spans.map((s) => s.operationName).join(', '));
          const service = (s: JaegerSpan) => trace.processes[s.processID]?.serviceName;
          const find = (svc: string, op: string) => {
            const found = trace.spans.filter((s) => service(s) === svc && s.operationName === op);
            assert.ok(
              found.length > 0,
              `span ${svc} ${op} in ${trace.spans.map((s) => `${service(s)}:${s.operationName}`)}`,
            );
            return found;
          };

          const [checkout] = find(frontName, 'GET /checkout') as [JaegerSpan];
          const clients = find(frontName, 'GET');
          assert.equal(clients.length, 2);
          const [items] = find(backName, 'GET /items/:id') as [JaegerSpan];
          const [db] = find(backName, 'db.query') as [JaegerSpan];
          const [fail] = find(backName, 'GET /fail') as [JaegerSpan];

          // Parent/child links, including across the HTTP hop.
          assert.equal(parentOf(checkout), undefined, 'the frontend server span is the root');
          for (const c of clients) assert.equal(parentOf(c), checkout.spanID);
          const itemsClient = clients.find((c) => String(tag(c, 'url.full')).endsWith('/items/42'))!;
          const failClient = clients.find((c) => String(tag(c, 'url.full')).endsWith('/fail'))!;
          assert.equal(
            parentOf(items),
            itemsClient.spanID,
            'backend server span is a child of the client span',
          );
          assert.equal(parentOf(fail), failClient.spanID);
          assert.equal(parentOf(db), items.spanID);

          // Attributes, across the hop too (baggage → attribute).
          assert.equal(tag(checkout, 'http.route'), '/checkout');
          assert.equal(tag(items, 'http.route'), '/items/:id');
          assert.equal(Number(tag(items, 'http.response.status_code')), 200);
          assert.equal(tag(items, 'http.request.method'), 'GET');
          assert.equal(Number(tag(db, 'db.rows')), 3);
          assert.equal(tag(db, 'tenant'), 'acme');
          assert.equal(Number(tag(failClient, 'http.response.status_code')), 500);

          // Events.
          const miss = db.logs.find((l) => l.fields.some((f) => f.value === 'cache.miss'));
          assert.ok(miss, `cache.miss event in ${JSON.stringify(db.logs)}`);
          if (exporter !== 'zipkin') {
            // Zipkin annotations carry only a text value; the other protocols keep event attributes.
            assert.ok(miss.fields.some((f) => f.key === 'cache.key' && f.value === 'item:42'));
          }

          // Error status: the failing handler and the client that saw its 500.
          assert.ok(isError(fail), `error status on GET /fail: ${JSON.stringify(fail.tags)}`);
          assert.ok(isError(failClient), 'error status on the client span of the 500');
          assert.ok(!isError(items) && !isError(db) && !isError(checkout));
          const exception = fail.logs.find((l) => l.fields.some((f) => f.value === 'exception'));
          assert.ok(exception, `exception event on GET /fail: ${JSON.stringify(fail.logs)}`);
          if (exporter !== 'zipkin')
            assert.ok(
              exception.fields.some((f) => f.key === 'exception.message' && f.value === 'backend exploded'),
            );

          // Service names, and resource attributes where the protocol carries them.
          assert.deepEqual(new Set(trace.spans.map(service)), new Set([frontName, backName]));
          if (exporter === 'otlp') {
            const proc = trace.processes[items.processID]!;
            assert.ok(proc.tags.some((t) => t.key === 'deployment.environment' && t.value === 'test'));
          }
        } finally {
          await Promise.all(servers.filter((s) => s.listening).map(closeServer));
          await Promise.all([front.close(), back.close()]);
        }
      });

      // Jaeger's query API answers 500 for a whole trace holding a NaN or an infinity (its JSON
      // has none), so the tracer sends them as strings (attributes.ts).
      it('a trace with non-finite number attributes stays readable, those values as strings', async () => {
        const app = createApp({ tracer: tracerFor(`nonfinite-${run}`) });
        const { ctx, span: root } = startSpan(app.ctx, 'measure', {
          attributes: { 'start.nan': Number.NaN, 'start.ok': 1.5 },
        });
        root.setAttributes({ 'set.inf': Number.POSITIVE_INFINITY, 'set.list': [1, Number.NaN] });
        root.addEvent('sample', { 'event.value': Number.NEGATIVE_INFINITY });
        startSpan(ctx, 'child', { attributes: { 'child.inf': Number.POSITIVE_INFINITY } }).span.end();
        root.end();
        await app.close();

        const trace = await traceWithSpans(jaeger, root.spanContext().traceId, 2);
        const measure = trace.spans.find((s) => s.operationName === 'measure')!;
        const child = trace.spans.find((s) => s.operationName === 'child')!;
        assert.equal(tag(measure, 'start.nan'), 'NaN');
        assert.equal(tag(measure, 'set.inf'), 'Infinity');
        assert.equal(tag(child, 'child.inf'), 'Infinity');
        assert.equal(Number(tag(measure, 'start.ok')), 1.5, 'finite numbers are left alone');
        // Jaeger shows an array as one string: JSON from OTLP, comma-joined (String()) by the others.
        assert.equal(tag(measure, 'set.list'), exporter === 'otlp' ? '["1","NaN"]' : '1,NaN');
        if (exporter !== 'zipkin') {
          const sample = measure.logs.find((l) => l.fields.some((f) => f.value === 'sample'));
          assert.ok(
            sample?.fields.some((f) => f.key === 'event.value' && f.value === '-Infinity'),
            JSON.stringify(measure.logs),
          );
        }
      });

      // The spans' instrumentation scope had no version: the thrift exporter stringified it, and
      // every span in Jaeger carried `otel.library.version: "undefined"`. It is the package's own.
      it('every span\'s instrumentation scope carries the package version (never "undefined")', async () => {
        const app = createApp({ tracer: tracerFor(`scope-${run}`) });
        const { span } = startSpan(app.ctx, 'scoped');
        span.end();
        await app.close();
        const [s] = (await traceWithSpans(jaeger, span.spanContext().traceId, 1)).spans as [JaegerSpan];
        for (const t of s.tags) assert.notEqual(t.value, 'undefined', `tag ${t.key}`);
        // Zipkin's format has no instrumentation scope; Jaeger maps OTLP's to otel.scope.*.
        if (exporter === 'jaeger') assert.equal(tag(s, 'otel.library.version'), PACKAGE_VERSION);
        if (exporter === 'otlp') assert.equal(tag(s, 'otel.scope.version'), PACKAGE_VERSION);
      });

      // A name that is not a string (a route or operation read from an object that lacks it) went
      // to the exporter as it was: `undefined` failed the OTLP and thrift encoders, an object got a
      // 400 from Zipkin — and every other span of that export request was lost with it.
      it('a span name that is not a string costs no other span: it is sent as its string form', async () => {
        const tracer = tracerFor(`names-${run}`);
        const app = createApp({ tracer });
        const { ctx, span: root } = startSpan(app.ctx, 'named');
        for (const name of [undefined, { route: '/x' }, 42])
          startSpan(ctx, name as unknown as string).span.end();
        root.end();
        await app.close();
        assert.equal(tracer.exportStats().lostSpans, 0, JSON.stringify(tracer.exportStats()));
        const trace = await traceWithSpans(jaeger, root.spanContext().traceId, 4);
        assert.deepEqual(trace.spans.map((s) => s.operationName).sort(), [
          '42',
          '[object Object]',
          'named',
          'undefined',
        ]);
      });

      // `startTime: Date.parse(bad)` is NaN: the SDK made it a span starting in 1970 that lasted
      // until now (OTLP), stretching the trace's timeline over 56 years. A start in nanoseconds
      // (a unit mix-up) failed the whole request over Zipkin (400) and Jaeger thrift (Int64 range),
      // as did a negative one over Zipkin.
      it('a span whose startTime is no time a Date can hold, or before the epoch, starts now, and costs no other span', async () => {
        const tracer = tracerFor(`start-${run}`);
        const app = createApp({ tracer });
        const before = Date.now();
        const { ctx, span: root } = startSpan(app.ctx, 'timed');
        startSpan(ctx, 'nan-start', { startTime: Number.NaN }).span.end();
        startSpan(ctx, 'inf-start', { startTime: Number.POSITIVE_INFINITY }).span.end();
        startSpan(ctx, 'ns-start', { startTime: Date.now() * 1e6 }).span.end();
        // Before the epoch: Zipkin refused the whole request (400), every span of it lost.
        startSpan(ctx, 'negative-start', { startTime: -1 }).span.end();
        startSpan(ctx, 'pre-epoch-start', { startTime: -1e12 }).span.end();
        root.end();
        await app.close();
        assert.equal(tracer.exportStats().lostSpans, 0, JSON.stringify(tracer.exportStats()));
        const trace = await traceWithSpans(jaeger, root.spanContext().traceId, 6);
        for (const s of trace.spans) {
          // Jaeger's times are µs since the epoch.
          assert.ok(s.startTime >= (before - 1000) * 1000, `${s.operationName} starts ${s.startTime}`);
          assert.ok(s.duration < 60_000_000, `${s.operationName} lasts ${s.duration} µs`);
        }
      });

      it('loses none of 1,000 spans ended right before app.close()', async () => {
        const app = createApp({ tracer: tracerFor(`shutdown-${run}`) });
        const { ctx, span: root } = startSpan(app.ctx, 'batch-root');
        for (let i = 0; i < 999; i++) startSpan(ctx, `work-${i % 10}`, { attributes: { i } }).span.end();
        root.end();
        await app.close();
        const trace = await traceWithSpans(jaeger, root.spanContext().traceId, 1000);
        assert.equal(trace.spans.length, 1000);
        assert.equal(new Set(trace.spans.map((s) => s.spanID)).size, 1000);
      });
    });
  }

  // Configured by the standard variables alone, in the forms the specification allows: the base
  // endpoint (`/v1/traces` appended), enum values in any case, a timeout of 0 (no limit). `GZIP`
  // and `HTTP/PROTOBUF` used to be a silent no-compression and a ConfigError, `0` a ConfigError.
  it('otlp configured by OTEL_* variables only (base endpoint, GZIP, HTTP/PROTOBUF, timeout 0): the spans arrive', async () => {
    const base = new URL(jaeger.otlpEndpoint);
    base.pathname = '/';
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: base.href,
      OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/PROTOBUF',
      OTEL_BSP_EXPORT_TIMEOUT: '0',
      OTEL_SERVICE_NAME: `env-only-${process.pid}`,
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=st%C3%A4ge,team=a%2Cb',
    };
    const saved = { ...process.env };
    let traceId: string;
    try {
      Object.assign(process.env, env);
      const tracer = createOtelTracer({});
      const app = createApp({ tracer });
      const { ctx, span: root } = startSpan(app.ctx, 'env-root');
      startSpan(ctx, 'env-child').span.end();
      root.end();
      traceId = root.spanContext().traceId;
      await app.close();
      assert.equal(tracer.exportStats().lostSpans, 0, JSON.stringify(tracer.exportStats()));
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const trace = await traceWithSpans(jaeger, traceId, 2);
    const process0 = trace.processes[trace.spans[0]!.processID]!;
    assert.equal(process0.serviceName, env.OTEL_SERVICE_NAME);
    const tags = Object.fromEntries(process0.tags.map((t) => [t.key, t.value]));
    assert.equal(tags['deployment.environment.name'], 'stäge');
    assert.equal(tags.team, 'a,b');
  });
});
