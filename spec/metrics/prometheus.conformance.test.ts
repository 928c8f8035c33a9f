import { createMetrics, createMetricsWith } from '../../lib/metrics/prometheus/create.js';
import { metricsConformance } from '../conformance/metrics.js';
import { parseExposition } from './samples.js';

const quiet = { warn() {} };

metricsConformance('prometheus', ({ now }) => {
  const m = createMetrics({ now, logger: quiet });
  return {
    metrics: m,
    scrape: async () => parseExposition((await m.render()).body),
    honoursClock: true,
    close: () => m.close(),
  };
});

// The fallback used when prom-client's private storage is not what prom-internals.ts expects:
// the same contract through prom-client's public API.
metricsConformance('prometheus (prom-client public API fallback)', ({ now }) => {
  const m = createMetricsWith({ now, logger: quiet }, { probe: { ok: false, reason: 'forced by the test' } });
  return {
    metrics: m,
    scrape: async () => parseExposition((await m.render()).body),
    honoursClock: true,
    close: () => m.close(),
  };
});

metricsConformance('prometheus (disabled)', () => {
  const m = createMetrics({ enabled: false });
  return { metrics: m, honoursClock: false, close: () => m.close() };
});
