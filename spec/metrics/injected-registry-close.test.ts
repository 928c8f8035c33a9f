import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as client from 'prom-client';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const quiet = { logger: { warn() {} } };

// An injected registry is the user's: close() used to leave every metric the adapter had put in
// it, so a new adapter on the same registry (a test's beforeEach/afterEach, a config reload) was
// refused with incompatible_metric ("already registered in the registry by other code"), and
// whoever served registry.metrics() kept serving the closed adapter's frozen series.
describe('prometheus metrics: close() on an injected registry', () => {
  it('takes the adapter’s metrics out of the registry, leaves the user’s own, and a new adapter can register', async () => {
    const registry = new client.Registry();
    const theirs = new client.Counter({ name: 'theirs_total', help: 'user code', registers: [registry] });
    theirs.inc();
    const first = createMetrics({ ...quiet, registry, collectRuntime: true });
    first.counter({ name: 'orders', help: 'orders placed' }).inc(3);
    assert.ok(registry.getSingleMetric('orders_total'));
    await first.close();

    assert.deepEqual(
      registry.getMetricsAsArray().map((m) => m.name),
      ['theirs_total'],
      'only the metric other code registered is left',
    );
    // render() keeps working after close(): the closed adapter's final values.
    const final = await first.render();
    assert.match(final.body, /^orders_total 3$/m);

    const second = createMetrics({ ...quiet, registry, collectRuntime: true });
    second.counter({ name: 'orders', help: 'orders placed' }).inc();
    const { body } = await second.render();
    assert.match(body, /^orders_total 1$/m);
    assert.match(body, /^theirs_total 1$/m);
    assert.match(body, /^process_cpu_user_seconds_total /m);
    await second.close();
  });

  // A metric registered lazily (a request handler's `metrics.counter(...)`, which returns the
  // metric already registered) by a request still in flight on the old app at a reload: it used to
  // go into the injected registry after close() and stay there, so the new adapter's registration
  // of that name was refused with incompatible_metric and registry.metrics() served it.
  it('a metric registered on the adapter after close() stays out of the injected registry', async () => {
    const registry = new client.Registry();
    const old = createMetrics({ ...quiet, registry });
    await old.close();
    old.counter({ name: 'late', help: 'registered after close' }).inc(2);
    old.histogram({ name: 'late_seconds', help: 'registered after close' }).observe(1);
    assert.deepEqual(registry.getMetricsAsArray(), []);
    assert.match((await old.render()).body, /^late_total 2$/m, 'render() of the closed adapter shows it');
    const next = createMetrics({ ...quiet, registry });
    next.counter({ name: 'late', help: 'the new one', labelNames: ['kind'] }).inc({ kind: 'a' });
    next.gauge({ name: 'late_seconds', help: 'the new one' }).set(5);
    const { body } = await next.render();
    assert.match(body, /^late_total\{kind="a"\} 1$/m);
    assert.match(body, /^late_seconds 5$/m);
    assert.doesNotMatch(await registry.metrics(), /^late_total 2$/m);
    await next.close();
  });

  it('also when the registry is an OpenMetrics one whose own metrics() renamed the counters in place', async () => {
    const registry = new client.Registry();
    registry.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE as never);
    const first = createMetrics({ ...quiet, registry });
    first.counter({ name: 'orders', help: 'orders placed' }).inc();
    // prom-client renames every counter of an OpenMetrics registry to its family name here.
    await registry.metrics();
    await first.close();
    assert.deepEqual(registry.getMetricsAsArray(), []);
    const second = createMetrics({ ...quiet, registry });
    second.counter({ name: 'orders', help: 'orders placed' });
    await second.close();
  });

  // A reload builds the new adapter before closing the old one: the old one, which had registered
  // the runtime metrics, used to take them out of the registry at close, and the new adapter's
  // scrapes had no process_* / nodejs_* series from then on.
  it('keeps the runtime metrics while another open adapter on the registry uses them', async () => {
    const registry = new client.Registry();
    const runtime = /^process_cpu_user_seconds_total /m;
    const old = createMetrics({ ...quiet, registry, collectRuntime: true, namespace: 'old' });
    const next = createMetrics({ ...quiet, registry, collectRuntime: true, namespace: 'next' });
    await old.close();
    assert.match((await next.render()).body, runtime, 'the open adapter still has them');
    assert.ok(registry.getSingleMetric('process_cpu_user_seconds_total'));
    assert.match((await old.render()).body, runtime, "the closed one's final render too");
    await next.close();
    assert.deepEqual(registry.getMetricsAsArray(), [], 'the last one out takes them');
  });

  // A reload that builds the new adapter before closing the old one, same namespace, one
  // registry: prom-client holds one metric per name, so the new adapter is refused. The refusal
  // said the names were "registered in the registry by other code", pointing away from the
  // adapter still open; it names it now, and closing it first is the order that works.
  it('a second open adapter with the same names is refused naming the open adapter; closing the old one first works', async () => {
    const registry = new client.Registry();
    const old = createMetrics({ ...quiet, registry, collectRuntime: true });
    old.counter({ name: 'orders', help: 'orders placed' }).inc();
    assert.throws(
      () => createMetrics({ ...quiet, registry, collectRuntime: true }),
      (err: Error & { code?: string }) =>
        err.code === 'incompatible_metric' &&
        /another open metrics adapter on this registry/.test(err.message) &&
        /close that adapter first/.test(err.message) &&
        !/by other code/.test(err.message),
    );
    await old.close();
    const next = createMetrics({ ...quiet, registry, collectRuntime: true });
    next.counter({ name: 'orders', help: 'orders placed' }).inc(2);
    const { body } = await next.render();
    assert.match(body, /^orders_total 2$/m);
    assert.match(body, /^process_cpu_user_seconds_total /m);
    await next.close();
    // Other code's metric of such a name is still "other code".
    new client.Counter({
      name: 'metrics_series_dropped_total',
      help: 'x',
      registers: [registry],
    });
    assert.throws(() => createMetrics({ ...quiet, registry }), /by other code/);
    registry.removeSingleMetric('metrics_series_dropped_total');
  });

  // A createMetrics refused half-way (a name clash with other code's metric) used to leave the
  // built-in metrics it had registered so far in the registry: served by registry.metrics(), and
  // the next createMetrics({ registry }) was refused because of them.
  it('a createMetrics refused by a clash leaves the registry as it found it', async () => {
    const registry = new client.Registry();
    const theirs = new client.Gauge({ name: 'cache_requests', help: 'user code', registers: [registry] });
    assert.throws(
      () => createMetrics({ ...quiet, registry }),
      (err: Error & { code?: string }) => err.name === 'MetricsError' && err.code === 'incompatible_metric',
    );
    assert.deepEqual(registry.getMetricsAsArray(), [theirs as unknown]);
    const m = createMetrics({ ...quiet, registry, prefix: 'app' });
    await m.close();
  });

  it('runtime metrics partly registered by other code: MetricsError, registry unchanged', () => {
    const registry = new client.Registry();
    new client.Gauge({ name: 'nodejs_heap_size_total_bytes', help: 'user code', registers: [registry] });
    assert.throws(
      () => createMetrics({ ...quiet, registry, collectRuntime: true }),
      (err: Error & { code?: string }) =>
        err.name === 'MetricsError' &&
        err.code === 'incompatible_metric' &&
        /nodejs_heap_size_total_bytes/.test(err.message),
    );
    assert.deepEqual(
      registry.getMetricsAsArray().map((m) => m.name),
      ['nodejs_heap_size_total_bytes'],
    );
  });

  it('leaves runtime metrics in the registry that other code had put there', async () => {
    const registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry });
    const before = registry.getMetricsAsArray().length;
    const m = createMetrics({ ...quiet, registry, collectRuntime: true });
    await m.close();
    assert.equal(registry.getMetricsAsArray().length, before);
  });
});
