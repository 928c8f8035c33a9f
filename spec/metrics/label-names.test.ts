/**
 * Label names every object inherits from `Object.prototype` (`constructor`, `toString`,
 * `valueOf`, `hasOwnProperty`): valid Prometheus label names. A call leaving such a label out
 * (`inc()`, `inc({})`, the other labels only) used to be refused with `label "constructor" … must
 * be a string or number, received function`, read from `{}.constructor`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics, createMetricsWith } from '../../lib/metrics/prometheus/create.js';
import type { PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { parseExposition } from './samples.js';

const quiet = { warn() {} };

const adapters: [string, () => PrometheusMetrics][] = [
  ['fast path', () => createMetrics({ logger: quiet })],
  [
    'public-API fallback',
    () => createMetricsWith({ logger: quiet }, { probe: { ok: false, reason: 'forced by the test' } }),
  ],
];

for (const [path, make] of adapters) {
  describe(`prometheus metrics: label names objects inherit (${path})`, () => {
    it('a label named constructor, toString, valueOf or hasOwnProperty may be left out', async () => {
      const m = make();
      const g = m.gauge({ name: 'jobs', help: 'Jobs.', labelNames: ['constructor', 'valueOf', 'kind'] });
      g.set({ constructor: 'Worker', valueOf: 'v' }, 1);
      g.set({ kind: 'a' }, 2);
      g.set({}, 3);
      g.inc(4);
      const c = m.counter({ name: 'calls', help: 'Calls.', labelNames: ['hasOwnProperty'] });
      c.inc();
      c.inc({});
      c.inc({ hasOwnProperty: 'x' }, 5);
      const h = m.histogram({ name: 'lat', help: 'Latency.', labelNames: ['toString'], buckets: [1] });
      h.observe({}, 0.5);
      h.startTimer({})();
      h.startTimer()({ toString: 'end' });
      const text = (await m.render()).body;
      assert.doesNotMatch(text, /function|native code/);
      const samples = parseExposition(text);
      const value = (name: string, labels: Record<string, string>) =>
        samples.find(
          (s) =>
            s.name === name &&
            JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
        )?.value;
      assert.equal(value('jobs', { constructor: 'Worker', valueOf: 'v' }), 1);
      assert.equal(value('jobs', { kind: 'a' }), 2);
      assert.equal(value('jobs', {}), 7);
      assert.equal(value('calls_total', {}), 2);
      assert.equal(value('calls_total', { hasOwnProperty: 'x' }), 5);
      assert.equal(value('lat_count', {}), 2);
      assert.equal(value('lat_count', { toString: 'end' }), 1);
      await m.close();
    });
  });
}
