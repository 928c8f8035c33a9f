import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

// render(accept) given the Accept header as a list (req.headersDistinct.accept) or another
// non-string failed with a raw TypeError from the negotiation (`accept.split is not a function`).
describe('prometheus metrics: render(accept) with an accept that is not a string', () => {
  it('rejects with MetricsError invalid_option and keeps rendering', async () => {
    const metrics = createMetrics({});
    try {
      for (const accept of [
        ['application/openmetrics-text'],
        { toString: () => 'application/openmetrics-text' },
        Symbol('a'),
      ]) {
        await assert.rejects(
          metrics.render(accept as never),
          (e) => e instanceof MetricsError && e.code === 'invalid_option' && /accept/.test(e.message),
        );
      }
      assert.match((await metrics.render('application/openmetrics-text')).contentType, /openmetrics/);
      assert.match((await metrics.render()).contentType, /^text\/plain/);
    } finally {
      await metrics.close();
    }
  });
});
