/**
 * health() right after createRedisCache, while the first connection is still being made (the
 * default `minIdleConns: 1` connects at creation): it reported `ok: false`, `not connected …
 * (connecting)` — in every mode — while a `get` called beside it succeeded, so a readiness check
 * or a start-up gate run at once saw a healthy Redis as down. A lazy cache (`minIdleConns: 0`)
 * already waited for its first connection; now a first connection in progress is waited for the
 * same way (within the command timeout). A connection that was up and is lost is still reported
 * at once.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisSentinelSet,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../../harness/redis.js';
import { watchUnhandled } from './helpers.js';

describeWithServers('redis health() at start-up: standalone', skipRedis(), () => {
  let redis: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('waits for the first connection instead of reporting it down', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], commandTimeout: 1000 });
    try {
      const h = await cache.health();
      assert.equal(h.ok, true, h.error);
      assert.equal(h.role, 'master');
      assert.deepEqual(
        h.nodes.map((n) => [n.address, n.connected]),
        [[`127.0.0.1:${redis.port}`, true]],
      );
    } finally {
      await cache.close();
    }
  });

  it('concurrent with a get, both answer', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], commandTimeout: 1000 });
    try {
      const [value, h] = await Promise.all([cache.get('nothing'), cache.health()]);
      assert.equal(value, undefined);
      assert.equal(h.ok, true, h.error);
    } finally {
      await cache.close();
    }
  });

  it('a first connection that took most of the command timeout leaves the probe a timeout of its own', async () => {
    // Every round trip takes 600 ms of a 1000 ms command timeout: the connection is ready after
    // one, and the probe needs another. Given what the wait left (~400 ms), health() reported
    // `Command timed out` while a get called beside it succeeded.
    const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    proxy.delay = 600;
    const cache = createRedisCache({ addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: 1000 });
    try {
      const [value, h] = await Promise.all([cache.get('nothing'), cache.health()]);
      assert.equal(value, undefined);
      assert.equal(h.ok, true, h.error);
      assert.equal(h.nodes[0]?.connected, true);
    } finally {
      await cache.close();
      await proxy.close();
    }
  });

  it('a connection lost after it was up is still reported, with its reason', async () => {
    const own = await startRedis();
    const cache = createRedisCache({ addresses: [`127.0.0.1:${own.port}`], commandTimeout: 1000 });
    try {
      assert.equal((await cache.health()).ok, true);
      await own.stop();
      const h = await cache.health();
      assert.equal(h.ok, false);
      assert.match(h.error ?? '', /127\.0\.0\.1:\d+/);
    } finally {
      await cache.close();
      await own.stop();
    }
  });
});

describeWithServers('redis health() at start-up: sentinel', skipRedis(), () => {
  let set: RedisSentinelSet;
  before(async () => {
    set = await startRedisSentinel();
  });
  after(() => set?.stop());

  it('waits for the master the sentinels name instead of reporting it down', async () => {
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      commandTimeout: 1000,
    });
    try {
      const h = await cache.health();
      assert.equal(h.ok, true, h.error);
      assert.equal(h.nodes[0]?.address, `127.0.0.1:${set.master.port}`);
    } finally {
      await cache.close();
    }
  });
});

describeWithServers('redis health() at start-up: cluster', skipRedis(), () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(() => cluster?.stop());

  it('waits for the slot map instead of reporting the cluster down', async () => {
    const cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `127.0.0.1:${n.port}`),
      commandTimeout: 1000,
    });
    try {
      const h = await cache.health();
      assert.equal(h.ok, true, h.error);
      assert.equal(h.nodes.filter((n) => n.role === 'master' && n.connected).length, 3);
    } finally {
      await cache.close();
    }
  });
});
