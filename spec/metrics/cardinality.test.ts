import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { LogFields } from '../../lib/core/contracts.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { OVERFLOW_VALUE } from '../../lib/metrics/prometheus/series.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function recordingLogger() {
  const warnings: { message: string; fields?: LogFields }[] = [];
  return {
    warnings,
    logger: { warn: (message: string, fields?: LogFields) => warnings.push({ message, fields }) },
  };
}

describe('prometheus metrics: cardinality cap', () => {
  it('folds 1,000,000 distinct label values into one overflow series; memory stays bounded', async () => {
    const { warnings, logger } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 1000, logger });
    const c = m.counter({ name: 'user_requests', help: 'per user (a bad idea)', labelNames: ['user'] });
    const h = m.histogram({ name: 'user_latency_seconds', help: 'x', labelNames: ['user'] });
    for (let i = 0; i < 2000; i++) {
      c.inc({ user: `u${i}` });
      h.observe({ user: `u${i}` }, 0.01);
    }
    assert.equal(m.seriesCount('user_requests_total'), 1001, '1000 series + the overflow series');
    const before = heapAfterGc();
    for (let i = 2000; i < 1_000_000; i++) {
      c.inc({ user: `u${i}` });
      h.observe({ user: `u${i}` }, 0.01);
    }
    const grown = heapAfterGc() - before;
    assert.equal(m.seriesCount('user_requests_total'), 1001);
    assert.equal(m.seriesCount('user_latency_seconds'), 1001);
    // Without the cap the counter alone would keep ~1M entries (well over 100 MB).
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`);

    const body = (await m.render()).body;
    assert.ok(
      body.includes(`user_requests_total{user="${OVERFLOW_VALUE}"} 999000`),
      'overflow series counts every drop',
    );
    assert.ok(body.includes('user_requests_total{user="u999"} 1'));
    assert.ok(!body.includes('user="u1000"'));
    assert.ok(body.includes('metrics_series_dropped_total{metric="user_requests_total"} 999000'));
    assert.ok(body.includes('metrics_series_dropped_total{metric="user_latency_seconds"} 999000'));
    assert.equal(warnings.length, 2, 'one warning per metric');
    assert.deepEqual(
      warnings.map((w) => w.fields?.metric),
      ['user_requests_total', 'user_latency_seconds'],
    );
    assert.match(warnings[0]!.message, /cap of 1000/);
  });

  it('existing series keep counting after the cap; a per-metric maxSeries overrides the default', async () => {
    const { logger } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 2, logger });
    const g = m.gauge({ name: 'g', help: 'x', labelNames: ['k'] });
    g.set({ k: 'a' }, 1);
    g.set({ k: 'b' }, 2);
    g.set({ k: 'c' }, 3);
    g.inc({ k: 'a' });
    const body = (await m.render()).body;
    assert.ok(body.includes('g{k="a"} 2'));
    assert.ok(body.includes(`g{k="${OVERFLOW_VALUE}"} 3`));
    const wide = m.counter({ name: 'wide', help: 'x', labelNames: ['k'], maxSeries: 50 });
    for (let i = 0; i < 60; i++) wide.inc({ k: i });
    assert.equal(m.seriesCount('wide_total'), 51);
  });

  it('removed series free their slot (watchCache unwatch)', async () => {
    const { logger, warnings } = recordingLogger();
    const m = createMetrics({ maxSeriesPerMetric: 4, logger });
    const stats = { hits: 1, misses: 1, hitRatio: 0.5 };
    for (let round = 0; round < 5; round++) {
      const off = m.watchCache({ name: `c${round}`, stats: () => stats });
      await m.render();
      off();
    }
    assert.equal(warnings.length, 0);
    assert.equal(m.seriesCount('cache_requests_total'), 0);
  });
});
