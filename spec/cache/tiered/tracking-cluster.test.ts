/**
 * Server-assisted invalidation on a real 6-node cluster: one tracked link per node, writes by a
 * `redis-cli -c` process reach L1 (lag over 1,000 writes spread over the three masters), a slot
 * migration (keys moved by MIGRATE, then the slot handed over), a master killed (failover to its
 * replica) and a manual failover (CLUSTER FAILOVER: every connection stays up): after each, an
 * outside write to a key held in L1 is seen by the next read once its invalidation arrived, and a
 * write made while tracking was being re-established is not missed. A slot owner change between
 * tracked nodes drops only the moved slots' keys from L1 (keys of other slots stay, no loss); a
 * master killed is a loss (L1 bypassed until every slot is tracked again).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
import {
  holdInL1,
  measureLag,
  type OutsideWriter,
  outsideOnce,
  outsideWriter,
  summary,
  text,
  tick,
} from './tracking-helpers.js';

const PREFIX = 'tc:';

/** `slot → port` of its master, from one node's CLUSTER SLOTS. */
async function owners(port: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const range of (await redisCommand(port, ['CLUSTER', 'SLOTS'])) as [
    number,
    number,
    [string, number],
  ][])
    for (let s = range[0]; s <= range[1]; s++) out.set(s, Number(range[2][1]));
  return out;
}

/** A key (without prefix) whose slot is served by `port`. */
function keyOn(map: Map<number, number>, port: number, tag: string): string {
  for (let i = 0; ; i++) if (map.get(keySlot(`${PREFIX}${tag}${i}`)) === port) return `${tag}${i}`;
}

/** Reads until the value is `want`; every read before must be `previous`. Returns the wait in ms. */
async function freshWithin(cache: TieredCache, key: string, previous: string | undefined, want: string) {
  const start = performance.now();
  for (let polls = 0; ; polls++) {
    const seen = text(await cache.get(key).catch(() => undefined));
    if (seen === want) return performance.now() - start;
    if (seen !== undefined) assert.equal(seen, previous, `${key}: read ${seen}, neither old nor new`);
    assert.ok(performance.now() - start < 15_000, `${key}: ${want} never came`);
    await tick();
    if (polls % 100 === 99) await new Promise((r) => setTimeout(r, 5));
  }
}

