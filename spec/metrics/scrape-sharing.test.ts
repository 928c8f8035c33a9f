/**
 * A scrape's collection as a scraper meets it: the collect() of a prom-client metric other code
 * registered is shared by concurrent scrapes (as onCollect callbacks already were), the whole
 * collection (onCollect callbacks, then those collect()s) stays within one collectTimeoutMs, and
 * the handler mounted in the app's own server answers 503 once the adapter is closed.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as client from 'prom-client';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';

/** A server on a free loopback port serving `handler` at every path. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function stop(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('prometheus metrics: concurrent scrapes share one collect() of other code’s metrics', () => {
  it('10 scrapes arriving together run a foreign collect() once, and each gets its value', async () => {
    const registry = new client.Registry();
    let calls = 0;
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const pool = new client.Gauge({
      name: 'pool_waiting',
      help: 'A collect() querying a database (slow)',
      registers: [registry],
      async collect() {
        calls++;
        await gate;
        pool.set(calls);
      },
    });
    const m = createMetrics({ registry, collectTimeoutMs: 10_000, logger: { warn() {} } });
    let onCollect = 0;
    m.onCollect(() => void onCollect++);
    // The app's own server mounting the handler: the collect() is released once all 10 scrapes
    // have arrived, so all of them arrive while the first collection runs.
    let arrived = 0;
    const server = await serve((req, res) => {
      if (++arrived === 10) release?.();
      m.handler(req, res);
    });
    try {
      const bodies = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`http://127.0.0.1:${portOf(server)}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
            (r) => r.text(),
          ),
        ),
      );
      // Before: the collect() ran once per scrape (10 database queries for one burst).
      assert.equal(calls, 1, `collect() ran ${calls} times for 10 concurrent scrapes`);
      assert.equal(onCollect, 1);
      for (const body of bodies) assert.match(body, /^pool_waiting 1$/m);
      // A later scrape is a new collection.
      const later = await (await fetch(`http://127.0.0.1:${portOf(server)}/metrics`)).text();
      assert.match(later, /^pool_waiting 2$/m);
    } finally {
      release?.();
      await stop(server);
      await m.close();
    }
  });
});

describe('prometheus metrics: concurrent scrapes share one rendering', () => {
  it('20 scrapes arriving together (same Accept and compression) are rendered and gzipped once, and all get it', async () => {
    const registry = new client.Registry();
    const m = createMetrics({ registry, collectTimeoutMs: 10_000, logger: { warn() {} } });
    const c = m.counter({ name: 'orders', help: 'Orders', labelNames: ['k'] });
    for (let i = 0; i < 500; i++) c.inc({ k: `v${i}` }); // over 1 KB: gzipped
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    m.onCollect(() => gate);
    // Every rendering (and every collection) lists the registry's metrics once.
    let listed = 0;
    const list = registry.getMetricsAsArray.bind(registry);
    registry.getMetricsAsArray = () => {
      listed++;
      return list();
    };
    let arrived = 0;
    const server = await serve((req, res) => {
      if (++arrived === 20) release?.();
      m.handler(req, res);
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`http://127.0.0.1:${portOf(server)}/metrics`, {
            headers: { 'accept-encoding': 'gzip' },
            signal: AbortSignal.timeout(10_000),
          }).then(async (r) => ({
            status: r.status,
            encoding: r.headers.get('content-encoding'),
            body: await r.text(),
          })),
        ),
      );
      // Before: one collection, then 20 renderings and 20 gzips of the same exposition (50 such
      // scrapes of an 8 MB exposition held the event loop for 10 s, and the last were cut).
      assert.equal(listed, 2, `the registry was listed ${listed} times: 1 collection + 1 rendering expected`);
      for (const a of answers) {
        assert.equal(a.status, 200);
        assert.equal(a.encoding, 'gzip');
        assert.equal(a.body, answers[0]!.body);
      }
      assert.match(answers[0]!.body, /^orders_total\{k="v499"\} 1$/m);
      // A later scrape renders anew: it sees what was recorded since.
      c.inc({ k: 'v0' });
      const later = await (await fetch(`http://127.0.0.1:${portOf(server)}/metrics`)).text();
      assert.match(later, /^orders_total\{k="v0"\} 2$/m);
    } finally {
      release?.();
      await stop(server);
      await m.close();
    }
  });
});

describe('prometheus metrics: concurrent scrapes share one rendering per format', () => {
  it('20 scrapes with 20 different Accept headers asking for 2 formats are rendered twice, each in its format', async () => {
    const registry = new client.Registry();
    const m = createMetrics({ registry, collectTimeoutMs: 10_000, logger: { warn() {} } });
    m.counter({ name: 'orders', help: 'Orders' }).inc(3);
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    m.onCollect(() => gate);
    let listed = 0;
    const list = registry.getMetricsAsArray.bind(registry);
    registry.getMetricsAsArray = () => {
      listed++;
      return list();
    };
    let arrived = 0;
    const server = await serve((req, res) => {
      if (++arrived === 20) release?.();
      m.handler(req, res);
    });
    // Different texts, one format each: q-values and parameters vary between clients and versions.
    const accept = (i: number) =>
      i % 2 === 0
        ? `text/plain;version=0.0.4;q=0.${(i % 9) + 1},*/*;q=0.1;n=${i}`
        : `application/openmetrics-text;version=1.0.0;n=${i},text/plain;q=0.${(i % 9) + 1}`;
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          fetch(`http://127.0.0.1:${portOf(server)}/metrics`, {
            headers: { accept: accept(i) },
            signal: AbortSignal.timeout(10_000),
          }).then(async (r) => ({ i, type: r.headers.get('content-type') ?? '', body: await r.text() })),
        ),
      );
      // Before: keyed by the header's text, 20 renderings of the same two expositions.
      assert.equal(
        listed,
        3,
        `the registry was listed ${listed} times: 1 collection + 2 renderings expected`,
      );
      for (const a of answers) {
        const om = a.i % 2 === 1;
        assert.match(a.type, om ? /openmetrics/ : /^text\/plain/, accept(a.i));
        assert.equal(a.body.endsWith('# EOF\n'), om, accept(a.i));
        assert.match(a.body, /^orders_total 3$/m);
      }
    } finally {
      release?.();
      await stop(server);
      await m.close();
    }
  });
});

