/**
 * The function `watchTieredCoherence` returns takes the watch's series out, as `watchCache`'s
 * does. It only stopped reading the cache: its `cache_invalidations_total`, `cache_l1_clears_total`,
 * `cache_tracking_*` series stayed at their last values, so a cache closed and unwatched showed
 * `cache_tracking_confirmed` 1 (L1 in use) for good, and caches watched under a new name each
 * (one per tenant, a reload naming its generation) filled the cardinality cap with the series of
 * stopped watches: from then on every new cache's coherence series went to the overflow series.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import { createMetrics } from '../../../lib/metrics/prometheus/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const COHERENCE =
  /^(cache_invalidations_total|cache_l1_clears_total|cache_tracking_slot_moves_total|cache_tracking_confirmed|cache_tracking_confirmed_age_seconds)\{/;

/** The coherence series of `label` in an exposition. */
const seriesOf = (body: string, label: string) =>
  body.split('\n').filter((line) => COHERENCE.test(line) && line.includes(`cache="${label}"`));

describeWithServers('watchTieredCoherence: stopping the watch', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  const tiered = (prefix: string) => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
    return createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2 }),
      bus: createRedisInvalidationBus({ client: l2.client, channel: `${prefix}inv` }),
    });
  };

  it('takes its series out, so closed caches neither show as in use nor fill the cap', async () => {
    // A cap of 2 per metric: four caches watched one after the other under names of their own.
    const metrics = createMetrics({ maxSeriesPerMetric: 2 });
    const writer = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`] });
    try {
      for (let i = 0; i < 4; i++) {
        const prefix = `stop-${i}:`;
        const cache = tiered(prefix);
        try {
          await cache.ready;
          const stop = watchTieredCoherence(metrics, cache, { name: `c${i}` });
          // A key read from L2 (tracked), then written by another client: a tracking invalidation.
          await cache.set('k', Buffer.from('1'));
          await cache.get('k');
          await writer.set(`${prefix}k`, Buffer.from('2'));
          await waitFor(() => cache.stats().trackingInvalidations > 0, { what: 'the tracking report' });
          const watched = seriesOf((await metrics.render()).body, `c${i}`);
          assert.ok(
            watched.includes(`cache_tracking_confirmed{cache="c${i}"} 1`),
            `cache c${i} has its series while watched: ${watched.join(' | ')}`,
          );
          assert.ok(
            watched.some((line) =>
              line.startsWith(`cache_invalidations_total{cache="c${i}",source="tracking"}`),
            ),
            `cache c${i} has its invalidation series: ${watched.join(' | ')}`,
          );
          stop();
        } finally {
          await cache.close();
        }
        const body = (await metrics.render()).body;
        assert.deepEqual(seriesOf(body, `c${i}`), [], `the series of the stopped watch c${i} are gone`);
        assert.doesNotMatch(body, /__overflow__/, 'no series beyond the cap');
      }
    } finally {
      await writer.close();
      await metrics.close();
    }
  });

  it('a stale stop leaves the series of a later watch under the same label', async () => {
    const metrics = createMetrics();
    const first = tiered('stale-1:');
    const second = tiered('stale-2:');
    try {
      await Promise.all([first.ready, second.ready]);
      const stopFirst = watchTieredCoherence(metrics, first, { name: 'x' });
      stopFirst();
      watchTieredCoherence(metrics, second, { name: 'x' });
      assert.equal(seriesOf((await metrics.render()).body, 'x').length > 0, true);
      stopFirst(); // again, after the label was watched anew
      assert.ok(
        seriesOf((await metrics.render()).body, 'x').includes('cache_tracking_confirmed{cache="x"} 1'),
        'the later watch keeps its series',
      );
    } finally {
      await Promise.all([first.close(), second.close()]);
      await metrics.close();
    }
  });
});
