/**
 * A `watchTieredCoherence` call refused for its name leaves no trace. The name is the `cache`
 * label, and one no label can hold (the cap's reserved `__overflow__`, a lone surrogate, over
 * 2048 bytes) was refused only after the name had been marked as watched: the same call again
 * was refused as `duplicate_cache` ("already watched … pass { name }", the whole name quoted)
 * instead of naming what is wrong, and the mark stayed for the life of the metrics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { MetricsError } from '../../../lib/core/errors.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { freePort } from '../../harness/process.js';

describe('watchTieredCoherence: a refused name', () => {
  it('is refused the same way every time, and a watch under a good name then works', async () => {
    const metrics = createMetrics({ port: await freePort(), host: '127.0.0.1' });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: createMemoryCache({ maxCost: 1 << 16 }),
    });
    try {
      const { url } = (await metrics.listen())!;
      for (const name of ['__overflow__', 'orders\uD800', 'o'.repeat(3000)]) {
        for (let attempt = 1; attempt <= 2; attempt++)
          assert.throws(
            () => watchTieredCoherence(metrics, cache, { name }),
            (e: unknown) => e instanceof MetricsError && e.code === 'invalid_label',
            `${JSON.stringify(name.slice(0, 16))}, attempt ${attempt}`,
          );
      }
      const stop = watchTieredCoherence(metrics, cache, { name: 'orders' });
      const body = await (await fetch(url)).text();
      const coherence = body.split('\n').filter((l) => /^cache_(invalidations|l1_clears|tracking)/.test(l));
      assert.ok(coherence.length > 0, body);
      assert.ok(
        coherence.every((l) => l.includes('cache="orders"')),
        `only the good watch has series:\n${coherence.join('\n')}`,
      );
      stop();
    } finally {
      await cache.close();
      await metrics.close();
    }
  });
});
