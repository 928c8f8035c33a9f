/**
 * Server spans of `traceHandler` as a user sees them in a real Jaeger:
 * - in active-context mode, a request without an incoming `traceparent` starts a new trace; its
 *   server span used to be a child of whatever span was active when the server was created (a
 *   startup span), so every request of the process landed in one endless startup trace;
 * - a request `drainServer` refuses with 503 during a shutdown has its server span (503, error,
 *   `error.type` "503") and its `http_server_request_duration_seconds` sample: they had neither,
 *   so a deploy's refused requests were invisible in traces and metrics.
 */
import assert from 'node:assert/strict';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { drainServer } from '../../lib/core/drain.js';
import { refusalAware } from '../../lib/core/refusal.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, type JaegerSpan, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const parentOf = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

/** One request on its own connection: status, body, headers. */
function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: new Agent() }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describeWithServers('server spans in a real Jaeger: roots and drain refusals', skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });
  const spansOf = (traceId: string, count: number) =>
    waitFor(
      async () => {
        const t = await jaeger.getTrace(traceId);
        return t && t.spans.length >= count ? t.spans : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `trace ${traceId} with ${count} span(s) in Jaeger` },
    );

  it('activeContext: a request without traceparent is a new trace (root server span), not a child of the span active when the server was created', async () => {
    const service = `roots-${process.pid}-${Date.now().toString(36)}`;
    const tracer = createOtelTracer({
      exporter: 'otlp',
      endpoint: jaeger.otlpEndpoint,
      serviceName: service,
      activeContext: true,
    });
    const app = createApp({ tracer });
    const startup = tracer.startSpan('startup');
    const server = await tracer.activate!(startup, async () => {
      const s = createServer(
        traceHandler(app.ctx, (ctx, _req, res) => res.end(ctx.span!.spanContext().traceId), { route: '/r' }),
      );
      await listen(s);
      return s;
    });
    startup.end();
    try {
      const port = (server.address() as { port: number }).port;
      const fresh = await get(port, '/r');
      const incoming = '0af7651916cd43dd8448eb211c80319c';
      const continued = await get(port, '/r', { traceparent: `00-${incoming}-b7ad6b7169203331-01` });
      await tracer.flush();

      const startupTrace = startup.spanContext().traceId;
      assert.notEqual(fresh.body, startupTrace, 'the request joined the startup trace');
      const [root] = await spansOf(fresh.body, 1);
      assert.equal(root!.operationName, 'GET /r');
      assert.equal(parentOf(root!), undefined, 'the server span has a parent');
      // The startup trace holds the startup span alone.
      const startupSpans = await spansOf(startupTrace, 1);
      assert.deepEqual(
        startupSpans.map((s) => s.operationName),
        ['startup'],
      );
      // An incoming trace context is still continued.
      assert.equal(continued.body, incoming);
      const [child] = await spansOf(incoming, 1);
      assert.equal(parentOf(child!), 'b7ad6b7169203331');
    } finally {
      server.closeAllConnections();
      server.close();
      await app.close();
    }
  });

  it('drainServer: a request refused with 503 while draining has its server span (503, error.type) and its duration sample', async () => {
    const service = `drain-${process.pid}-${Date.now().toString(36)}`;
    const tracer = createOtelTracer({
      exporter: 'otlp',
      endpoint: jaeger.otlpEndpoint,
      serviceName: service,
    });
    const metrics = createMetrics({ port: 0, logger: { warn() {} } });
    const app = createApp({ tracer, metrics });
    const address = await metrics.listen();
    let calls = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    // The usual stack: metrics.instrument around traceHandler around the application's handler.
    const server = createServer(
      metrics.instrument(
        traceHandler(
          app.ctx,
          async (_ctx, _req, res) => {
            calls++;
            await released;
            res.end('done');
          },
          { route: '/work' },
        ),
        { route: '/work' },
      ),
    );
    const port = await listen(server);
    const drain = drainServer(server, { graceMs: 5000 });
    app.defer('http', drain);
    try {
      // Settled either way: a failure below must not surface as this request's socket hang up.
      const running = get(port, '/work').catch((e: Error) => ({ status: 0, body: e.message }));
      await waitFor(() => calls === 1, { what: 'the first request running' });
      const closing = app.close();
      await waitFor(() => drain.draining, { what: 'drain started' });
      const lateTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const late = await get(port, '/work', { traceparent: `00-${lateTrace}-00f067aa0ba902b7-01` });
      assert.equal(late.status, 503);
      assert.equal(calls, 1, 'the handler ran for a refused request');

      // Scraped while the drain waits for the running request: the 503 is in the histogram.
      const scrape = await (await fetch(address!.url)).text();
      const line = scrape
        .split('\n')
        .find(
          (l) =>
            l.startsWith('http_server_request_duration_seconds_count{') &&
            l.includes('http_response_status_code="503"'),
        );
      assert.ok(
        line,
        `no 503 sample in:\n${scrape
          .split('\n')
          .filter((l) => l.includes('request_duration'))
          .join('\n')}`,
      );
      assert.match(line, /http_route="\/work"/);
      assert.match(line, /error_type="503"/);
      assert.match(line, /http_request_method="GET"/);
      assert.match(line, / 1$/);

      release();
      assert.equal((await running).status, 200);
      await closing;

      // The tracer was flushed by close(): the refused request's server span is in Jaeger.
      const [span] = await spansOf(lateTrace, 1);
      assert.equal(span!.operationName, 'GET /work');
      assert.equal(parentOf(span!), '00f067aa0ba902b7');
      assert.equal(tag(span!, 'http.response.status_code'), 503);
      assert.equal(tag(span!, 'error.type'), '503');
      assert.equal(tag(span!, 'otel.status_code'), 'ERROR');
      assert.equal(tag(span!, 'hyperion.http.refused'), 'draining');
      assert.equal(tag(span!, 'http.request.method'), 'GET');
      assert.equal(tag(span!, 'url.path'), '/work');
    } finally {
      release();
      server.closeAllConnections();
      server.close();
      await app.close();
    }
  });

  it('drainServer: a plain listener is never called for a refused request; a router marked refusalAware passes it to its traceHandler', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', serviceName: 'drain-router' });
    const app = createApp({ tracer });
    let plainCalls = 0;
    let handlerCalls = 0;
    const traced = traceHandler(
      app.ctx,
      (_ctx, _req, res) => {
        handlerCalls++;
        res.end('ok');
      },
      { route: '/a' },
    );
    const routed = createServer(
      refusalAware((req, res) => (req.url === '/a' ? traced(req, res) : res.end())),
    );
    const plain = createServer((_req, res) => {
      plainCalls++;
      res.end('ok');
    });
    const routedPort = await listen(routed);
    const plainPort = await listen(plain);
    // Nothing runs: each listener stays open for quietMs (100) after the drain began, answering 503.
    const drains = [drainServer(routed, { graceMs: 2000 }), drainServer(plain, { graceMs: 2000 })];
    const closing = Promise.all(drains.map((d) => d({ timeoutMs: 5000 })));
    try {
      const [a, b] = await Promise.all([get(routedPort, '/a'), get(plainPort, '/a')]);
      assert.equal(a.status, 503);
      assert.equal(b.status, 503);
      assert.equal(plainCalls, 0);
      assert.equal(handlerCalls, 0);
      const spans = tracer.finishedSpans().filter((s) => s.name === 'GET /a');
      assert.equal(spans.length, 1);
      assert.equal(spans[0]!.attributes['http.response.status_code'], 503);
      assert.equal(spans[0]!.attributes['hyperion.http.refused'], 'draining');
    } finally {
      await closing;
      await app.close();
    }
  });
});

