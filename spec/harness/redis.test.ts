import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { describeWithServers } from './process.js';
import {
  redisCommand,
  sentinelMaster,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
  waitForReplicas,
} from './redis.js';

describeWithServers('redis harness', skipRedis(), () => {
  it('starts a standalone server with requirepass and cleans up', async (t) => {
    const redis = await startRedis({ password: 'p@ss word"' });
    t.after(() => redis.stop());
    const client = new Redis({
      host: redis.host,
      port: redis.port,
      password: redis.password,
      lazyConnect: true,
    });
    client.on('error', () => {});
    t.after(() => client.disconnect());
    await client.connect();
    assert.equal(await client.ping(), 'PONG');
    await assert.rejects(redisCommand(redis.port, ['PING']), /NOAUTH/);
    await redis.stop();
    assert.equal(redis.server.exited, true);
    await redis.stop(); // idempotent
  });

  it('applies maxmemory settings', async (t) => {
    const redis = await startRedis({ maxmemory: '5mb', maxmemoryPolicy: 'noeviction' });
    t.after(() => redis.stop());
    const reply = (await redisCommand(redis.port, ['CONFIG', 'GET', 'maxmemory-policy'])) as string[];
    assert.deepEqual(reply, ['maxmemory-policy', 'noeviction']);
  });

  it('forms a 6-node cluster with 3 masters and 3 synced replicas', async (t) => {
    const cluster = await startRedisCluster();
    t.after(() => cluster.stop());
    assert.equal(cluster.nodes.length, 6);
    assert.equal(cluster.masters.length, 3);
    assert.equal(cluster.replicas.length, 3);
    const client = new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      { lazyConnect: true },
    );
    client.on('error', () => {});
    t.after(() => client.disconnect());
    await client.connect();
    assert.equal(await client.ping(), 'PONG');
    const nodes = String(await client.call('CLUSTER', 'NODES'));
    assert.equal(nodes.match(/\bmaster\b/g)?.length, 3);
    assert.equal(nodes.match(/\bslave\b/g)?.length, 3);
    for (const n of cluster.nodes) {
      // Clients see every replica at once, and forming's faster pings and gossip were undone.
      const slots = (await redisCommand(n.port, ['CLUSTER', 'SLOTS'])) as unknown[][];
      assert.equal(slots.length, 3);
      for (const range of slots) assert.equal(range.length, 4, `node ${n.port}: ${JSON.stringify(range)}`);
      const config = (await redisCommand(n.port, [
        'CONFIG',
        'GET',
        'repl-ping-replica-period',
        'cluster-node-timeout',
      ])) as string[];
      assert.deepEqual(Object.fromEntries([0, 2].map((i) => [config[i], config[i + 1]])), {
        'repl-ping-replica-period': '10',
        'cluster-node-timeout': '3000',
      });
    }
    // Each replica already gets its master's stream (not only: its link says up), as for the
    // sentinel set (sentinel-ready.test.ts; see clusterReady): its offset moved on from the full
    // sync's 0, and a write now is acknowledged by it.
    for (const m of cluster.masters) {
      const info = String(await redisCommand(m.port, ['INFO', 'replication']));
      const replica = Number(/^slave0:ip=[^,]+,port=(\d+)/m.exec(info)?.[1]);
      const offset = /^slave_repl_offset:(\d+)/m.exec(
        String(await redisCommand(replica, ['INFO', 'replication'])),
      );
      assert.ok(Number(offset?.[1]) > 0, `replica ${replica} got nothing of ${m.port}'s stream yet`);
      assert.equal(await waitForReplicas(m.port), 1, `replica of ${m.port}`);
    }
    // keys on different slots reach different masters through the cluster client
    for (const k of ['a', 'b', 'c', 'd']) await client.set(k, k);
    for (const k of ['a', 'b', 'c', 'd']) assert.equal(await client.get(k), k);
  });

  it('starts a sentinel set that reports the master', async (t) => {
    const set = await startRedisSentinel();
    t.after(() => set.stop());
    assert.equal(set.sentinels.length, 3);
    for (const s of set.sentinels) {
      assert.deepEqual(await sentinelMaster(s.port, set.masterName), {
        host: set.master.host,
        port: set.master.port,
      });
    }
    const client = new Redis({
      sentinels: set.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: set.masterName,
      lazyConnect: true,
    });
    client.on('error', () => {});
    t.after(() => client.disconnect());
    await client.connect();
    assert.equal(await client.ping(), 'PONG');
    const role = (await client.call('ROLE')) as unknown[];
    assert.equal(role[0], 'master');
  });
});
