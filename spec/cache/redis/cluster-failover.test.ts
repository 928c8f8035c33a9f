/** The Redis cache on a 6-node cluster whose master is killed: health, reads, writes, transactions. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
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

  /** A key (unprefixed) whose slot the client maps to `master`, and that slot's replica. */
  function keyOn(master: { host: string; port: number }, tag: string): { key: string; replica: number } {
    const slots = (cache.client as unknown as { slots: string[][] }).slots;
    for (let i = 0; i < 500; i++) {
      const key = `${tag}${i}`;
      const owners = slots[keySlot(`fo:${key}`)];
      if (owners?.[0] === `${master.host}:${master.port}` && owners[1])
        return { key, replica: Number(owners[1].split(':')[1]) };
    }
    throw new Error(`no key on ${master.port}`);
  }

  /** CLUSTER FAILOVER on `replica` (graceful, nothing lost); waits (bounded) until the roles swapped. */
  async function manualFailover(replica: number, master: number): Promise<void> {
    assert.equal(await redisCommand(replica, ['CLUSTER', 'FAILOVER']), 'OK');
    await waitFor(
      async () =>
        ((await redisCommand(replica, ['ROLE'])) as unknown[])[0] === 'master' &&
        ((await redisCommand(master, ['ROLE'])) as unknown[])[0] === 'slave',
      { timeoutMs: 10_000, intervalMs: 50, what: 'the manual failover' },
    );
  }

  // After a graceful failover the first transaction on each moved slot was refused with
  // 'unavailable … MOVED … (nothing was applied)', while get/set/pipeline followed the MOVED reply.
  // Nothing had been applied, so the transaction follows it too (up to cluster.maxRedirects).
  it('a transaction follows a MOVED reply after a manual failover (with and without WATCH)', async () => {
    await cache.get('warm-up');
    const [, plainMaster, watchedMaster] = cluster.masters;
    const plain = keyOn(plainMaster!, 'tx-plain-');
    const watched = keyOn(watchedMaster!, 'tx-watched-');
    // Both slots' masters get a pooled transaction connection before the failover.
    assert.equal((await cache.transaction((tx) => void tx.set(plain.key, enc('0')))).ok, true);
    assert.equal((await cache.transaction((tx) => void tx.set(watched.key, enc('0')))).ok, true);

    await manualFailover(plain.replica, plainMaster!.port);
    await manualFailover(watched.replica, watchedMaster!.port);

    const r1 = await cache.transaction((tx) => {
      tx.set(plain.key, enc('1')).get(plain.key);
    });
    assert.deepEqual(r1.ok && r1.results.map((v) => (typeof v === 'boolean' ? v : dec(v))), [true, '1']);
    const r2 = await cache.transaction(
      async (tx) => {
        const n = Number(dec(await tx.read(watched.key)));
        tx.set(watched.key, enc(String(n + 1)));
      },
      { watch: [watched.key] },
    );
    assert.equal(r2.ok, true);
    assert.equal(dec(await cache.get(watched.key)), '1');
    assert.equal(dec(await cache.get(plain.key)), '1');
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
