/**
 * Tracking over a cluster with a master down and not yet failed over. Found from outside
 * (/tmp/w31/redis/s18-cluster-config.mts, a master killed under a tiered cache built from YAML
 * with `invalidation.mode: tracking`): "redis tracking: set-up failed, retrying" was logged ~3
 * times a second for that node until the failover, every line with `attempts: 1` (25 lines in
 * the 8 s a 5 s node timeout took). iovalkey drops a node's connection when it closes and makes a
 * new one at the next slot refresh, and each new connection got a new tracking link whose failure
 * count started at 0 — so the "first and every 20th attempt" rule never held back a line, and the
 * retries never backed off. The count now survives the node's connection being remade.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { sleep } from './helpers.js';

describe('tracking over a cluster with a master down', { skip: skipRedis() }, () => {
  let cluster: RedisCluster;
  before(async () => {
    // No failover within the test: the master stays down, its slots unserved.
    cluster = await startRedisCluster({ nodeTimeoutMs: 60_000 });
  });
  after(async () => {
    await cluster?.stop();
  });

  it('logs its set-up failures for that node on the first and every 20th attempt, counting on', async () => {
    const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn(message, fields) {
        warnings.push({ message, fields });
      },
      error() {},
      child: () => logger,
    };
    const l2 = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'tcd:',
      commandTimeout: 500,
    });
    const tracking = createRedisTracking({ cache: l2, logger, heartbeat: 200 });
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking });
    try {
      await cache.ready;
      const victim = cluster.masters[0]!;
      await victim.server.kill();
      // Reads go on meanwhile (those of the dead master's slots fail), as in a service.
      const end = Date.now() + 4000;
      for (let i = 0; Date.now() < end && i < 100_000; i++) {
        await cache.get(`k${i % 30}`).catch(() => {});
        await sleep(5);
      }
      const node = `127.0.0.1:${victim.port}`;
      const lines = warnings.filter(
        (w) => w.message === 'redis tracking: set-up failed, retrying' && w.fields?.node === node,
      );
      const attempts = lines.map((w) => Number(w.fields?.attempts));
      assert.ok(lines.length >= 1, 'the first failure is logged');
      // How many attempts the client's re-adds allow depends on the load; what is logged does not:
      // the first attempt, then every 20th, each with its true count (before: attempts 1, every time).
      assert.equal(attempts[0], 1, JSON.stringify(attempts));
      for (let i = 1; i < attempts.length; i++) {
        assert.equal(
          attempts[i]! % 20,
          0,
          `${lines.length} lines in 4 s, attempts ${JSON.stringify(attempts)}`,
        );
        assert.ok(attempts[i]! > attempts[i - 1]!, `attempts count on: ${JSON.stringify(attempts)}`);
      }
    } finally {
      await cache.close();
      await tracking.close();
      await l2.close();
    }
  });
});
