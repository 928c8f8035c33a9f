/**
 * A master added to a running cluster (CLUSTER MEET, then a slot with its keys handed to it) while
 * the cache runs: the client learns of it only from a MOVED reply or its next slot-map read.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const PREFIX = 'add:';

describeWithServers('redis cache on a cluster that gains a master', skipRedis(), () => {
  let cluster: RedisCluster;
  let extra: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  const ports = () => [...cluster.nodes.map((n) => n.port), extra.port];

  /** Every node knows all seven, none in handshake, and each says the cluster is ok. */
  async function joined(): Promise<boolean> {
    for (const port of ports()) {
      const nodes = String(await redisCommand(port, ['CLUSTER', 'NODES']))
        .trim()
        .split('\n');
      if (nodes.length !== 7 || nodes.some((l) => /handshake|noaddr|fail/.test(l))) return false;
      if (!/cluster_state:ok/.test(String(await redisCommand(port, ['CLUSTER', 'INFO'])))) return false;
    }
    return true;
  }

  /** Hands `slot` and all its keys from its owner to the added node. */
  async function moveToExtra(slot: number): Promise<void> {
    const ranges = (await redisCommand(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [
      number,
      number,
      [string, number],
    ][];
    const src = Number(ranges.find((r) => r[0] <= slot && slot <= r[1])![2][1]);
    const srcId = String(await redisCommand(src, ['CLUSTER', 'MYID']));
    const dstId = String(await redisCommand(extra.port, ['CLUSTER', 'MYID']));
    await redisCommand(extra.port, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId]);
    await redisCommand(src, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId]);
    const keys = (await redisCommand(src, ['CLUSTER', 'GETKEYSINSLOT', slot, 1000])) as string[];
    if (keys.length > 0)
      await redisCommand(src, ['MIGRATE', '127.0.0.1', extra.port, '', 0, 5000, 'KEYS', ...keys]);
    // Replicas refuse SETSLOT; the masters (and the new owner first) must all be told.
    for (const port of [extra.port, src, ...cluster.nodes.map((n) => n.port)])
      await redisCommand(port, ['CLUSTER', 'SETSLOT', slot, 'NODE', dstId]).catch(() => {});
  }

  before(async () => {
    cluster = await startRedisCluster();
    extra = await startRedis({ extraConfig: ['cluster-enabled yes', 'cluster-node-timeout 3000'] });
    await redisCommand(extra.port, ['CLUSTER', 'MEET', '127.0.0.1', cluster.nodes[0]!.port]);
    await waitFor(joined, { timeoutMs: 15_000, intervalMs: 100, what: 'the added node to join' });
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 2000,
    });
  });
  after(async () => {
    await cache?.close();
    await extra?.stop();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('clear() right after a slot moved to a new master removes its keys there too', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await cache.setMany(keys.map((k) => ({ key: k, value: enc(`v-${k}`) })));
    await moveToExtra(keySlot(`${PREFIX}c0`));
    assert.equal(await redisCommand(extra.port, ['EXISTS', `${PREFIX}c0`]), 1);
    // The client's slot map (re-read every 5 s) does not know the new master yet. Before, clear()
    // scanned only the masters it knew, resolved, and `c0` stayed on the new one and was served.
    await cache.clear();
    assert.equal(await redisCommand(extra.port, ['EXISTS', `${PREFIX}c0`]), 0);
    assert.deepEqual(
      (await cache.getMany(keys)).map(dec),
      keys.map(() => undefined),
    );
  });

  it('deleteMany right after a slot moved to a new master: the script first sent there is not lost', async () => {
    // Servers and connections that never ran the delete script: its first use on a connection goes
    // as EVAL, the rest pipelined behind it as EVALSHA. Here that EVAL is the moved slot's and is
    // answered MOVED (never compiled), so the EVALSHAs behind it got NOSCRIPT and deleteMany
    // failed with `unavailable` "script cache was emptied" although nobody flushed it.
    for (const port of ports()) await redisCommand(port, ['SCRIPT', 'FLUSH']).catch(() => {});
    const c = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 2000,
    });
    try {
      const moved = keySlot(`${PREFIX}c0`);
      const keys = Array.from({ length: 40 }, (_, i) => `d${i}`).filter((k) => keySlot(PREFIX + k) !== moved);
      await c.setMany(keys.map((k) => ({ key: k, value: enc('v') })));
      await moveToExtra(keySlot(PREFIX + keys[0]!));
      assert.equal(await c.deleteMany(keys), keys.length);
      assert.deepEqual(
        (await c.getMany(keys)).map(dec),
        keys.map(() => undefined),
      );
    } finally {
      await c.close();
    }
  });
});
