/**
 * The method label of `instrument()` against its server span, scraped by a real Prometheus. HTTP
 * methods are case-sensitive (RFC 9110) and node:http2 passes a request's `:method` on as the
 * client sent it: the server span of `get` is `_OTHER` (with `http.request.method_original: get`),
 * as the conventions ask, but the request metric upper-cased it and recorded `GET` — a span and its
 * request's metric disagreed, where the READMEs say they use one rule.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, it } from 'node:test';
import { type App, createApp } from '../../lib/core/app.js';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer, type OtelTracer } from '../../lib/tracing/otel/index.js';
import { describeWithServers, freePort, waitFor } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

describeWithServers(
  'instrument(): the method label matches the server span exactly',
  skipPrometheus(),
  () => {
    let prom: PrometheusServer;
    let metrics: PrometheusMetrics;
    let tracer: OtelTracer;
    let app: App;
    let server: http2.Http2Server;
    let client: http2.ClientHttp2Session;

    before(async () => {
      const metricsPort = await freePort();
      metrics = createMetrics({ port: metricsPort });
      tracer = createOtelTracer({ exporter: 'memory' });
      app = createApp({ tracer, metrics });
      await metrics.listen();
      server = http2.createServer(
        metrics.instrument(
          traceHandler(app.ctx, (_ctx, _req, res) => res.end('ok'), { route: '/items' }),
          { route: '/items' },
        ) as unknown as Parameters<typeof http2.createServer>[0],
      );
      const port = await freePort();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      client = http2.connect(`http://127.0.0.1:${port}`);
      client.on('error', () => {});
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${metricsPort}`] });
    });

    after(async () => {
      client?.destroy();
      await new Promise((resolve) => server?.close(resolve));
      await prom?.stop();
      await app?.close();
    });

    /** One HTTP/2 request with `:method` as given; resolves with the status. */
    const request = (method: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = client.request({ ':method': method, ':path': '/items' });
        let status = 0;
        stream.on('response', (headers) => {
          status = Number(headers[':status']);
        });
        stream.on('error', reject);
        stream.on('close', () => resolve(status));
        stream.resume();
        stream.end();
      });

    it('get and Post are _OTHER in both; GET and POST are themselves in both', async () => {
      for (const method of ['get', 'GET', 'Post', 'POST', 'get']) assert.equal(await request(method), 200);
      const spans = await waitFor(
        () => {
          const s = tracer.finishedSpans().filter((x) => x.attributes['http.route'] === '/items');
          return s.length === 5 ? s : undefined;
        },
        { what: 'five server spans' },
      );
      const spanCounts: Record<string, number> = {};
      for (const s of spans) {
        const m = String(s.attributes['http.request.method']);
        spanCounts[m] = (spanCounts[m] ?? 0) + 1;
      }
      assert.deepEqual(spanCounts, { _OTHER: 3, GET: 1, POST: 1 }, 'the spans, by the conventions');
      assert.deepEqual(
        spans
          .filter((s) => s.attributes['http.request.method'] === '_OTHER')
          .map((s) => s.attributes['http.request.method_original'])
          .sort(),
        ['Post', 'get', 'get'],
      );
      const samples = await prom.waitForSeries(
        'sum by (http_request_method) (http_server_request_duration_seconds_count{http_route="/items"})',
        (s) => s.reduce((n, x) => n + x.value, 0) === 5,
        { timeoutMs: 20_000 },
      );
      const metricCounts: Record<string, number> = {};
      for (const s of samples) metricCounts[s.metric.http_request_method!] = s.value;
      assert.deepEqual(metricCounts, spanCounts, 'the request metric, as its spans');
    });

    it("naming: 'legacy' counts such a method as OTHER too", async () => {
      const legacy = createMetrics({ naming: 'legacy' });
      const port = await freePort();
      const own = http2.createServer(
        legacy.instrument((_req, res) => res.end('ok'), { route: '/items' }) as unknown as Parameters<
          typeof http2.createServer
        >[0],
      );
      await new Promise<void>((resolve) => own.listen(port, '127.0.0.1', resolve));
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => {});
      try {
        for (const method of ['get', 'GET']) {
          await new Promise<void>((resolve, reject) => {
            const stream = session.request({ ':method': method, ':path': '/items' });
            stream.on('error', reject);
            stream.on('close', () => resolve());
            stream.resume();
            stream.end();
          });
        }
        const lines = await waitFor(
          async () => {
            const l = (await legacy.render()).body.split('\n').filter((x) => x.startsWith('requests_total{'));
            return l.length === 2 ? l : undefined;
          },
          { what: 'two requests_total series' },
        );
        assert.deepEqual(lines.sort(), [
          'requests_total{method="GET",route="/items",status="200"} 1',
          'requests_total{method="OTHER",route="/items",status="200"} 1',
        ]);
      } finally {
        session.destroy();
        await new Promise((resolve) => own.close(resolve));
        await legacy.close();
      }
    });
  },
);
