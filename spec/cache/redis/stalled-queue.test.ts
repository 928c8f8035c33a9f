/**
 * A server that stalls without closing the connection (blackholed network, SIGSTOP): every command
 * that times out meanwhile stayed in iovalkey's queue of awaited replies for as long as the stall
 * lasted (40,000 timed-out `get`s held ~64 MB after 5 s), and once the server ran again it ran
 * all of them, although their callers had been told `timeout`, before the next fresh command. Now
 * a connection that heard nothing for three command timeouts (at least 1 s) while replies were
 * awaited is declared dead and made again, and commands that already failed are not resent on the
 * new connection: what is kept, and what Redis runs after the stall, no longer grows with the
 * number of commands that timed out — standalone (blackholed by the fault proxy, and SIGSTOP),
 * sentinel and cluster. Asserts counts only, never durations.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import type { Cluster } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisClusterNode,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../../harness/redis.js';
import { enc, watchUnhandled } from './helpers.js';

const TIMEOUT = 200;
/** `get`s per round; each round settles within one command timeout. */
const ROUND = 1000;
/** Long keys: few of the commands written before the cut fit in the sockets' kernel buffers. */
const KEY = `k${'x'.repeat(200)}`;

type Queued = { length: number } | null | undefined;
/**
 * Commands the client holds: awaiting replies, kept to be resent after a reconnect, and queued
 * until a connection is ready (a cluster's node connections have such a queue).
 */
function kept(cache: RedisCache): number {
  type Conn = { commandQueue?: Queued; prevCommandQueue?: Queued; offlineQueue?: Queued };
  const conns: Conn[] = cache.client.isCluster
    ? ((cache.client as Cluster).nodes('all') as unknown as Conn[])
    : [cache.client as unknown as Conn];
  let n = 0;
  // While a connection reconnects, iovalkey keeps its queue of awaited replies as
  // `prevCommandQueue` too: one queue, counted once (seen counted twice: 1,000 + 1,000).
  for (const c of conns)
    for (const q of new Set([c.commandQueue, c.prevCommandQueue, c.offlineQueue])) n += q?.length ?? 0;
  return n;
}

/**
 * Rounds of `get`s against the stalled server until its connection was dropped and two more rounds
 * ran (at most 40 rounds and 20 s). Returns how many were issued, whether a drop was seen, and the
 * most the client kept at the end of a round once the drop was seen.
 */
async function stall(
  cache: RedisCache,
): Promise<{ issued: number; dropped: boolean; keptAfterDrop: number }> {
  let dropped = false;
  const onClose = () => {
    dropped = true;
  };
  // A cluster node's connection that is dropped leaves the cluster's pool ('-node').
  const event = cache.client.isCluster ? '-node' : 'close';
  cache.client.on(event, onClose);
  let issued = 0;
  let after = 0;
  let keptAfterDrop = 0;
  const end = Date.now() + 20_000;
  try {
    for (let round = 0; round < 40 && Date.now() < end && after < 2; round++) {
      if (dropped) after++;
      const settled = await Promise.allSettled(Array.from({ length: ROUND }, () => cache.get(KEY)));
      issued += ROUND;
      assert.ok(settled.every((s) => s.status === 'rejected'));
      if (dropped) keptAfterDrop = Math.max(keptAfterDrop, kept(cache));
    }
  } finally {
    cache.client.off(event, onClose);
  }
  return { issued, dropped, keptAfterDrop };
}

/**
 * The key's first write, tried again until it lands: the first command waits for the connection
 * within one command timeout (200 ms), which a loaded machine can miss ("not connected within
 * 200 ms", "reached Redis after its deadline").
 */
async function firstWrite(cache: RedisCache): Promise<void> {
  await waitFor(() => cache.set(KEY, enc('v')), { timeoutMs: 15_000, what: 'the first write' });
}

async function stopped(pid: number): Promise<void> {
  await waitFor(() => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), {
    timeoutMs: 3000,
    intervalMs: 5,
    what: 'redis stopped',
  });
}

