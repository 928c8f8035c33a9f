/**
 * `/metrics` compressed with gzip when the scraper asks for it (Prometheus sends
 * `Accept-Encoding: gzip` on every scrape): the body a real Prometheus decodes and stores, and the
 * headers a plain HTTP client sees.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { acceptsGzip } from '../../lib/metrics/prometheus/server.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

const quiet = { logger: { warn() {} } };

/** One request with raw bytes back (node:http does not decode content encodings). */
function get(url: string, headers: Record<string, string>, method = 'GET') {
  return new Promise<{ status?: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      const req = request(url, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on('error', reject);
      req.end();
    },
  );
}

/** A metric with enough series that the exposition is worth compressing (over 1 KB). */
function fill(m: PrometheusMetrics) {
  const c = m.counter({ name: 'jobs', help: 'Jobs done', labelNames: ['queue'] });
  for (let i = 0; i < 60; i++) c.inc({ queue: `queue-${i}` }, i + 1);
}

describe('prometheus metrics: gzip on /metrics', () => {
  let m: PrometheusMetrics;
  let url: string;
  before(async () => {
    m = createMetrics({ ...quiet, port: 0 });
    fill(m);
    url = (await m.listen())!.url;
  });
  after(() => m.close());

  it('Accept-Encoding: gzip gets a gzip body that decodes to the uncompressed exposition', async () => {
    const plain = await get(url, {});
    assert.equal(plain.headers['content-encoding'], undefined);
    // Before: `Accept-Encoding` only, though the format depends on Accept (a cache could hand the
    // OpenMetrics body to a client that asked for text).
    assert.equal(plain.headers.vary, 'Accept, Accept-Encoding');
    const zipped = await get(url, { 'accept-encoding': 'gzip, deflate' });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.vary, 'Accept, Accept-Encoding');
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    const decoded = gunzipSync(zipped.body).toString('utf8');
    assert.equal(decoded, plain.body.toString('utf8'));
    assert.ok(
      zipped.body.length * 3 < plain.body.length,
      `${zipped.body.length} vs ${plain.body.length} bytes`,
    );
    // OpenMetrics too (what Prometheus asks for).
    const om = await get(url, {
      'accept-encoding': 'gzip',
      accept: 'application/openmetrics-text; version=1.0.0',
    });
    assert.match(gunzipSync(om.body).toString('utf8'), /# EOF\n$/);
  });

  it('identity, gzip;q=0 and no header get plain text; HEAD gets the GET headers without a body', async () => {
    for (const enc of ['identity', 'gzip;q=0', 'br', '*;q=0, gzip;q=0']) {
      const r = await get(url, { 'accept-encoding': enc });
      assert.equal(r.headers['content-encoding'], undefined, enc);
      assert.match(r.body.toString('utf8'), /^jobs_total\{queue="queue-0"\} 1$/m, enc);
    }
    const head = await get(url, { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], 'gzip');
    assert.equal(head.body.length, 0);
  });

  it('the handler mounted in your own server compresses too', async () => {
    const srv = createServer((req, res) => m.handler(req, res));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const r = await get(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, {
        'accept-encoding': 'gzip',
      });
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.match(gunzipSync(r.body).toString('utf8'), /^jobs_total\{queue="queue-59"\} 60$/m);
    } finally {
      srv.close();
    }
  });

  it('the mounted handler leaves a response your server answered meanwhile alone (no unhandled rejection)', async () => {
    const own = createMetrics(quiet);
    fill(own);
    own.onCollect(() => new Promise((r) => setTimeout(r, 200))); // a scrape slower than the app's timeout
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    const srv = createServer((req, res) => {
      // The application's own request timeout answers first.
      const timer = setTimeout(() => res.writeHead(504).end('timeout'), 50);
      res.on('close', () => clearTimeout(timer));
      own.handler(req, res);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      for (const encoding of ['gzip', 'identity']) {
        const r = await get(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, {
          'accept-encoding': encoding,
        });
        assert.equal(r.status, 504);
      }
      await new Promise((r) => setTimeout(r, 400)); // both renders are done by now
      // Before: writeHead threw ERR_HTTP_HEADERS_SENT in the render's callback, twice.
      assert.deepEqual(
        rejections.map((e) => (e as NodeJS.ErrnoException).code ?? String(e)),
        [],
      );
    } finally {
      process.off('unhandledRejection', onRejection);
      srv.close();
      await own.close();
    }
  });

  it('acceptsGzip reads q-values and *', () => {
    assert.equal(acceptsGzip('gzip'), true);
    assert.equal(acceptsGzip('GZIP;q=0.5'), true);
    assert.equal(acceptsGzip('x-gzip'), true);
    assert.equal(acceptsGzip('*'), true);
    assert.equal(acceptsGzip('*, gzip;q=0'), false);
    assert.equal(acceptsGzip('deflate, br'), false);
    assert.equal(acceptsGzip('gzip;q=bogus'), false);
    assert.equal(acceptsGzip(undefined), false);
    assert.equal(acceptsGzip(''), false);
  });
});

describeWithServers(
  'prometheus metrics: a real Prometheus scrapes the gzip exposition',
  skipPrometheus(),
  () => {
    let m: PrometheusMetrics;
    let prom: PrometheusServer;
    let srv: Server;
    const seen: { acceptEncoding: unknown; contentEncoding: unknown }[] = [];

    before(async () => {
      m = createMetrics({ ...quiet, defaultLabels: { service: 'gzip-spec' } });
      fill(m);
      // The adapter's handler in a server of ours, so the test sees what Prometheus asked for and got.
      srv = createServer((req, res) => {
        // writeHead(status, headers) leaves getHeader() empty: read the headers it is given.
        const writeHead = res.writeHead.bind(res) as (s: number, h?: Record<string, unknown>) => unknown;
        (res as unknown as { writeHead: typeof writeHead }).writeHead = (status, headers) => {
          seen.push({
            acceptEncoding: req.headers['accept-encoding'],
            contentEncoding: headers?.['content-encoding'],
          });
          return writeHead(status, headers);
        };
        m.handler(req, res);
      });
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${(srv.address() as AddressInfo).port}`] });
    });
    after(async () => {
      await prom?.stop();
      await new Promise((r) => (srv ? srv.close(r) : r(undefined)));
      await m?.close();
    });

    it('Prometheus asks for gzip, gets it, and stores the values', async () => {
      const up = await prom.waitForSeries('up{job="hyperion"}', (s) => s[0]?.value === 1);
      assert.equal(up.length, 1);
      const total = await prom.waitForSeries(
        'sum(jobs_total{service="gzip-spec"})',
        (s) => s[0]?.value === (60 * 61) / 2,
      );
      assert.equal(total[0]?.value, 1830);
      assert.ok(seen.length > 0);
      assert.ok(
        seen.every((s) => /gzip/.test(String(s.acceptEncoding)) && s.contentEncoding === 'gzip'),
        JSON.stringify(seen.slice(0, 3)),
      );
    });
  },
);