describeWithServers(
  'prometheus metrics: scrape bounds and close(), as Prometheus meets them',
  skipPrometheus(),
  () => {
    let prom: PrometheusServer;
    let slow: PrometheusMetrics;
    let mounted: PrometheusMetrics;
    let appServer: Server;
    const warnings: string[] = [];

    before(async () => {
      // A hanging onCollect callback and a hanging collect() of other code's metric. The harness's
      // Prometheus scrapes every second with a 1 s timeout: at collectTimeoutMs 650 the scrape fits
      // only when the two share the bound (before: 650 ms for the callback, then 650 ms more for
      // the collect(), 1.3 s, so every scrape timed out and the target was down).
      const registry = new client.Registry();
      new client.Gauge({
        name: 'pool_hung',
        help: 'A collect() that never settles',
        registers: [registry],
        collect: () => new Promise<void>(() => {}),
      });
      slow = createMetrics({
        registry,
        port: 0,
        collectTimeoutMs: 650,
        logger: { warn: (message) => void warnings.push(message) },
      });
      slow.onCollect(() => new Promise<void>(() => {}));
      slow.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(7);
      const slowAddr = (await slow.listen())!;

      // The app's own server, serving the adapter's handler at /metrics.
      mounted = createMetrics({ logger: { warn() {} } });
      mounted.gauge({ name: 'mounted_depth', help: 'Jobs waiting' }).set(3);
      appServer = await serve((req, res) => mounted.handler(req, res));

      prom = await startPrometheus({
        scrapeTargets: [`127.0.0.1:${slowAddr.port}`, `127.0.0.1:${portOf(appServer)}`],
      });
    });

    after(async () => {
      await prom?.stop();
      await slow?.close();
      await mounted?.close();
      await stop(appServer);
    });

    it('a hanging onCollect callback and a hanging collect() together hold a scrape ~collectTimeoutMs, not twice it', async () => {
      const target = `127.0.0.1:${slow.address!.port}`;
      const up = await prom.waitForSeries(`up{instance="${target}"} == 1`, (s) => s.length > 0, {
        timeoutMs: 15_000,
      });
      assert.equal(up[0]!.value, 1);
      const depth = await prom.waitForSeries(`queue_depth{instance="${target}"}`, (s) => s.length > 0, {
        timeoutMs: 15_000,
      });
      assert.equal(depth[0]!.value, 7);
      assert.ok(warnings.some((w) => /pool_hung/.test(w)));
    });

    it('the mounted handler answers 503 once the adapter is closed; Prometheus sees the target down', async () => {
      const target = `127.0.0.1:${portOf(appServer)}`;
      await prom.waitForSeries(`up{instance="${target}"} == 1`, (s) => s.length > 0, { timeoutMs: 15_000 });
      await mounted.close();
      const res = await fetch(`http://${target}/metrics`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(await res.text(), 'metrics adapter is closed\n');
      // Before: 200 with the frozen values of a closed adapter, so the target looked healthy.
      const down = await prom.waitForSeries(`up{instance="${target}"} == 0`, (s) => s.length > 0, {
        timeoutMs: 15_000,
      });
      assert.equal(down[0]!.value, 0);
    });
  },
);