async function getCalls(port: number): Promise<number> {
  const info = String(await redisCommand(port, ['INFO', 'commandstats']));
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/** The master of a started test cluster that owns `key`'s slot. */
async function ownerOf(cluster: RedisCluster, key: string): Promise<RedisClusterNode> {
  const slot = Number(await redisCommand(cluster.masters[0]!.port, ['CLUSTER', 'KEYSLOT', key]));
  return waitFor(
    async () => {
      for (const m of cluster.masters) {
        const shards = (await redisCommand(m.port, ['CLUSTER', 'SLOTS'])) as [
          number,
          number,
          [string, number],
        ][];
        const own = shards.find(([from, to]) => slot >= from && slot <= to);
        if (own) return cluster.masters.find((x) => x.port === Number(own[2][1]));
      }
      return undefined;
    },
    { what: 'the owner of the slot' },
  );
}

describeWithServers('a stalled server does not pile up timed-out commands', skipRedis(), () => {
  it('blackholed (fault proxy): what the client keeps is bounded, not one entry per timed-out get', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    const redis = await startRedis();
    t.after(() => redis.stop());
    const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    t.after(() => proxy.close());
    const cache = createRedisCache({ addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: TIMEOUT });
    t.after(() => cache.close());
    await firstWrite(cache);

    proxy.dropping = true;
    const { issued, dropped } = await stall(cache);
    const held = kept(cache);
    console.log(`# ${issued} gets timed out or failed; the client keeps ${held}`);
    assert.ok(dropped, 'the silent connection was dropped');
    assert.ok(issued >= 4 * ROUND, `issued ${issued}`);
    assert.ok(held <= ROUND, `kept ${held} of ${issued}`);

    proxy.dropping = false;
    await waitFor(() => cache.get(KEY).then((v) => v !== undefined), {
      timeoutMs: 10_000,
      what: 'answers again',
    });
    unhandled.check();
  });

  it('stopped (SIGSTOP): Redis runs far fewer gets after it resumes than timed out', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    const redis = await startRedis();
    const child = redis.server.child;
    t.after(async () => {
      child.kill('SIGCONT');
      await redis.stop();
    });
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], commandTimeout: TIMEOUT });
    t.after(() => cache.close());
    await firstWrite(cache);
    await redisCommand(redis.port, ['CONFIG', 'RESETSTAT']);

    child.kill('SIGSTOP');
    await stopped(child.pid!);
    const { issued, dropped } = await stall(cache);
    const held = kept(cache);
    child.kill('SIGCONT');
    await waitFor(() => cache.get(KEY).then((v) => v !== undefined), {
      timeoutMs: 10_000,
      what: 'answers again',
    });
    const calls = await getCalls(redis.port);
    console.log(`# ${issued} gets timed out or failed; kept ${held}; Redis ran ${calls} gets after resuming`);
    assert.ok(dropped, 'the silent connection was dropped');
    assert.ok(held <= ROUND, `kept ${held} of ${issued}`);
    assert.ok(calls < issued / 4, `Redis ran ${calls} gets of ${issued} that had failed`);
    unhandled.check();
  });

  it('sentinel mode, master stopped (SIGSTOP): the same bound', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    // No failover during the stall: the master stays the master.
    const set = await startRedisSentinel({ downAfterMs: 60_000, failoverTimeoutMs: 120_000 });
    const child = set.master.child;
    t.after(async () => {
      child.kill('SIGCONT');
      await set.stop();
    });
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      commandTimeout: TIMEOUT,
    });
    t.after(() => cache.close());
    await firstWrite(cache);
    await redisCommand(set.master.port, ['CONFIG', 'RESETSTAT']);

    child.kill('SIGSTOP');
    await stopped(child.pid!);
    const { issued, dropped } = await stall(cache);
    const held = kept(cache);
    child.kill('SIGCONT');
    await waitFor(() => cache.get(KEY).then((v) => v !== undefined), {
      timeoutMs: 10_000,
      what: 'answers again',
    });
    const calls = await getCalls(set.master.port);
    console.log(
      `# ${issued} gets timed out or failed; kept ${held}; the master ran ${calls} gets after resuming`,
    );
    assert.ok(dropped, 'the silent connection was dropped');
    assert.ok(held <= ROUND, `kept ${held} of ${issued}`);
    assert.ok(calls < issued / 4, `the master ran ${calls} gets of ${issued} that had failed`);
    unhandled.check();
  });

  it('cluster, the master of the key stopped (SIGSTOP): the same bound', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    // No failover during the stall: the master stays the master.
    const cluster = await startRedisCluster({ nodeTimeoutMs: 60_000 });
    t.after(() => cluster.stop());
    const cache = createRedisCache({
      mode: 'cluster',
      addresses: [`127.0.0.1:${cluster.masters[0]!.port}`],
      commandTimeout: TIMEOUT,
    });
    t.after(() => cache.close());
    await firstWrite(cache);
    const owner = await ownerOf(cluster, KEY);
    const child = owner.server.child;
    t.after(() => void child.kill('SIGCONT'));
    await redisCommand(owner.port, ['CONFIG', 'RESETSTAT']);

    child.kill('SIGSTOP');
    await stopped(child.pid!);
    const { issued, dropped, keptAfterDrop: held } = await stall(cache);
    child.kill('SIGCONT');
    await waitFor(() => cache.get(KEY).then((v) => v !== undefined), {
      timeoutMs: 15_000,
      what: 'answers again',
    });
    const calls = await getCalls(owner.port);
    console.log(
      `# ${issued} gets timed out or failed; kept ${held}; the master ran ${calls} gets after resuming`,
    );
    assert.ok(dropped, 'the silent connection was dropped');
    // A node connection not ready queues commands (iovalkey's offline queue, made anew after the
    // silent one was dropped); its settled ones are dropped whenever it has doubled since the last
    // pass, so it holds at most twice what is live: checked at the end of every round after the
    // drop, not only the last (where that fell depended on the machine's pace). Before, the gets
    // the silent connection had awaited, retried by the cluster once it was dropped, were queued
    // again although failed: 2,849–4,000 kept at the end of the round after the drop, and still
    // 2,664 of 6,000 at the last round under CI load.
    assert.ok(held <= 2 * ROUND, `kept ${held} of ${issued} at the end of a round after the drop`);
    // Less than one round: before, the gets that timed out against the connection made after the
    // drop stayed in its offline queue and the master ran them on resuming (1,185 of 7,000 alone,
    // 3,318 of 6,000 under CI load), on top of what the sockets' buffers held (185 here).
    assert.ok(calls < ROUND, `the master ran ${calls} gets of ${issued} that had failed`);
    unhandled.check();
  });
});
