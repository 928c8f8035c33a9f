/**
 * `cluster.readOnly` (reads from replicas): a `pipeline()` reading then writing a key, a replica
 * that does not answer, loads its data or was killed, while its master is healthy.
 *
 * Silent replica: iovalkey kept sending it the reads of its slots, which timed out (~10 s with a
 * 5 s cluster-node-timeout, /tmp/readonly/replica-stop.mts) until the cluster failed it. Now a
 * read's timeout sends its slot's replicas out of the choice until they answer a PING.
 *
 * Pipeline: iovalkey sends a cluster pipeline whole to the node its first command picks, so a
 * first `get` took the writes after it to a replica: `pipeline().get(k).set(k, v).exec()` failed
 * `unavailable` "READONLY You can't write against a read only replica" (found from outside,
 * /tmp/readonly/pipeline-ro.mts). A part of a batch that writes now goes to its master.
 *
 * Loading: Found from outside (/tmp/readonly/replica-loading.mts): iovalkey's `scaleReads: 'slave'`
 * kept sending the replica the reads of its slots — with the replica answering `LOADING`
 * (`DEBUG RELOAD`, as a full resync does) every `get`/`has` failed `unavailable` "Too many Cluster
 * redirections … LOADING" after ~320 ms and `getMany` with `LOADING`; restarted with its data
 * (its new connection waiting in the ready check) they all failed `timeout` after the command
 * timeout. Now such a replica is left alone and the master answers
 * (lib/cache/redis/replica-reads.ts), and the replica serves reads again once it has loaded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { after, before, it } from 'node:test';
import { type Cluster, Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisClusterNode,
  redisCommand,
  skipRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { dec, enc, replicaGets, sleep, watchUnhandled } from './helpers.js';

const loadingNow = async (n: RedisClusterNode) =>
  /^loading:1/m.test(String(await redisCommand(n.port, ['INFO', 'persistence'], {}).catch(() => '')));

/** Waits (bounded) until `n` is loading (`want` true) or has loaded. */
async function untilLoading(n: RedisClusterNode, want: boolean, tries: number): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if ((await loadingNow(n)) === want) return true;
    await sleep(want ? 10 : 100);
  }
  return false;
}

