import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const quiet = { logger: { warn() {} } };

describe('prometheus metrics: names that would break the exposition are refused', () => {
  for (const label of ['le', 'quantile'])
    it(`default label "${label}" (the bucket/quantile label of histograms and summaries) is refused`, () => {
      // Before: accepted, and every histogram rendered `h_bucket{le="x",le="0.005"}`, which
      // promtool (and a Prometheus scrape) rejects as a parse error of the whole exposition.
      assert.throws(() => createMetrics({ ...quiet, defaultLabels: { [label]: 'x' } }), {
        name: 'MetricsError',
        code: 'invalid_label',
      });
      assert.throws(
        () => loadConfigFromText(`metrics: { default_labels: { ${label}: x } }\n`, { env: {} }),
        (e: Error & { issues?: { path: string }[] }) =>
          e.name === 'ConfigError' &&
          e.issues?.some((i) => i.path === `metrics.default_labels.${label}`) === true,
      );
    });

  // Before: accepted on gauges and counters (and `quantile` on histograms), and promtool warned on
  // the scrape: `non-histogram metrics should not have "le" label`, `non-summary metrics should not
  // have "quantile" label`.
  for (const label of ['le', 'quantile'])
    for (const type of ['counter', 'gauge', 'histogram'] as const)
      it(`label name "${label}" on a ${type} is refused with invalid_label`, async () => {
        const m = createMetrics(quiet);
        assert.throws(() => m[type]({ name: 'jobs', help: 'x', labelNames: ['kind', label] }), {
          name: 'MetricsError',
          code: 'invalid_label',
          message: new RegExp(`label name "${label}" of ${type} "jobs(_total)?" is reserved`),
        });
        await m.close();
      });

  // Each pair, registered in either order, exposes one name twice: a duplicate family in
  // OpenMetrics (counter `foo` is family `foo`), or a sample of a histogram exposed by another
  // metric (promtool: "second HELP line for metric name").
  const pairs: [
    string,
    (m: ReturnType<typeof createMetrics>) => unknown,
    (m: ReturnType<typeof createMetrics>) => unknown,
  ][] = [
    [
      'counter foo / gauge foo',
      (m) => m.counter({ name: 'foo', help: 'c' }),
      (m) => m.gauge({ name: 'foo', help: 'g' }),
    ],
    [
      'counter foo / histogram foo',
      (m) => m.counter({ name: 'foo', help: 'c' }),
      (m) => m.histogram({ name: 'foo', help: 'h' }),
    ],
    [
      'histogram foo / counter foo_sum',
      (m) => m.histogram({ name: 'foo', help: 'h' }),
      (m) => m.counter({ name: 'foo_sum', help: 'c' }),
    ],
  ];
  for (const [what, first, second] of pairs) {
    for (const [order, a, b] of [
      ['in this order', first, second],
      ['in the other order', second, first],
    ] as const)
      it(`${what}, ${order}: the second registration throws incompatible_metric`, async () => {
        const m = createMetrics(quiet);
        a(m);
        assert.throws(() => b(m), { name: 'MetricsError', code: 'incompatible_metric' });
        await m.close();
      });
  }

  it('a gauge named like a sample of a built-in histogram is refused (it would break the whole scrape)', async () => {
    const m = createMetrics(quiet);
    // invalid_name (its name alone is refused, see below) takes precedence over the clash.
    assert.throws(() => m.gauge({ name: 'http_server_request_duration_seconds_count', help: 'g' }), {
      code: 'invalid_name',
    });
    await m.close();
  });

  // A gauge or histogram ending in a sample suffix OpenMetrics reserves for counters, histograms
  // and summaries. Before: accepted, and promtool warned (`non-counter metrics should not have
  // "_total" suffix`, `non-histogram metrics should not have "_bucket" suffix`, …).
  for (const suffix of ['total', 'created', 'bucket', 'count', 'sum', 'gcount', 'gsum'])
    for (const type of ['gauge', 'histogram'] as const)
      it(`a ${type} named "jobs_${suffix}" is refused with invalid_name, whatever else is registered`, async () => {
        const m = createMetrics({ ...quiet, namespace: 'app' });
        const register = () => m[type]({ name: `jobs_${suffix}`, help: 'x' });
        assert.throws(register, (e: Error & { code?: string }) => {
          assert.equal(e.name, 'MetricsError');
          assert.equal(e.code, 'invalid_name');
          assert.match(e.message, new RegExp(`"app_jobs_${suffix}" must not end in _${suffix}`));
          return true;
        });
        // The same error beside a metric it would also clash with (histogram `jobs`): the order of
        // registration does not change which error a name gets.
        m.histogram({ name: 'jobs', help: 'h' });
        m.counter({ name: 'jobs_created', help: 'c' }); // a counter: app_jobs_created_total
        assert.throws(register, { code: 'invalid_name' });
        await m.close();
      });

  it('a gauge named …_info (the build_info idiom) and the built-in db_client_connection_count still register', async () => {
    const m = createMetrics(quiet);
    m.gauge({ name: 'build_info', help: 'g', labelNames: ['version'] }).set({ version: '1' }, 1);
    assert.match((await m.render()).body, /^# TYPE db_client_connection_count gauge$/m);
    await m.close();
  });

  it('a counter named "_total" (an empty OpenMetrics family name) is refused', () => {
    const m = createMetrics(quiet);
    assert.throws(() => m.counter({ name: '_total', help: 'c' }), { code: 'invalid_name' });
  });

  it('names that only look alike still register', async () => {
    const m = createMetrics(quiet);
    m.histogram({ name: 'foo', help: 'h' });
    m.counter({ name: 'foo_requests', help: 'c' });
    m.gauge({ name: 'foo_counts', help: 'g' });
    m.counter({ name: 'bar', help: 'c' });
    m.counter({ name: 'bar_total', help: 'c' }); // the same counter again
    m.gauge({ name: 'bar_creation', help: 'g' });
    m.gauge({ name: 'totals', help: 'g' });
    await m.close();
  });
});
