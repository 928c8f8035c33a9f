/**
 * A cluster failover (a master killed, its replica promoted) ends with a 'redis connection
 * restored' line. iovalkey emits no cluster 'ready' after a failover, so the outage's warnings
 * were never followed by one (and a reconnect days later printed a stale 'restored'). The cache
 * now looks at the slot map after a connection error until every slot's owner answers again.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { enc, watchUnhandled } from './helpers.js';

interface Line {
  level: 'info' | 'warn';
  message: string;
}

describeWithServers('redis cache: a cluster failover ends with a restored line', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const lines: Line[] = [];
  const unhandled = watchUnhandled();

  before(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    const logger = {
      debug: () => {},
      info: (message: string) => void lines.push({ level: 'info', message }),
      warn: (message: string) => void lines.push({ level: 'warn', message }),
      error: (message: string) => void lines.push({ level: 'warn', message }),
    };
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'fr:',
      commandTimeout: 1000,
      logger,
    });
  });
  after(async () => {
    await cache?.close();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it("a killed master's failover: warnings, then one 'redis connection restored'", async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    for (const k of keys) await cache.set(k, enc(k));
    assert.equal(lines.length, 0, `nothing logged before the kill: ${JSON.stringify(lines)}`);
    await cluster.masters[0]!.server.kill();
    // Reads until every key answers again (the replica promoted, the slot map refreshed).
    await waitFor(
      async () => {
        const r = await Promise.allSettled(keys.map((k) => cache.get(k)));
        return r.every((x) => x.status === 'fulfilled');
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'every key readable after the failover' },
    );
    await waitFor(() => lines.some((l) => l.message === 'redis connection restored'), {
      timeoutMs: 15_000,
      what: "the 'redis connection restored' line",
    });
    const shown = JSON.stringify(lines);
    const restored = lines.findIndex((l) => l.message === 'redis connection restored');
    assert.ok(
      lines.slice(0, restored).some((l) => l.level === 'warn' && l.message === 'redis connection error'),
      `the outage was logged before it ended: ${shown}`,
    );
    assert.equal(lines.filter((l) => l.message === 'redis connection restored').length, 1, shown);
  });
});
