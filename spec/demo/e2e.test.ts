/**
 * The demo end to end against real servers started natively by the harness: Redis (L2 and the
 * invalidation bus), PostgreSQL (data), Jaeger (traces over OTLP) and Prometheus (scraping with the
 * repository's own demo/ops/prometheus.yml, targets replaced by the in-process services' ports).
 * The `it`s run in order and share one stack; the last one stops Redis.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { fromJaeger, type JaegerTraceJson, type TreeSpan } from '../../demo/trace-tree.js';
import { createConsoleLogger } from '../../lib/core/logger.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { type PostgresServer, startPostgres } from '../harness/postgres.js';
import { describeWithServers, skipUnless, startAll, waitFor } from '../harness/process.js';
import { type PrometheusServer, startPrometheus } from '../harness/prometheus.js';
import { type RedisStandalone, startRedis } from '../harness/redis.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
  .version;
const SERVICES = ['gateway', 'user-service', 'order-service'] as const;

const skip =
  skipUnless(['redis-server', 'redis-cli'], 'apt-get install -y redis-server redis-tools') ||
  skipUnless(['initdb', 'postgres'], 'apt-get install -y postgresql') ||
  skipUnless(['prometheus'], 'apt-get install -y prometheus') ||
  skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

/** Every PromQL expression of the provisioned Grafana dashboards, with the dashboard and panel it is in. */
function dashboardQueries(): { where: string; expr: string }[] {
  const dir = join(root, 'demo/ops/grafana/dashboards');
  const out: { where: string; expr: string }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
      panels: { title: string; targets?: { expr?: string }[] }[];
    };
    for (const p of dash.panels)
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${file} › ${p.title}`, expr: t.expr });
  }
  return out;
}

async function getJson(
  url: string,
  init?: RequestInit,
  // biome-ignore lint/suspicious/noExplicitAny: the assertions read JSON response bodies field by field
): Promise<{ status: number; body: any; traceId?: string }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    traceId: res.headers.get('x-trace-id') ?? undefined,
  };
}

const post = (url: string, body: unknown) =>
  getJson(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describeWithServers('observability demo end to end (Redis, PostgreSQL, Jaeger, Prometheus)', skip, () => {
  let redis: RedisStandalone;
  let postgres: PostgresServer;
  let jaeger: Jaeger;
  let prometheus: PrometheusServer;
  let services: RunningServices;
  let db: pg.Client;
  let gw: string;
  const logLines: string[] = [];

  before(async () => {
    [redis, postgres, jaeger] = await startAll([startRedis(), startPostgres(), startJaeger()]);
    services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      databaseUrl: postgres.url,
      redisUrl: redis.url,
      tracing: { exporter: 'otlp', endpoint: jaeger.otlpEndpoint, sampleRate: 1 },
      // Info level, kept in memory: the per-request lines are checked against Jaeger (errors still shown).
      logger: createConsoleLogger({
        level: 'info',
        write: (line) => {
          logLines.push(line);
          if (line.includes('"level":"error"')) process.stderr.write(line);
        },
      }),
    });
    gw = services.gateway.url;
    // The repository's scrape config, with compose's service:port targets pointed at this process.
    const config = readFileSync(join(root, 'demo/ops/prometheus.yml'), 'utf8')
      .replace(/scrape_interval: \d+s/, 'scrape_interval: 1s')
      .replace(/scrape_timeout: \d+s/, 'scrape_timeout: 1s')
      .replace(/\bgateway:8080\b/, `127.0.0.1:${services.gateway.port}`)
      .replace(/\buser-service:8081\b/, `127.0.0.1:${services.user.port}`)
      .replace(/\border-service:8082\b/, `127.0.0.1:${services.order.port}`);
    assert.doesNotMatch(config, /(gateway|user-service|order-service):808\d/, 'every target was substituted');
    prometheus = await startPrometheus({ configText: config, features: ['exemplar-storage'] });
    db = new pg.Client({ connectionString: postgres.url });
    db.on('error', () => {});
    await db.connect();
  });

  after(async () => {
    await db?.end().catch(() => {});
    await services?.close().catch(() => {});
    await Promise.allSettled([prometheus?.stop(), jaeger?.stop(), postgres?.stop(), redis?.stop()]);
  });

  it('records one trace across gateway → user-service → order-service with the expected parent/child links', async () => {
    const r = await getJson(`${gw}/users/7/orders`);
    assert.equal(r.status, 200);
    assert.equal(r.body.user.id, 7);
    assert.ok(r.traceId, 'the gateway returns the trace id');
    await Promise.all(services.all.map((s) => s.tracer?.flush()));
    const trace = await waitFor(
      async () => {
        const t = await jaeger.getTrace(r.traceId!);
        const spans = t ? fromJaeger(t as unknown as JaegerTraceJson) : [];
        return new Set(spans.map((s) => s.service)).size === 3 && spans.length >= 9 ? spans : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `trace ${r.traceId} in Jaeger with all three services` },
    );
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (s: TreeSpan) => (s.parentId ? byId.get(s.parentId) : undefined);
    const one = (pred: (s: TreeSpan) => boolean, what: string) => {
      const found = trace.filter(pred);
      assert.equal(
        found.length,
        1,
        `exactly one ${what}; spans: ${trace.map((s) => `${s.service}:${s.name}`).join(', ')}`,
      );
      return found[0]!;
    };

    const root = one((s) => !s.parentId, 'root span');
    assert.equal(root.service, 'gateway');
    assert.equal(root.name, 'GET /users/:id/orders');
    assert.equal(root.kind, 'server');
    assert.equal(root.attributes['http.route'], '/users/:id/orders');
    assert.equal(root.attributes['url.scheme'], 'http');
    const process0 = (await jaeger.getTrace(r.traceId!)) as unknown as {
      processes: Record<string, { serviceName: string; tags: { key: string; value: unknown }[] }>;
    };
    for (const p of Object.values(process0.processes)) {
      const tags = Object.fromEntries(p.tags.map((t) => [t.key, t.value]));
      assert.equal(tags['service.version'], PACKAGE_VERSION, `${p.serviceName}: service.version`);
      assert.match(
        String(tags['service.instance.id']),
        /^[0-9a-f-]{36}$/,
        `${p.serviceName}: service.instance.id`,
      );
    }
    assert.equal(root.attributes['server.address'], '127.0.0.1');
    assert.equal(typeof root.attributes['server.port'], 'number');
    assert.equal(root.attributes['client.address'], '127.0.0.1');
    assert.equal(root.attributes['network.peer.address'], '127.0.0.1');

    const gwClient = one((s) => s.service === 'gateway' && s.kind === 'client', 'gateway client span');
    assert.equal(parentOf(gwClient), root);
    assert.equal(gwClient.attributes['peer.service'], undefined, 'no deprecated peer.service');
    assert.equal(gwClient.attributes['server.port'], Number(new URL(services.user.url).port));

    const userServer = one(
      (s) => s.service === 'user-service' && s.kind === 'server',
      'user-service server span',
    );
    assert.equal(
      parentOf(userServer),
      gwClient,
      'W3C propagation: the user service continues the gateway call',
    );
    const userCache = one((s) => s.service === 'user-service' && s.name === 'cache user', 'user cache span');
    assert.equal(parentOf(userCache), userServer);
    assert.equal(typeof userCache.attributes['cache.hit'], 'boolean');
    assert.ok(['l1', 'l2', 'none'].includes(String(userCache.attributes['cache.layer'])));

    const userClient = one(
      (s) => s.service === 'user-service' && s.kind === 'client' && s.name.startsWith('GET'),
      'user-service client span',
    );
    assert.equal(parentOf(userClient), userServer);
    const orderServer = one(
      (s) => s.service === 'order-service' && s.kind === 'server',
      'order-service server span',
    );
    assert.equal(parentOf(orderServer), userClient);
    const orderCache = one(
      (s) => s.service === 'order-service' && s.name === 'cache orders',
      'order cache span',
    );
    assert.equal(parentOf(orderCache), orderServer);

    // First read of user 7 in a fresh stack: both caches missed and the databases were queried.
    assert.equal(userCache.attributes['cache.hit'], false);
    const dbSpans = trace.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    assert.equal(dbSpans.length, 2, 'one SELECT per service');
    for (const d of dbSpans) {
      assert.equal(d.kind, 'client');
      assert.match(String(d.attributes['db.query.text']), /^SELECT /);
      assert.equal(
        d.attributes['db.statement'],
        undefined,
        'the query is stored once (no deprecated db.statement)',
      );
      assert.equal(d.attributes['db.system'], undefined, 'no deprecated db.system');
      assert.equal(d.attributes['db.operation.name'], 'SELECT');
      assert.equal(d.attributes['server.port'], postgres.port);
      assert.ok(parentOf(d)?.name.startsWith('cache '), 'the query runs as the cache loader');
    }
    assert.ok(trace.every((s) => s.traceId === r.traceId));

    // Logs correlated with traces: each service wrote one line for this request, bound to its
    // server span; the line's trace_id is a trace Jaeger returns, its span_id a span in it.
    const lines = logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request' && l.trace_id === r.traceId);
    assert.deepEqual(lines.map((l) => l.service).sort(), ['gateway', 'order-service', 'user-service']);
    const gwLine = lines.find((l) => l.service === 'gateway')!;
    assert.equal(gwLine.route, '/users/:id/orders');
    assert.equal(gwLine.status, 200);
    assert.equal(gwLine.trace_flags, '01');
    const fromJaegerById = await jaeger.getTrace(String(gwLine.trace_id));
    assert.ok(fromJaegerById, 'Jaeger returns the trace a log line names');
    const spanIds = fromJaeger(fromJaegerById as unknown as JaegerTraceJson).map((s) => s.spanId);
    for (const l of lines)
      assert.ok(spanIds.includes(String(l.span_id)), `span ${l.span_id} of ${l.service}`);
    assert.equal(gwLine.span_id, root.spanId, 'the gateway line is bound to the server span');
  });

  it('after warm-up, serves reads from L1 and L2 without touching the database', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => i + 1);
    const tieredStats = () => ({
      user: services.user.tiered!.stats(),
      order: services.order.tiered!.stats(),
    });
    const start = tieredStats();
    for (const id of ids) assert.equal((await getJson(`${gw}/users/${id}/orders`)).status, 200);
    const stats = () => ({
      userDb: services.user.data!.statements,
      orderDb: services.order.data!.statements,
      user: services.user.tiered!.stats(),
      order: services.order.tiered!.stats(),
    });
    const before = stats();
    // 60 keys and a 32-entry L1: most keys now live only in L2 (Redis); a hot key stays in L1.
    for (const id of ids) assert.equal((await getJson(`${gw}/users/${id}/orders`)).status, 200);
    for (let i = 0; i < 20; i++) assert.equal((await getJson(`${gw}/users/3/orders`)).status, 200);
    const afterReads = stats();
    // A query only where L2 did not answer in time (the demo's 200 ms L2 timeout, which a loaded
    // machine can pass: a CI run under load had one user query for 60 cached users), a read now or
    // the store of the warm-up, counted in l2Errors / l2Skipped; none on a machine that keeps up.
    const l2Failures = (svc: 'user' | 'order') =>
      afterReads[svc].l2Errors - start[svc].l2Errors + afterReads[svc].l2Skipped - start[svc].l2Skipped;
    assert.ok(
      afterReads.userDb - before.userDb <= l2Failures('user'),
      `user-service: no query for cached users (${afterReads.userDb - before.userDb} queries, ${l2Failures('user')} L2 failures)`,
    );
    assert.ok(
      afterReads.orderDb - before.orderDb <= l2Failures('order'),
      `order-service: no query for cached order lists (${afterReads.orderDb - before.orderDb} queries, ${l2Failures('order')} L2 failures)`,
    );
    for (const svc of ['user', 'order'] as const) {
      assert.ok(afterReads[svc].l1Hits > before[svc].l1Hits, `${svc}: L1 hits`);
      assert.ok(afterReads[svc].l2Hits > before[svc].l2Hits, `${svc}: L2 hits`);
    }
    // The per-layer ratios the dashboards show are above zero too.
    for (const s of [services.user, services.order]) {
      assert.ok(s.layers.l1.stats!().hitRatio > 0);
      assert.ok(s.layers.l2!.stats!().hitRatio > 0);
    }
    assert.ok(services.gateway.layers.l1.stats!().hitRatio >= 0);
  });

  it('rejects invalid POST /orders with 400 and field errors and writes nothing; a valid one is visible at once', async () => {
    const count = async () =>
      (
        await db.query<{ n: number }>(
          'SELECT (SELECT count(*) FROM orders)::int + (SELECT count(*) FROM order_events)::int AS n',
        )
      ).rows[0]!.n;
    const n0 = await count();
    const bad = [
      { userId: 'x', items: [] },
      { userId: 5, items: [{ sku: 'BAD SKU', quantity: 0, unitPriceCents: 1.5 }] },
      { items: [{ sku: 'mug', quantity: 1, unitPriceCents: 100 }] },
    ];
    for (const body of bad) {
      for (const url of [`${gw}/orders`, `${services.order.url}/orders`]) {
        const r = await post(url, body);
        assert.equal(r.status, 400, `${url} ${JSON.stringify(body)}`);
        assert.equal(r.body.error, 'invalid order');
        assert.ok(Object.keys(r.body.fields).length > 0);
      }
    }
    const fields = (await post(`${gw}/orders`, bad[1])).body.fields;
    assert.deepEqual(Object.keys(fields).sort(), [
      'items.0.quantity',
      'items.0.sku',
      'items.0.unitPriceCents',
    ]);
    assert.deepEqual((await post(`${gw}/orders`, bad[2])).body.fields, { userId: ['is required'] });
    const notJson = await getJson(`${gw}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(notJson.status, 400);
    assert.equal(
      (
        await post(`${gw}/orders`, {
          userId: 999_999,
          items: [{ sku: 'mug', quantity: 1, unitPriceCents: 1 }],
        })
      ).status,
      422,
    );
    assert.equal(await count(), n0, 'nothing was written');

    // A valid order is committed with its event, and the cached list (warm from the previous test) is invalidated.
    const good = await post(`${gw}/orders`, {
      userId: 3,
      items: [{ sku: 'lamp', quantity: 2, unitPriceCents: 2599 }],
    });
    assert.equal(good.status, 201);
    assert.equal(good.body.totalCents, 5198);
    assert.equal(await count(), n0 + 2);
    const list = await getJson(`${gw}/users/3/orders`);
    assert.equal(list.body.orders[0].id, good.body.id);
  });

  it('Prometheus scrapes the OpenTelemetry-named request, client, cache and database metrics and the business metrics of every service', async () => {
    const services3 = (samples: { metric: Record<string, string> }[]) =>
      SERVICES.every((s) => samples.some((x) => x.metric.service === s));
    // HTTP server: one histogram, the request count is its _count; OpenTelemetry label names.
    await prometheus.waitForSeries(
      'sum by (service) (http_server_request_duration_seconds_count)',
      services3,
    );
    const server = await prometheus.waitForSeries(
      'sum by (http_request_method, http_route, http_response_status_code, url_scheme) (http_server_request_duration_seconds_count{service="gateway", http_route="/users/:id/orders"})',
      (s) => s.some((x) => x.metric.http_response_status_code === '200'),
    );
    assert.deepEqual(
      { ...server.find((x) => x.metric.http_response_status_code === '200')!.metric },
      {
        http_request_method: 'GET',
        http_route: '/users/:id/orders',
        http_response_status_code: '200',
        url_scheme: 'http',
      },
    );
    // The invalid orders of the third test: 4xx, no error_type (a client error is not a server failure).
    const invalid = await prometheus.waitForSeries(
      'http_server_request_duration_seconds_count{service="order-service", http_route="/orders", http_response_status_code="400"}',
    );
    assert.ok(invalid.every((x) => x.metric.error_type === undefined));
    const buckets = await prometheus.query(
      'count by (le) (http_server_request_duration_seconds_bucket{service="gateway"})',
    );
    assert.deepEqual(
      buckets
        .map((b) => (b.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(b.metric.le)))
        .sort((a, b) => a - b),
      [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, Number.POSITIVE_INFINITY],
      "the conventions' default buckets",
    );
    // HTTP client (tracedFetch): the gateway calls the user service, which calls the order service.
    const calls = await prometheus.waitForSeries(
      'sum by (service, http_request_method, server_address, server_port, url_scheme) (http_client_request_duration_seconds_count{http_response_status_code="200"})',
      (s) => ['gateway', 'user-service'].every((svc) => s.some((x) => x.metric.service === svc)),
    );
    const gwCall = calls.find(
      (x) => x.metric.service === 'gateway' && x.metric.server_port === String(services.user.port),
    );
    assert.ok(gwCall, `gateway → user-service calls: ${JSON.stringify(calls.map((c) => c.metric))}`);
    assert.equal(gwCall.metric.server_address, '127.0.0.1');
    assert.equal(gwCall.metric.url_scheme, 'http');
    // Prometheus took the units from the OpenMetrics `# UNIT` lines.
    const metadata = (await prometheus.api(
      '/api/v1/metadata?metric=http_server_request_duration_seconds',
    )) as Record<string, { type: string; unit: string }[]>;
    assert.deepEqual(
      metadata.http_server_request_duration_seconds?.map((m) => [m.type, m.unit]),
      [['histogram', 'seconds']],
    );
    const clientMeta = (await prometheus.api(
      '/api/v1/metadata?metric=http_client_request_duration_seconds',
    )) as Record<string, { unit: string }[]>;
    assert.equal(clientMeta.http_client_request_duration_seconds?.[0]?.unit, 'seconds');
    // No legacy names next to the new ones.
    for (const legacy of [
      'requests_total',
      'request_duration_seconds_count',
      'cache_hit_rate',
      'db_connections_active',
    ])
      assert.deepEqual(await prometheus.query(legacy), [], `${legacy} is gone`);

    await prometheus.waitForSeries('sum by (service) (cache_requests_total{cache="l1"})', services3);
    const l2 = await prometheus.waitForSeries(
      'cache_requests_total{cache="l2", result="hit"} > 0',
      (s) => s.length === 2,
    );
    assert.deepEqual(l2.map((s) => s.metric.service).sort(), ['order-service', 'user-service']);
    // The hit ratio from the counters, as the README gives it.
    await prometheus.waitForSeries(
      'sum by (service, cache) (cache_requests_total{result="hit"}) / sum by (service, cache) (cache_requests_total) > 0',
      (s) => s.length >= 4,
    );
    await prometheus.waitForSeries('user_lookups_total{service="user-service", result="hit"} > 0');
    await prometheus.waitForSeries('user_lookups_total{service="user-service", result="miss"} > 0');
    await prometheus.waitForSeries('orders_created_total{service="order-service"} >= 1');
    await prometheus.waitForSeries('order_value_dollars_count{service="order-service"} >= 1');
    const conns = await prometheus.waitForSeries('db_client_connection_count', (s) => s.length === 4);
    assert.deepEqual(conns.map((c) => `${c.metric.service} ${c.metric.db_client_connection_state}`).sort(), [
      'order-service idle',
      'order-service used',
      'user-service idle',
      'user-service used',
    ]);
    // Latency exemplars carry trace ids (what Grafana's exemplar links open in Jaeger), and the trace exists there.
    const exemplars = await waitFor(
      async () => {
        const end = Date.now() / 1000;
        const data = (await prometheus.api(
          `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket{service="gateway"}')}&start=${end - 600}&end=${end}`,
        )) as { exemplars: { labels: Record<string, string> }[] }[];
        const ids = data.flatMap((d) => d.exemplars.map((e) => e.labels.trace_id)).filter(Boolean);
        return ids.length > 0 ? ids : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250, what: 'trace_id exemplars on the gateway latency histogram' },
    );
    assert.match(exemplars[0]!, /^[0-9a-f]{32}$/);
    await Promise.all(services.all.map((s) => s.tracer?.flush()));
    await waitFor(() => jaeger.getTrace(exemplars[0]!), {
      timeoutMs: 15_000,
      what: 'the exemplar trace in Jaeger',
    });
    // Every series also carries the job of the repository's scrape config.
    const jobs = await prometheus.query('count by (job) (up == 1)');
    assert.deepEqual(jobs.map((s) => s.metric.job).sort(), ['gateway', 'order-service', 'user-service']);
  });

  it('every PromQL expression of the Grafana dashboards returns data', async () => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 15, `found ${queries.length} dashboard queries`);
    // Keep rates non-empty: a little fresh traffic, then give Prometheus a few scrapes of it.
    for (let i = 0; i < 20; i++) await getJson(`${gw}/users/${1 + (i % 5)}`);
    const empty: string[] = [];
    for (const q of queries) {
      const expr = q.expr.replaceAll('$__rate_interval', '1m');
      try {
        await prometheus.waitForSeries(expr, (s) => s.length > 0, { timeoutMs: 15_000 });
      } catch {
        empty.push(`${q.where}: ${expr}`);
      }
    }
    assert.deepEqual(empty, [], 'queries without data');
  });

  it('keeps answering correctly while Redis is down', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    const expected = new Map<number, unknown>();
    for (const id of ids) {
      const { rows } = await db.query('SELECT id, name, email FROM users WHERE id = $1', [id]);
      expected.set(id, rows[0]);
    }
    await redis.stop();
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        const u = await getJson(`${gw}/users/${id}`);
        assert.equal(u.status, 200, `GET /users/${id} with Redis down`);
        assert.deepEqual(u.body, expected.get(id));
        const o = await getJson(`${gw}/users/${id}/orders`);
        assert.equal(o.status, 200, `GET /users/${id}/orders with Redis down`);
        assert.deepEqual(o.body.user, expected.get(id));
        const { rows } = await db.query<{ id: string }>(
          'SELECT id FROM orders WHERE user_id = $1 ORDER BY id DESC',
          [id],
        );
        assert.deepEqual(
          o.body.orders.map((x: { id: number }) => x.id),
          rows.map((r) => Number(r.id)),
        );
      }
    }
    // Writes still work and are visible on the next read of this instance.
    const w = await post(`${gw}/orders`, {
      userId: 2,
      items: [{ sku: 'pen', quantity: 1, unitPriceCents: 199 }],
    });
    assert.equal(w.status, 201);
    assert.equal((await getJson(`${gw}/users/2/orders`)).body.orders[0].id, w.body.id);
    assert.notEqual(services.user.tiered!.breakerState(), 'closed', 'the breaker noticed the outage');
  });
});