describe('server spans without an incoming context are roots: the sampler shortcut and propagate-only mode', () => {
  const startupIn = async (
    tracer: ReturnType<typeof createOtelTracer>,
    startup: ReturnType<ReturnType<typeof createOtelTracer>['startSpan']>,
    activate: <T>(fn: () => T) => T,
  ) => {
    const app = createApp({ tracer });
    const server = await activate(async () => {
      const s = createServer(
        traceHandler(app.ctx, (ctx, _req, res) => {
          const sc = ctx.span!.spanContext();
          res.end(`${sc.traceId}/${sc.traceFlags}`);
        }),
      );
      await listen(s);
      return s;
    });
    startup.end();
    return { app, server, port: (server.address() as { port: number }).port };
  };

  it('sampleRate 0, activeContext, a sampled startup span active when the server was created: a request without traceparent is a new unsampled trace', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', sampleRate: 0, activeContext: true });
    // Sampled through its (remote, sampled) parent: parent-based sampling keeps it.
    const { parent } = tracer.extract({
      traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
    });
    const startup = tracer.startSpan('startup', { parent });
    const { app, server, port } = await startupIn(tracer, startup, (fn) => tracer.activate!(startup, fn));
    try {
      const [traceId, flags] = (await get(port, '/')).body.split('/');
      assert.notEqual(traceId, '11111111111111111111111111111111', 'the request joined the startup trace');
      assert.equal(flags, '0', 'a new trace at sampleRate 0 is not sampled');
      assert.deepEqual(
        tracer.finishedSpans().map((s) => s.name),
        ['startup'],
      );
    } finally {
      server.closeAllConnections();
      server.close();
      await app.close();
    }
  });

  it("exporter 'none' (propagate-only), activeContext, the application's own context manager: a request without traceparent is a new trace", async () => {
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const api = await import('@opentelemetry/api');
    const manager = new AsyncLocalStorageContextManager().enable();
    api.context.setGlobalContextManager(manager);
    try {
      const tracer = createOtelTracer({ exporter: 'none', activeContext: true });
      const startup = tracer.startSpan('startup');
      const active = api.trace.wrapSpanContext({ ...startup.spanContext(), traceState: undefined });
      const { app, server, port } = await startupIn(tracer, startup, (fn) =>
        api.context.with(api.trace.setSpan(api.context.active(), active), fn),
      );
      try {
        const [traceId] = (await get(port, '/')).body.split('/');
        assert.notEqual(traceId, startup.spanContext().traceId, 'the request joined the startup trace');
        assert.match(traceId!, /^[0-9a-f]{32}$/);
      } finally {
        server.closeAllConnections();
        server.close();
        await app.close();
      }
    } finally {
      api.context.disable();
    }
  });
});
