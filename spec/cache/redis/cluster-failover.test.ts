/** The Redis cache on a 6-node cluster whose master is killed: health, reads, writes, transactions. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

describeWithServers('redis cache on a cluster whose master is killed', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'fo:',
      commandTimeout: 1000,
    });
  });
  after(async () => {
    await cache?.close();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  // The client drops a master from its node lists as soon as its connection ends, so health()
  // probed only the two live masters and said ok: true while every key of the dead master's slots
  // failed (CLUSTERDOWN / connection closed) until the failover, ~3 s later.
  it('health() is not ok while a killed master still owns slots, and ok again after the failover', async () => {
    await cache.get('warm-up'); // connected, slot map read
    const h0 = await cache.health();
    assert.equal(h0.ok, true, h0.error);
    const victim = cluster.masters[0]!;
    const victimAddress = `${victim.host}:${victim.port}`;
    const ownSlot = Array.from({ length: 200 }, (_, i) => `k${i}`).find(
      (k) =>
        cache.client.isCluster &&
        (cache.client as { slots: string[][] }).slots[keySlot(`fo:${k}`)]?.[0] === victimAddress,
    );
    assert.ok(ownSlot, 'a key on the victim');
    await cache.set(ownSlot, enc('before'));

    await victim.server.kill();
    // Wait (bounded) until the client has noticed and dropped the dead master from its pool.
    await waitFor(
      () =>
        !(cache.client as import('iovalkey').Cluster)
          .nodes('master')
          .some((n) => `${n.options.host}:${n.options.port}` === victimAddress),
      { timeoutMs: 2000, what: 'the client to drop the killed master' },
    );
    const during = await cache.health();
    assert.equal(during.ok, false, 'health while a master is dead and not failed over');
    assert.match(during.error ?? '', new RegExp(victimAddress.replace(/\./g, '\\.')));

    // After the promotion: ok again, the promoted replica serves the slot and the value is there.
    const recovered = await waitFor(
      async () => {
        const h = await cache.health();
        return h.ok ? h : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'health ok after the failover' },
    );
    assert.equal(recovered.nodes.filter((n) => n.role === 'master').length, 3);
    assert.equal(dec(await cache.get(ownSlot)), 'before');
  });
});
