/**
 * `cache.invalidation.mode` (bus | tracking | both) of a tiered cache over Redis, built by
 * createAppFromConfig: validation, the tracker wired in, and its counters on /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TieredCache } from '../../lib/cache/tiered/index.js';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import type { ConfigError } from '../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../harness/process.js';
import { redisCommand, skipRedis, startRedis } from '../harness/redis.js';

const tiered = (port: number, invalidation: Record<string, unknown>) => ({
  logging: { level: 'error' },
  cache: {
    type: 'tiered',
    l1: { type: 'memory', max_cost: 1 << 20 },
    l2: { type: 'redis', addresses: [`127.0.0.1:${port}`], key_prefix: 'cfgtrk:' },
    ttl: 60_000,
    invalidation,
  },
  metrics: { namespace: 'trk', port: 0 },
});

describe('cache.invalidation.mode', () => {
  it('accepts bus, tracking and both, and the tracking flavour; names the choices otherwise', () => {
    parseConfig(tiered(6379, { mode: 'bus', channel: 'c' }));
    for (const mode of ['tracking', 'both'])
      parseConfig(tiered(6379, { mode, tracking_mode: 'bcast', heartbeat: '1s' }));
    assert.throws(
      () => parseConfig(tiered(6379, { mode: 'server' })),
      (e: ConfigError) =>
        e.issues[0]?.path === 'cache.invalidation.mode' && /bus, tracking, both/.test(e.message),
    );
    assert.throws(
      () => parseConfig(tiered(6379, { mode: 'tracking', tracking_mode: 'all' })),
      (e: ConfigError) => e.issues[0]?.path === 'cache.invalidation.tracking_mode',
    );
  });
});

describe('settings of an invalidation mode or lease that is not on', () => {
  // They were ignored: `{ tracking_mode: bcast }` alone (mode bus, the default) built a cache with
  // no server-assisted invalidation at all, `lease: { ttl: 5s }` (no enabled: true) no lease.
  const lease = (l: Record<string, unknown>) => ({
    ...tiered(6379, {}),
    cache: { ...tiered(6379, {}).cache, lease: l },
  });
  const paths = (config: unknown) => {
    try {
      parseConfig(config);
      return [];
    } catch (e) {
      return (e as ConfigError).issues.map((i) => i.path).sort();
    }
  };
  it('are errors naming them; with the mode or enabled they need, or invalidation off, they pass', () => {
    assert.deepEqual(paths(tiered(6379, { tracking_mode: 'bcast', heartbeat: '1s' })), [
      'cache.invalidation.heartbeat',
      'cache.invalidation.tracking_mode',
    ]);
    assert.deepEqual(paths(tiered(6379, { mode: 'bus', tracking_mode: 'default' })), [
      'cache.invalidation.tracking_mode',
    ]);
    assert.deepEqual(paths(tiered(6379, { mode: 'tracking', channel: 'c' })), ['cache.invalidation.channel']);
    assert.deepEqual(paths(lease({ ttl: '5s', wait: '1s' })), ['cache.lease.enabled']);
    assert.deepEqual(paths(tiered(6379, { mode: 'both', channel: 'c', tracking_mode: 'bcast' })), []);
    assert.deepEqual(paths(tiered(6379, { enabled: false, tracking_mode: 'bcast' })), []);
    assert.deepEqual(paths(lease({ enabled: false, ttl: '5s' })), []);
    assert.deepEqual(paths(lease({ enabled: true, wait: '1s' })), []);
  });
});

describeWithServers('cache.invalidation.mode against real Redis', skipRedis(), () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  for (const mode of ['tracking', 'both'] as const) {
    it(`mode ${mode}: an outside write reaches L1; the counters are on /metrics`, async () => {
      const app = await createAppFromConfig(
        parseConfig(tiered(redis.port, { mode, tracking_mode: 'default', heartbeat: '200ms' })),
      );
      try {
        const cache = app.cache as TieredCache;
        await cache.ready;
        await cache.set('k', Buffer.from('v1'));
        assert.equal(String(await cache.get('k')), 'v1');
        await waitFor(async () => (await cache.getWithMeta('k'))?.source === 'l1', { what: 'k in L1' });
        await redisCommand(redis.port, ['SET', 'cfgtrk:k', 'v2']);
        await waitFor(async () => String(await cache.get('k')) === 'v2', { what: 'the outside write' });
        const address = (app.metrics as unknown as { address?: { url: string } }).address;
        assert.ok(address);
        const text = await (await fetch(address.url)).text();
        assert.match(text, /trk_cache_invalidations_total\{cache="tiered",source="tracking"\} [1-9]/);
        assert.match(text, /trk_cache_tracking_confirmed\{cache="tiered"\} 1/);
        assert.match(text, /trk_cache_tracking_confirmed_age_seconds\{cache="tiered"\} 0\.\d+/);
        assert.match(text, /trk_cache_l1_clears_total\{cache="tiered"\} [1-9]/);
        const clients = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
        assert.equal(/:bus /.test(clients), mode === 'both', 'the bus exists only in mode both');
      } finally {
        await app.close();
      }
    });
  }
});