describeWithServers('tiered cache with Redis CLIENT TRACKING (6-node cluster)', skipRedis(), () => {
  let cluster: RedisCluster;
  let l2: RedisCache;
  let cache: TieredCache;
  let cli: OutsideWriter;
  let seedPort: number;
  /** Why trust was lost, in order (the tiered cache's `tracking lost` warnings). */
  const lossReasons: string[] = [];

  before(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
    seedPort = cluster.masters[0]!.port;
    l2 = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 1000,
    });
    const tracking = createRedisTracking({ cache: l2, heartbeat: 200 });
    cache = createTieredCache({
      logger: {
        debug() {},
        info() {},
        warn(message: string, fields?: Record<string, unknown>) {
          if (/tracking lost/.test(message)) lossReasons.push(String(fields?.reason));
        },
        error() {},
      },
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking,
      l1Ttl: 60_000,
      l2Timeout: 1000,
      breaker: false,
    });
    await cache.ready;
    cli = outsideWriter(seedPort, { cluster: true });
  });
  after(async () => {
    cli?.close();
    await cache?.close().catch(() => {});
    await cluster?.stop();
  });

  it('tracks every node; 1,000 redis-cli -c writes over keys on all three masters reach L1', async () => {
    const map = await owners(seedPort);
    const delays: number[] = [];
    for (const [i, m] of cluster.masters.entries()) {
      const key = keyOn(map, m.port, `lag${i}-`);
      await cache.set(key, Buffer.from('start'), 60_000);
      delays.push(...(await measureLag(cache, cli, key, PREFIX + key, i === 0 ? 334 : 333, `m${i}-`)));
    }
    const s = summary(delays);
    console.log(
      `# cluster, ${delays.length} outside writes over 3 masters: write reply → first fresh read median ${s.median.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, max ${s.max.toFixed(3)} ms`,
    );
    assert.equal(delays.length, 1000);
  });

  // Found from outside (/tmp/D10/s7.mts): a tracker over a cluster client already closed (made
  // after `l2.close()`, or the L2 closed before its tiered cache) had no node to track and never
  // said so: the tiered cache's `ready` never settled. Now it rejects with CacheError unavailable.
  it('over a cluster client already closed: ready rejects with CacheError unavailable', async () => {
    const closed = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'gone:',
    });
    await closed.get('k');
    await closed.close();
    const other = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: closed,
      tracking: createRedisTracking({ cache: closed }),
    });
    try {
      const timeout = new Promise<string>((r) =>
        setTimeout(() => r('ready still pending after 10 s'), 10_000).unref(),
      );
      const outcome = await Promise.race([
        other.ready.then(
          () => 'resolved',
          (e: unknown) => e,
        ),
        timeout,
      ]);
      assert.ok(outcome instanceof CacheError, `expected CacheError, got ${String(outcome)}`);
      assert.equal(outcome.code, 'unavailable');
      assert.match(outcome.message, /^redis tracking failed \(cluster\): the client was closed/);
    } finally {
      await other.close();
    }
  });

  it('slot migration: only the moved slot leaves L1, which stays trusted; writes on the new owner reach L1', async () => {
    const map = await owners(seedPort);
    const [src, dst] = [cluster.masters[1]!.port, cluster.masters[2]!.port];
    const key = keyOn(map, src, 'mig-');
    const slot = keySlot(PREFIX + key);
    // Another slot of the same source node, and a slot of another node: neither moves.
    const stay = keyOn(map, src, 'mig-stay-');
    const other = keyOn(map, cluster.masters[0]!.port, 'mig-other-');
    assert.notEqual(keySlot(PREFIX + stay), slot);
    for (const k of [key, stay, other]) {
      await cache.set(k, Buffer.from(`before-${k}`), 60_000);
      assert.equal(await holdInL1(cache, k), `before-${k}`);
    }
    const { trackingLosses: losses, trackingMoves: moves, l1Clears: clears } = cache.stats();

    const srcId = String(await redisCommand(src, ['CLUSTER', 'MYID']));
    const dstId = String(await redisCommand(dst, ['CLUSTER', 'MYID']));
    await redisCommand(dst, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId]);
    await redisCommand(src, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId]);
    const keys = (await redisCommand(src, ['CLUSTER', 'GETKEYSINSLOT', slot, 100])) as string[];
    const n = cache.stats().trackingInvalidations;
    await redisCommand(src, ['MIGRATE', '127.0.0.1', dst, '', 0, 5000, 'KEYS', ...keys]);
    for (const m of cluster.masters) await redisCommand(m.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', dstId]);
    await waitFor(() => cache.stats().trackingInvalidations > n, { what: 'MIGRATE to invalidate the key' });
    // The value did not change: reads (now MOVED to the new owner) still give it.
    assert.equal(text(await cache.get(key)), `before-${key}`);
    await waitFor(() => cache.stats().trackingMoves > moves, {
      timeoutMs: 10_000,
      what: 'the owner change to be seen',
    });
    const s = cache.stats();
    assert.equal(s.trackingLosses, losses, 'trust was kept');
    assert.equal(s.l1Clears, clears, 'L1 was not cleared whole');
    assert.equal(s.trackingConfirmed, 1);
    for (const k of [stay, other])
      assert.deepEqual(
        await cache.getWithMeta(k),
        { value: Buffer.from(`before-${k}`), source: 'l1', stale: false },
        `${k} (slot ${keySlot(PREFIX + k)}) stayed in L1`,
      );
    assert.equal(await holdInL1(cache, key), `before-${key}`);
    assert.equal(await cli.run(`SET ${PREFIX}${key} after`), 'OK');
    const lag = await freshWithin(cache, key, `before-${key}`, 'after');
    const delays = await measureLag(cache, cli, key, PREFIX + key, 100, 'moved-');
    const d = summary(delays);
    console.log(
      `# cluster slot ${slot} moved ${src} → ${dst}: first outside write seen after ${lag.toFixed(3)} ms; 100 more: median ${d.median.toFixed(3)} ms, max ${d.max.toFixed(3)} ms`,
    );
  });

  // The 'slot migration' case above failed 2 runs in 8 on a loaded machine (a key of another slot
  // of the source node read from L2, two owner changes counted): iovalkey gives every slot of a
  // CLUSTER SLOTS range one shared node array and a MOVED reply patches `slots[slot][0]` in place,
  // so until the refresh it starts has answered, the client's map shows every slot of that range
  // on the new owner. A heartbeat reading the map then (it runs every 200 ms here) saw the whole
  // range change owner and dropped all its keys, and counted a second change when the refresh
  // put them back. Here the refresh is held back 1 s so the heartbeat always sees that map.
  it('slot migration with a slow slot-map refresh: the MOVED reply moves only its own slot', async () => {
    const map = await owners(seedPort);
    const [src, dst] = [cluster.masters[1]!.port, cluster.masters[2]!.port];
    const key = keyOn(map, src, 'mv-');
    const slot = keySlot(PREFIX + key);
    const stay = keyOn(map, src, 'mv-stay-');
    assert.notEqual(keySlot(PREFIX + stay), slot);
    for (const k of [key, stay]) {
      await cache.set(k, Buffer.from(`before-${k}`), 60_000);
      assert.equal(await holdInL1(cache, k), `before-${k}`);
    }
    const before = cache.stats();
    const client = l2.client as unknown as { refreshSlotsCache(cb?: unknown): void };
    const refresh = client.refreshSlotsCache;
    client.refreshSlotsCache = function (this: unknown, cb?: unknown) {
      setTimeout(() => refresh.call(this, cb), 1000);
    };
    try {
      const srcId = String(await redisCommand(src, ['CLUSTER', 'MYID']));
      const dstId = String(await redisCommand(dst, ['CLUSTER', 'MYID']));
      await redisCommand(dst, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId]);
      await redisCommand(src, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId]);
      const keys = (await redisCommand(src, ['CLUSTER', 'GETKEYSINSLOT', slot, 100])) as string[];
      await redisCommand(src, ['MIGRATE', '127.0.0.1', dst, '', 0, 5000, 'KEYS', ...keys]);
      for (const m of cluster.masters)
        await redisCommand(m.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', dstId]);
      // A single command through the client's old map: the source answers MOVED. (Not a tiered
      // read: under tracking those are pipelines, whose MOVED handling gives the slot a new array.)
      assert.notEqual(await l2.get(key), undefined);
      await waitFor(() => cache.stats().trackingMoves > before.trackingMoves, {
        timeoutMs: 10_000,
        what: 'the owner change to be seen',
      });
    } finally {
      client.refreshSlotsCache = refresh;
    }
    const s = cache.stats();
    assert.equal(s.trackingLosses, before.trackingLosses, 'trust was kept');
    assert.deepEqual(
      await cache.getWithMeta(stay),
      { value: Buffer.from(`before-${stay}`), source: 'l1', stale: false },
      `${stay} (slot ${keySlot(PREFIX + stay)}, not moved) stayed in L1 (stats ${JSON.stringify(s)})`,
    );
  });

  it('master killed: L1 bypassed until every slot is tracked again; writes on the promoted replica reach L1', async () => {
    const map = await owners(seedPort);
    const victim = cluster.masters[0]!;
    const key = keyOn(map, victim.port, 'fo-');
    const other = keyOn(map, cluster.masters[1]!.port, 'fo-other-');
    await cache.set(key, Buffer.from('v1'), 60_000);
    await cache.set(other, Buffer.from('w1'), 60_000);
    assert.equal(await holdInL1(cache, key), 'v1');
    assert.equal(await holdInL1(cache, other), 'w1');
    cli.close();
    cli = outsideWriter(cluster.masters[1]!.port, { cluster: true });
    const losses = cache.stats().trackingLosses;
    const killedAt = performance.now();
    await victim.server.kill();
    // The outside writer retries from the kill on: its write may land before tracking is back.
    let writtenAt: number | undefined;
    const writing = (async () => {
      while (performance.now() - killedAt < 20_000) {
        if ((await outsideOnce(cluster.masters[1]!.port, ['-c', 'SET', `${PREFIX}${key}`, 'v2'])) === 'OK') {
          writtenAt = performance.now();
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(() => cache.stats().trackingLosses > losses, { what: 'the loss to be noticed' });
    // Until tracking covers every slot again, nothing is answered from L1.
    let l2Reads = 0;
    while (cache.stats().trackingConfirmed === 0) {
      const r = await cache.getWithMeta(other).catch(() => undefined);
      if (r) {
        assert.notEqual(r.source, 'l1', 'L1 answered while tracking was not confirmed');
        l2Reads++;
      }
      assert.ok(performance.now() - killedAt < 30_000, 'tracking never came back');
      await new Promise((r) => setTimeout(r, 5));
    }
    const confirmedAt = performance.now();
    await writing;
    assert.ok(writtenAt !== undefined, 'the promoted replica took the write');
    const lag = await freshWithin(cache, key, 'v1', 'v2');
    // Idle it is seen within milliseconds; the bound leaves room for a loaded machine.
    assert.ok(lag < 2500, `the write was seen ${lag} ms late`);
    assert.equal(await holdInL1(cache, key), 'v2');
    const delays = await measureLag(cache, cli, key, PREFIX + key, 100, 'after-');
    const s = summary(delays);
    console.log(
      `# cluster master ${victim.port} killed: tracking confirmed again ${(confirmedAt - killedAt).toFixed(0)} ms later (${l2Reads} reads from L2 meanwhile); the outside write on the new master was acknowledged ${(writtenAt - killedAt).toFixed(0)} ms after the kill (${writtenAt < confirmedAt ? 'before' : 'after'} the confirmation) and seen ${lag.toFixed(3)} ms after the confirmation or its ack; 100 more: median ${s.median.toFixed(3)} ms, max ${s.max.toFixed(3)} ms`,
    );
    assert.equal(text(await cache.get(other)), 'w1');
  });
  it('manual failover (connections stay up): only the slots of that master leave L1, with no invalidation', async () => {
    /** One manual failover; `undefined` once every check passed, else why trust was lost. */
    const failoverOnce = async (): Promise<string[] | undefined> => {
      const otherMaster = cluster.masters[2]!;
      // The master of the second pair, from the cluster's own view: its first master, or the
      // replica that took over from it in an earlier attempt. Once the other master sees it own
      // slots (a failover's gossip may still be arriving).
      const firstId = String(await redisCommand(cluster.masters[1]!.port, ['CLUSTER', 'MYID']));
      const master = await waitFor(
        async () => {
          const view = String(await redisCommand(otherMaster.port, ['CLUSTER', 'NODES']))
            .trim()
            .split('\n')
            .map((line) => line.split(' '));
          const first = view.find((f) => f[0] === firstId);
          const id = first && /(^|,)slave(,|$)/.test(first[2] ?? '') ? first[3] : firstId;
          const port = Number(/:(\d+)@/.exec(view.find((f) => f[0] === id)?.[1] ?? '')?.[1]);
          return [...(await owners(otherMaster.port)).values()].includes(port) ? { port } : undefined;
        },
        { timeoutMs: 20_000, what: 'the master of the second pair to own slots' },
      );
      const masterId = String(await redisCommand(master.port, ['CLUSTER', 'MYID']));
      // Its replica, from the cluster's own view (roles changed in the tests above).
      const replicaPort = String(await redisCommand(master.port, ['CLUSTER', 'NODES']))
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .filter((f) => /(^|,)slave(,|$)/.test(f[2] ?? '') && !/fail/.test(f[2] ?? '') && f[3] === masterId)
        .map((f) => Number(/:(\d+)@/.exec(f[1] ?? '')?.[1]))[0];
      assert.ok(replicaPort, `a live replica of ${master.port}`);
      const map = await owners(otherMaster.port);
      const key = keyOn(map, master.port, 'mf-');
      const other = keyOn(map, otherMaster.port, 'mf-other-');
      for (const k of [key, other]) {
        await cache.set(k, Buffer.from(`v1-${k}`), 60_000);
        assert.equal(await holdInL1(cache, k), `v1-${k}`);
      }
      // What the test depends on, waited for rather than assumed on a loaded machine: a manual
      // failover needs the replica's replication link up (it waits for the replica to reach the
      // master's offset and gives up after 5 s), and the owner change can only be a move (not a
      // loss) while tracking is confirmed. Both may still be settling after the master kill above.
      await waitFor(
        async () =>
          /master_link_status:up/.test(String(await redisCommand(replicaPort, ['INFO', 'replication']))),
        { timeoutMs: 20_000, what: `replica ${replicaPort} in sync with ${master.port}` },
      );
      // Under load a node can be flagged failing for a moment (node timeout 1 s): the client then drops
      // it from its pool and adds it back, each a loss. Every node but the one killed above is healthy.
      const dead = cluster.masters[0]!.port;
      await waitFor(
        async () =>
          String(await redisCommand(master.port, ['CLUSTER', 'NODES']))
            .trim()
            .split('\n')
            .map((line) => line.split(' '))
            .filter((f) => !f[1]?.startsWith(`127.0.0.1:${dead}@`))
            .every((f) => !/fail/.test(f[2] ?? '') && f[7] === 'connected'),
        { timeoutMs: 20_000, what: 'every live node healthy in the cluster view' },
      );
      await waitFor(() => cache.stats().trackingConfirmed === 1, { what: 'tracking confirmed' });
      for (const k of [key, other]) assert.equal(await holdInL1(cache, k), `v1-${k}`);
      const before = cache.stats();
      const reasonsBefore = lossReasons.length;
      assert.equal(await redisCommand(replicaPort, ['CLUSTER', 'FAILOVER']), 'OK');
      const askedAt = performance.now();
      let asked = 1;
      const seen = await waitFor(
        async () => {
          const now = cache.stats();
          // A loss makes the owner change a loss too: stop at once, not after the wait runs out.
          if (now.trackingLosses !== before.trackingLosses) return 'lost';
          if (now.trackingMoves > before.trackingMoves) return 'moved';
          // A failover the master gave up on (replica not caught up in time) is asked for again.
          const role = (await redisCommand(replicaPort, ['ROLE'])) as unknown[];
          if (role[0] !== 'master' && performance.now() - askedAt > 6000 * asked) {
            asked++;
            await redisCommand(replicaPort, ['CLUSTER', 'FAILOVER']);
          }
          return false;
        },
        { timeoutMs: 30_000, what: 'the owner change to be seen' },
      );
      if (seen === 'lost') return lossReasons.slice(reasonsBefore);
      const s = cache.stats();
      assert.equal(s.trackingLosses, before.trackingLosses, 'trust was kept');
      assert.equal(s.trackingInvalidations, before.trackingInvalidations, 'the server reported nothing');
      assert.equal(s.trackingConfirmed, 1);
      assert.equal((await cache.getWithMeta(other))?.source, 'l1', 'the key of the other master stayed');
      assert.deepEqual(
        await cache.getWithMeta(key),
        { value: Buffer.from(`v1-${key}`), source: 'l2', stale: false },
        'the moved key was dropped and read fresh (from the new master)',
      );
      assert.equal(await holdInL1(cache, key), `v1-${key}`);
      assert.equal(await cli.run(`SET ${PREFIX}${key} v2`), 'OK');
      const lag = await freshWithin(cache, key, `v1-${key}`, 'v2');
      console.log(
        `# cluster manual failover ${master.port} → ${replicaPort}: ${s.trackingMoves - before.trackingMoves} move(s) seen, no loss; the next outside write seen after ${lag.toFixed(3)} ms`,
      );
      return undefined;
    };
    // A loss for another cause than the owner change (a tracked link that missed its heartbeats or
    // was dropped while the machine was loaded, with a 1 s node timeout) says nothing about how a
    // failover is seen: that failover is run again, at most twice. A loss for the owner change is
    // what this test exists to catch.
    for (let attempt = 1; ; attempt++) {
      const lost = await failoverOnce();
      if (lost === undefined) return;
      const ownerChange = lost.some((r) => /changed owner/.test(r));
      assert.ok(
        !ownerChange && attempt < 3,
        `trust was lost during the failover (attempt ${attempt}; reasons ${JSON.stringify(lost)}; stats ${JSON.stringify(cache.stats())})`,
      );
      console.log(
        `# manual failover attempt ${attempt}: trust lost for another cause (${lost.join('; ')}); run again`,
      );
    }
  });
});
