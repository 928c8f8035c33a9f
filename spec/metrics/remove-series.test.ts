/**
 * `Counter.remove` / `Gauge.remove` (optional in the core contract, present in this adapter): takes
 * one series out, frees its place under the cardinality cap, and refuses what is not label values
 * with a MetricsError (`remove()` threw a bare TypeError from inside the series store, and
 * `remove('x')` removed nothing without a word).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics, createMetricsWith } from '../../lib/metrics/prometheus/create.js';
import type { PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { parseExposition } from './samples.js';

const quiet = { warn() {} };

const adapters: [string, () => PrometheusMetrics][] = [
  ['fast path', () => createMetrics({ logger: quiet, maxSeriesPerMetric: 2 })],
  [
    'public-API fallback',
    () =>
      createMetricsWith(
        { logger: quiet, maxSeriesPerMetric: 2 },
        { probe: { ok: false, reason: 'forced by the test' } },
      ),
  ],
];

const values = (text: string, name: string) =>
  parseExposition(text)
    .filter((s) => s.name === name)
    .map((s) => `${JSON.stringify(s.labels)}=${s.value}`)
    .sort();

for (const [path, make] of adapters) {
  describe(`prometheus metrics: remove a series (${path})`, () => {
    it('removes one series of a counter and a gauge and frees its place under the cap', async () => {
      const m = make();
      const c = m.counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['kind'] });
      const g = m.gauge({ name: 'queue', help: 'Queue.', labelNames: ['kind'] });
      c.inc({ kind: 'a' });
      c.inc({ kind: 'b' }, 2);
      g.set({ kind: 'a' }, 5);
      c.remove?.({ kind: 'a' });
      g.remove?.({ kind: 'a' });
      g.remove?.({ kind: 'never-written' });
      c.inc({ kind: 'c' }, 3);
      const text = (await m.render()).body;
      assert.deepEqual(values(text, 'jobs_total'), ['{"kind":"b"}=2', '{"kind":"c"}=3']);
      assert.deepEqual(values(text, 'queue'), []);
      await m.close();
    });

    it('refuses what is not one series’ label values with a MetricsError', async () => {
      const m = make();
      const c = m.counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['kind'] });
      c.inc({ kind: 'a' });
      for (const bad of [undefined, null, 'a', 5, ['a']]) {
        assert.throws(
          () => c.remove?.(bad as never),
          (e: unknown) =>
            e instanceof MetricsError &&
            e.code === 'invalid_label' &&
            /remove\(\) of metric "jobs_total"/.test(e.message),
          `remove(${JSON.stringify(bad)})`,
        );
      }
      assert.deepEqual(values((await m.render()).body, 'jobs_total'), ['{"kind":"a"}=1']);
      await m.close();
    });
  });
}