describeWithServers('cluster.readOnly: pipelines, and a replica that cannot serve reads', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  let replica: RedisClusterNode;
  let keys: string[];
  const restarted: ChildProcess[] = [];
  const unhandled = watchUnhandled();

  before(async () => {
    cluster = await startRedisCluster({
      nodeTimeoutMs: 30_000,
      // The load is slowed (40 µs a key) and answers other clients meanwhile, as a large one does.
      extraConfig: [
        'enable-debug-command yes',
        'key-load-delay 40',
        'loading-process-events-interval-bytes 1024',
      ],
    });
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 1000,
      cluster: { readOnly: true },
    });
    await cache.set('warm', enc('w'));
    const slots = (cache.client as Cluster).slots;
    const master = cluster.masters[0]!;
    const at = `${master.host}:${master.port}`;
    keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
      .filter((k) => slots[keySlot(k)]?.[0] === at)
      .slice(0, 3);
    assert.equal(keys.length, 3);
    replica = cluster.replicas.find((r) => slots[keySlot(keys[0]!)]?.includes(`${r.host}:${r.port}`))!;
    assert.ok(replica, 'the slot map lists the replica');
    for (const k of keys) await cache.set(k, enc(`v-${k}`));
    // The replica has the values; its own extra keys make its load last (~1 s here).
    await redisCommand(master.port, ['WAIT', 1, 2000], {});
    await redisCommand(replica.port, ['DEBUG', 'POPULATE', 10_000, 'pop', 10], {});
  });
  after(async () => {
    unhandled.dispose();
    await cache?.close();
    for (const child of restarted) child.kill('SIGKILL');
    for (const n of cluster?.nodes ?? []) await n.server.kill(); // no waiting for a load to end
    await cluster?.stop();
  });

  /** Every read of the loading replica's keys is answered (by the master). */
  async function readsAnswered(what: string): Promise<void> {
    const [a] = keys as [string];
    const outcomes = await Promise.allSettled([cache.get(a), cache.has(a), cache.getMany(keys)]);
    for (const o of outcomes)
      assert.equal(o.status, 'fulfilled', `${what}: ${(o as PromiseRejectedResult).reason}`);
    const [got, has, many] = outcomes.map((o) => (o as PromiseFulfilledResult<unknown>).value);
    assert.equal(dec(got as Uint8Array), `v-${a}`, what);
    assert.equal(has, true, what);
    assert.deepEqual(
      (many as Uint8Array[]).map(dec),
      keys.map((k) => `v-${k}`),
      what,
    );
  }

  /**
   * Once loaded, the replica serves reads again. A replica connection that ended (the restart) is
   * made again by the next read of the slot map — every 5 s on its own; asked for here to keep
   * the test short.
   */
  async function replicaServesAgain(): Promise<void> {
    assert.ok(await untilLoading(replica, false, 300), 'the load did not end');
    const before = await replicaGets(replica);
    let served = false;
    for (let i = 0; i < 150 && !served; i++) {
      if (i % 10 === 0) await (cache.client as Cluster).refreshSlotsCache();
      await cache.get(keys[0]!);
      served = (await replicaGets(replica)) > before;
      if (!served) await sleep(50);
    }
    assert.ok(served, 'no GET reached the replica after its load');
  }

  it('a pipeline reading then writing a key goes to the master (a write on a replica is refused)', async () => {
    await replicaServesAgain(); // reads do reach the replica
    const [a, b] = keys as [string, string];
    const replies = await cache.pipeline().get(a).set(a, enc('p1')).get(b).delete(b).exec();
    assert.deepEqual(
      replies.map((r) => (r instanceof Uint8Array ? dec(r) : r)),
      [`v-${a}`, true, `v-${b}`, true],
    );
    const master = cluster.masters[0]!;
    assert.equal(String(await redisCommand(master.port, ['GET', a], {})), 'p1');
    // Put back for the tests below (and let the replica have it).
    await cache.setMany(keys.map((k) => ({ key: k, value: enc(`v-${k}`) })));
    await redisCommand(master.port, ['WAIT', 1, 2000], {});
  });

  it('a replica that does not answer (SIGSTOP): after one read timed out, the master answers', async () => {
    await replicaServesAgain();
    replica.server.child.kill('SIGSTOP');
    try {
      // Sent to the replica: times out (or, already re-routed, answers).
      await cache.get(keys[0]!).catch(() => undefined);
      // Before: every read of its slots timed out until the cluster failed the replica.
      for (let round = 0; round < 3; round++) await readsAnswered(`round ${round}`);
    } finally {
      replica.server.child.kill('SIGCONT');
    }
    await replicaServesAgain(); // it answered the PING: back in the choice
  });

  it('answering LOADING (DEBUG RELOAD, as a full resync): reads go to the master meanwhile', async () => {
    await replicaServesAgain(); // reads do reach it before
    const reloader = new Redis({
      host: replica.host,
      port: replica.port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    reloader.on('error', () => {});
    try {
      await reloader.connect();
      const reloaded = reloader.debug('RELOAD').catch(() => undefined);
      assert.ok(await untilLoading(replica, true, 200), 'the replica did not start loading');
      // Before: unavailable "Too many Cluster redirections … LOADING" (get, has), LOADING (getMany).
      // A burst of reads sent before the first LOADING reply: each is resent to the master, none
      // to a random node (which was the loading replica again one time in six: ~2 % of such
      // reads failed "Too many Cluster redirections" after three LOADING replies).
      const burst = await Promise.allSettled(
        Array.from({ length: 120 }, (_, i) =>
          i % 2 ? cache.get(keys[i % 3]!).then(dec) : cache.has(keys[i % 3]!),
        ),
      );
      const failed = burst.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.deepEqual(
        failed.map((r) => String(r.reason)).slice(0, 3),
        [],
        `${failed.length} of 120 reads failed`,
      );
      for (const [i, r] of burst.entries()) {
        assert.equal((r as PromiseFulfilledResult<unknown>).value, i % 2 ? `v-${keys[i % 3]}` : true);
      }
      for (let round = 0; round < 3; round++) await readsAnswered(`round ${round}`);
      await reloaded;
      await replicaServesAgain();
      unhandled.check();
    } finally {
      reloader.disconnect();
    }
  });

  it('restarted with its data (its connection waits for the load): reads go to the master meanwhile', async () => {
    assert.ok(await untilLoading(replica, false, 300), 'the replica is still loading');
    await redisCommand(replica.port, ['SAVE'], {});
    const args = replica.server.child.spawnargs.slice(1);
    await replica.server.kill();
    const child = spawn(replica.server.child.spawnfile, args, { cwd: dirname(args[0]!), stdio: 'ignore' });
    restarted.push(child);
    assert.ok(await untilLoading(replica, true, 300), 'the restarted replica did not load');
    // Before: timeout "Command timed out" after the command timeout, for every read.
    for (let round = 0; round < 3; round++) await readsAnswered(`round ${round}`);
    await replicaServesAgain();
    unhandled.check();
  });

  it('killed (the cluster has not failed it yet): reads go to the master', async () => {
    // The restarted process of the test above is the replica now, serving reads.
    const child = restarted.at(-1)!;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // Before: every read failed `unavailable` ("Too many Cluster redirections … Connection is
    // closed", "… MOVED") until the cluster had failed the replica (node timeout 30 s here).
    for (let round = 0; round < 3; round++) await readsAnswered(`round ${round}`);
    unhandled.check();
  });
});
