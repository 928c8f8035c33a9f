import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as client from 'prom-client';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const text = async (m: ReturnType<typeof createMetrics>) => (await m.render()).body;

/** The sample lines of `name` (exact family match), as `series value`. */
function samples(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('prometheus metrics: instruments', () => {
  it('counter: unlabelled and labelled inc, namespace/subsystem prefix, _total suffix', async () => {
    const m = createMetrics({ namespace: 'hyperion', subsystem: 'shop' });
    const orders = m.counter({ name: 'orders', help: 'Orders placed', labelNames: ['kind'] });
    orders.inc({ kind: 'book' });
    orders.inc({ kind: 'book' }, 2.5);
    orders.inc({ kind: 'pen' });
    const plain = m.counter({ name: 'logins_total', help: 'Logins' });
    plain.inc();
    plain.inc(4);
    const body = await text(m);
    assert.deepEqual(samples(body, 'hyperion_shop_orders_total'), [
      'hyperion_shop_orders_total{kind="book"} 3.5',
      'hyperion_shop_orders_total{kind="pen"} 1',
    ]);
    assert.deepEqual(samples(body, 'hyperion_shop_logins_total'), ['hyperion_shop_logins_total 5']);
    assert.match(body, /# TYPE hyperion_shop_orders_total counter/);
  });

  it('counter rejects negative, NaN, infinite and non-number increments without creating a series', async () => {
    const m = createMetrics();
    const c = m.counter({ name: 'c', help: 'c', labelNames: ['k'] });
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '3' as unknown as number]) {
      assert.throws(
        () => c.inc({ k: 'x' }, bad),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_value',
      );
    }
    assert.equal(m.seriesCount('c_total'), 0);
  });

  it('gauge: set, inc, dec with and without labels', async () => {
    const m = createMetrics();
    const g = m.gauge({ name: 'queue_depth', help: 'Depth', labelNames: ['queue'] });
    g.set({ queue: 'a' }, 10);
    g.inc({ queue: 'a' });
    g.dec({ queue: 'a' }, 4);
    g.inc({ queue: 'b' }, 2);
    const u = m.gauge({ name: 'temperature', help: 'T' });
    u.set(20);
    u.dec();
    u.inc(0.5);
    const body = await text(m);
    assert.deepEqual(samples(body, 'queue_depth'), ['queue_depth{queue="a"} 7', 'queue_depth{queue="b"} 2']);
    assert.deepEqual(samples(body, 'temperature'), ['temperature 19.5']);
    assert.throws(() => u.set('x' as unknown as number), /gauge value/);
  });

  it('histogram: custom buckets are cumulative, +Inf/sum/count, rejects non-finite values', async () => {
    const m = createMetrics();
    const h = m.histogram({ name: 'payload_bytes', help: 'Sizes', labelNames: ['kind'], buckets: [10, 100] });
    h.observe({ kind: 'a' }, 5);
    h.observe({ kind: 'a' }, 10);
    h.observe({ kind: 'a' }, 50);
    h.observe({ kind: 'a' }, 500);
    const body = await text(m);
    assert.deepEqual(
      body.split('\n').filter((l) => l.startsWith('payload_bytes_')),
      [
        'payload_bytes_bucket{kind="a",le="10"} 2',
        'payload_bytes_bucket{kind="a",le="100"} 3',
        'payload_bytes_bucket{kind="a",le="+Inf"} 4',
        'payload_bytes_sum{kind="a"} 565',
        'payload_bytes_count{kind="a"} 4',
      ],
    );
    assert.throws(() => h.observe({ kind: 'a' }, Number.NaN), MetricsError);
    assert.throws(() => h.observe({ kind: 'a' }, Number.POSITIVE_INFINITY), MetricsError);
  });

  it('histogram startTimer uses the injected clock and merges start and end labels', async () => {
    let t = 1000;
    const m = createMetrics({ now: () => t });
    const h = m.histogram({
      name: 'job_seconds',
      help: 'Jobs',
      labelNames: ['job', 'outcome'],
      buckets: [1, 5],
    });
    const end = h.startTimer({ job: 'sync' });
    t += 2500;
    assert.equal(end({ outcome: 'ok' }), 2.5);
    const body = await text(m);
    assert.ok(body.includes('job_seconds_bucket{job="sync",outcome="ok",le="5"} 1'), body);
    assert.ok(body.includes('job_seconds_sum{job="sync",outcome="ok"} 2.5'));
  });

  it('validates metric names, label names, buckets and help with MetricsError', () => {
    const m = createMetrics();
    const code = (c: string) => (e: unknown) => e instanceof MetricsError && e.code === c;
    assert.throws(() => m.counter({ name: '1abc', help: 'x' }), code('invalid_name'));
    assert.throws(() => m.counter({ name: 'a-b', help: 'x' }), code('invalid_name'));
    assert.throws(() => m.counter({ name: '__secret', help: 'x' }), code('invalid_name'));
    assert.throws(() => m.counter({ name: 'a', help: '' }), code('invalid_help'));
    assert.throws(() => m.counter({ name: 'a', help: 'x', labelNames: ['__x'] }), code('invalid_label'));
    assert.throws(() => m.counter({ name: 'a', help: 'x', labelNames: ['a-b'] }), code('invalid_label'));
    assert.throws(() => m.counter({ name: 'a', help: 'x', labelNames: ['k', 'k'] }), code('invalid_label'));
    assert.throws(() => m.histogram({ name: 'h', help: 'x', labelNames: ['le'] }), /"le".*reserved/);
    assert.throws(() => m.histogram({ name: 'h', help: 'x', buckets: [1, 1] }), code('invalid_buckets'));
    assert.throws(() => m.histogram({ name: 'h', help: 'x', buckets: [] }), code('invalid_buckets'));
    assert.throws(() => m.histogram({ name: 'h_count', help: 'x' }), code('invalid_name'));
    assert.throws(() => createMetrics({ namespace: 'bad-ns' }), code('invalid_name'));
    assert.throws(() => createMetrics({ maxSeriesPerMetric: 0 }), code('invalid_option'));
    const withDefaults = createMetrics({ defaultLabels: { service: 'api' } });
    assert.throws(
      () => withDefaults.counter({ name: 'a', help: 'x', labelNames: ['service'] }),
      /already a default label/,
    );
  });

  it('rejects undeclared labels and non-scalar label values on every call', () => {
    const m = createMetrics();
    const c = m.counter({ name: 'hits', help: 'x', labelNames: ['route'] });
    c.inc({ route: '/a' });
    assert.throws(
      () => c.inc({ route: '/a', user: 'u1' }),
      /label "user" is not declared by metric "hits_total"/,
    );
    assert.throws(
      () => c.inc({ route: {} as unknown as string }),
      /must be a string or number, received object/,
    );
    assert.equal(m.seriesCount('hits_total'), 1);
  });

  it('re-registration returns the same metric when compatible and throws when not', async () => {
    const m = createMetrics();
    const a = m.counter({ name: 'jobs', help: 'Jobs', labelNames: ['a', 'b'] });
    const b = m.counter({ name: 'jobs_total', help: 'Other help', labelNames: ['b', 'a'] });
    assert.equal(a, b, 'same name (with or without _total), same labels in any order → same metric');
    const incompatible = (e: unknown) => e instanceof MetricsError && e.code === 'incompatible_metric';
    assert.throws(() => m.gauge({ name: 'jobs_total', help: 'x', labelNames: ['a', 'b'] }), incompatible);
    assert.throws(() => m.counter({ name: 'jobs', help: 'x', labelNames: ['a'] }), incompatible);
    const h = m.histogram({ name: 'lat', help: 'x', buckets: [1, 2] });
    assert.equal(m.histogram({ name: 'lat', help: 'x', buckets: [1, 2] }), h);
    assert.throws(() => m.histogram({ name: 'lat', help: 'x', buckets: [1, 3] }), /buckets \[1, 2\]/);
  });

  it('registers in its own registry (two adapters never collide) or in an injected one', async () => {
    const one = createMetrics();
    const two = createMetrics();
    one.counter({ name: 'same', help: 'x' }).inc();
    two.counter({ name: 'same', help: 'x' }).inc(5);
    assert.deepEqual(samples(await text(one), 'same_total'), ['same_total 1']);
    assert.deepEqual(samples(await text(two), 'same_total'), ['same_total 5']);
    assert.equal(client.register.getSingleMetric('same_total'), undefined, 'global registry untouched');

    const registry = new client.Registry();
    const foreign = new client.Gauge({
      name: 'legacy_gauge',
      help: 'from other code',
      registers: [registry],
    });
    foreign.set(7);
    const injected = createMetrics({ registry });
    injected.counter({ name: 'mine', help: 'x', labelNames: ['k'] }).inc({ k: 'v' });
    // prom-client's own renderer sees our metrics (they live in its storage) …
    const promText = await registry.metrics();
    assert.match(promText, /^mine_total\{k="v"\} 1$/m);
    // … and ours renders the foreign metric.
    assert.deepEqual(samples(await text(injected), 'legacy_gauge'), ['legacy_gauge 7']);
    assert.throws(
      () => injected.gauge({ name: 'legacy_gauge', help: 'x' }),
      /registered in the registry by other code/,
    );
  });

  it('default labels go on every series; onCollect runs before each render and can unsubscribe', async () => {
    const warnings: string[] = [];
    const m = createMetrics({
      defaultLabels: { service: 'gateway' },
      logger: { warn: (msg) => warnings.push(msg) },
    });
    const g = m.gauge({ name: 'open_files', help: 'x' });
    let reads = 0;
    const off = m.onCollect(() => {
      reads++;
      g.set(reads * 10);
    });
    assert.deepEqual(samples(await text(m), 'open_files'), ['open_files{service="gateway"} 10']);
    assert.deepEqual(samples(await text(m), 'open_files'), ['open_files{service="gateway"} 20']);
    off();
    await text(m);
    assert.equal(reads, 2);
    const failing = m.onCollect(async () => {
      throw new Error('collector down');
    });
    assert.deepEqual(
      samples(await text(m), 'open_files'),
      ['open_files{service="gateway"} 20'],
      'scrape survives',
    );
    failing();
  });

  it("stays consistent with prom-client's own remove() and resetMetrics() on the same storage", async () => {
    const registry = new client.Registry();
    const m = createMetrics({ registry, maxSeriesPerMetric: 2, logger: { warn() {} } });
    const c = m.counter({ name: 'shared', help: 'x', labelNames: ['k'] });
    c.inc({ k: 'a' });
    c.inc({ k: 'b' });
    const prom = registry.getSingleMetric('shared_total') as client.Counter<'k'>;
    prom.remove({ k: 'a' });
    assert.equal(m.seriesCount('shared_total'), 1);
    c.inc({ k: 'c' }); // the slot freed by prom-client's remove() is reused, not overflowed
    assert.deepEqual(samples(await text(m), 'shared_total'), [
      'shared_total{k="b"} 1',
      'shared_total{k="c"} 1',
    ]);
    registry.resetMetrics();
    assert.equal(m.seriesCount('shared_total'), 0);
    c.inc({ k: 'x' });
    c.inc({ k: 'y' }, 2);
    assert.deepEqual(samples(await text(m), 'shared_total'), [
      'shared_total{k="x"} 1',
      'shared_total{k="y"} 2',
    ]);
    assert.match(await registry.metrics(), /^shared_total\{k="y"\} 2$/m);
  });

  it('enabled: false is a valid no-op', async () => {
    const m = createMetrics({ enabled: false });
    assert.equal(m.enabled, false);
    m.counter({ name: 'x', help: 'x' }).inc();
    m.histogram({ name: 'h', help: 'x' }).observe(1);
    const handler = () => {};
    assert.equal(m.instrument(handler, { route: '/' }), handler);
    assert.equal(await m.listen(), undefined);
    assert.equal((await m.render()).body, '');
    await m.close();
  });

  it('watchCache reads stats at scrape time into cache_requests_total and cache_hit_rate', async () => {
    const m = createMetrics({ namespace: 'hyperion' });
    let stats = { hits: 3, misses: 1, hitRatio: 0.75, keysEvicted: 2, errors: 0 };
    let reads = 0;
    const cache = {
      name: 'memory',
      stats: () => {
        reads++;
        return stats;
      },
    };
    const unwatch = m.watchCache(cache);
    assert.equal(reads, 0, 'nothing is read until a scrape');
    let body = await text(m);
    assert.equal(reads, 1);
    assert.deepEqual(samples(body, 'hyperion_cache_requests_total'), [
      'hyperion_cache_requests_total{cache="memory",result="hit"} 3',
      'hyperion_cache_requests_total{cache="memory",result="miss"} 1',
    ]);
    assert.deepEqual(samples(body, 'hyperion_cache_hit_rate'), [
      'hyperion_cache_hit_rate{cache_type="memory"} 0.75',
    ]);
    assert.deepEqual(samples(body, 'hyperion_cache_evictions_total'), [
      'hyperion_cache_evictions_total{cache="memory"} 2',
    ]);
    stats = { hits: 9, misses: 1, hitRatio: 0.9, keysEvicted: 2, errors: 1 };
    body = await text(m);
    assert.deepEqual(samples(body, 'hyperion_cache_hit_rate'), [
      'hyperion_cache_hit_rate{cache_type="memory"} 0.9',
    ]);
    assert.throws(() => m.watchCache({ name: 'memory', stats: () => stats }), /already watched/);
    unwatch();
    body = await text(m);
    assert.deepEqual(samples(body, 'hyperion_cache_hit_rate'), []);
    assert.equal(reads, 2);
  });

  it('watchDbConnections sets db_connections_active at scrape time', async () => {
    const m = createMetrics();
    let active = 4;
    m.watchDbConnections(async () => active);
    assert.deepEqual(samples(await text(m), 'db_connections_active'), ['db_connections_active 4']);
    active = 7;
    assert.deepEqual(samples(await text(m), 'db_connections_active'), ['db_connections_active 7']);
  });
});
