/**
 * `cluster.readOnly`: reads a replica's connection holds when that connection closes (the replica
 * killed, before the cluster has failed it) are answered by their slot's master.
 *
 * Found under load (replica-reads.test.ts, "killed", 1 run in 6 with busy cores): a read the
 * replica's connection held when the replica died failed `unavailable` "Too many Cluster
 * redirections. Last error: MOVED …" although its master was healthy. iovalkey resent such a read
 * after 100 ms to a random node of the cluster: another master answers `MOVED` (one of the
 * `maxRedirects`), the dead replica's new connection closes again. Here the reads are made to wait
 * on the replica (SIGSTOP) and the replica is then killed; with `maxRedirects: 1` (one resend)
 * the old code failed nearly every one of them (a random node is the right master 1 time in 6).
 * Now each goes to its master at once (lib/cache/redis/replica-reads.ts).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Cluster } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisClusterNode,
  redisCommand,
  skipRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { dec, enc, replicaGets, watchUnhandled } from './helpers.js';

const READS = 12;

describeWithServers('cluster.readOnly: a replica killed with reads on its connection', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  let replica: RedisClusterNode;
  let keys: string[];
  const unhandled = watchUnhandled();

  before(async () => {
    // The cluster does not fail the killed replica during the test: its slot map keeps listing it.
    cluster = await startRedisCluster({ nodeTimeoutMs: 30_000 });
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 5000,
      cluster: { readOnly: true, maxRedirects: 1 },
    });
    await cache.set('warm', enc('w'));
    const slots = (cache.client as Cluster).slots;
    const master = cluster.masters[0]!;
    const at = `${master.host}:${master.port}`;
    keys = Array.from({ length: 400 }, (_, i) => `k${i}`)
      .filter((k) => slots[keySlot(k)]?.[0] === at)
      .slice(0, READS);
    assert.equal(keys.length, READS);
    replica = cluster.replicas.find((r) => slots[keySlot(keys[0]!)]?.includes(`${r.host}:${r.port}`))!;
    assert.ok(replica, 'the slot map lists the replica');
    for (const k of keys) await cache.set(k, enc(`v-${k}`));
    await redisCommand(master.port, ['WAIT', 1, 2000], {});
  });
  after(async () => {
    unhandled.dispose();
    await cache?.close();
    await cluster?.stop();
  });

  it('every read it held is answered by the master', async () => {
    // The replica serves the reads of its slots (its connection is made and ready).
    await waitFor(
      async () => {
        await cache.get(keys[0]!);
        return (await replicaGets(replica)) > 0;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'the replica to serve reads' },
    );
    const before = await replicaGets(replica);
    replica.server.child.kill('SIGSTOP');
    const reads = keys.map((k) => cache.get(k));
    const settled = Promise.allSettled(reads);
    // The reads are written to the stopped replica's connection; then it dies.
    await new Promise((r) => setTimeout(r, 200));
    await replica.server.kill();
    const outcomes = await settled;
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`${keys[i]}: ${o.reason}`] : []));
    assert.deepEqual(failed, [], `${failed.length} of ${READS} reads failed`);
    assert.deepEqual(
      outcomes.map((o) => dec((o as PromiseFulfilledResult<Uint8Array | undefined>).value)),
      keys.map((k) => `v-${k}`),
    );
    // They did wait on the replica (it answered none of them).
    assert.ok(before > 0);
    // Later reads of those slots go to the master too, while the slot map still lists the replica.
    for (const k of keys.slice(0, 3)) assert.equal(dec(await cache.get(k)), `v-${k}`);
    unhandled.check();
  });
});
