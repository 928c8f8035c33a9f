/** The Redis cache on a 6-node cluster whose master is killed: health, reads, writes, transactions. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache, type RedisPartialRead } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

describeWithServers('redis cache on a cluster whose master is killed', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    // The health test checks what the cache says between a master's death and its failover: a
    // window of about cluster-node-timeout. At 2 s it was sometimes over before the test's dozen
    // checks were done on a loaded machine (2 of 12 runs beside other test processes); 6 s leaves
    // room. The failovers of the other tests are manual (CLUSTER FAILOVER), not timed out.
    cluster = await startRedisCluster({ nodeTimeoutMs: 6000 });
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
        ((await redisCommand(master, ['ROLE'])) as unknown[])[0] === 'slave' &&
        // the demoted node synced: CLUSTER SLOTS lists it as the replica again
        /master_link_status:up/.test(String(await redisCommand(master, ['INFO', 'replication']))) &&
        ((await redisCommand(replica, ['CLUSTER', 'SLOTS'])) as unknown[][]).every((r) => r.length >= 4),
      { timeoutMs: 20_000, intervalMs: 50, what: 'the manual failover' },
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

  let lastPromoted = '';

  /**
   * Master address → its replica's port, once every live node's CLUSTER SLOTS says the same and
   * every range has a replica (bounded wait). Right after a failover the nodes' views differ for a
   * moment; a client created then may read a map with no replica, or with the demoted master.
   */
  async function agreedPairs(): Promise<Map<string, number>> {
    type Node = [string, number, ...unknown[]];
    type Range = [number, number, Node, ...Node[]];
    return waitFor(
      async () => {
        let agreed: string | undefined;
        let pairs: Map<string, number> | undefined;
        for (const node of cluster.nodes) {
          if (node.server.exited) continue;
          const ranges = (await redisCommand(node.port, ['CLUSTER', 'SLOTS'])) as Range[];
          if (ranges.length === 0 || ranges.some((r) => r.length < 4)) return undefined;
          const view = ranges
            .map((r) => `${r[0]}-${r[1]}=${(r.slice(2) as Node[]).map((n) => `${n[0]}:${n[1]}`)}`)
            .sort()
            .join(' ');
          if (agreed !== undefined && view !== agreed) return undefined;
          agreed = view;
          pairs = new Map(ranges.map((r) => [`${r[2][0]}:${r[2][1]}`, Number((r[3] as Node)[1])]));
        }
        return pairs;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'every node to agree on masters and replicas' },
    );
  }

  /**
   * A fresh cache (its slot map read now), and a graceful failover of one master (not the one the
   * last test kills), swapped with its replica; the cache learns of it only from MOVED replies.
   */
  async function freshCacheAfterFailovers(keyPrefix: string): Promise<RedisCache> {
    const pairs = await agreedPairs();
    const fresh = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix,
      commandTimeout: 1000,
    });
    fresh.get('warm-up').catch(() => {});
    await fresh.get('warm-up');
    const slots = (fresh.client as unknown as { slots: string[][] }).slots;
    const victim = `${cluster.masters[0]!.host}:${cluster.masters[0]!.port}`;
    // One master is enough: 60 keys put about 20 slots on it. Not the one promoted by the previous
    // call: a node failed over again right after its promotion did not complete it here.
    const chosen = [...pairs].find(([m]) => m !== victim && m !== lastPromoted);
    assert.ok(chosen, `a master other than ${victim} and ${lastPromoted} in ${[...pairs.keys()]}`);
    const [master, replica] = chosen;
    // The fresh client read its map after the nodes agreed: it names that master.
    assert.ok(
      slots.some((owners) => owners?.[0] === master),
      `the fresh client's slot map names ${master}`,
    );
    await manualFailover(replica, Number(master.split(':')[1]));
    lastPromoted = `${master.split(':')[0]}:${replica}`;
    return fresh;
  }

  /** Keys matching `pattern` on the nodes that are masters now (asked directly). */
  async function keysOnMasters(pattern: string): Promise<number> {
    let n = 0;
    for (const node of cluster.nodes) {
      if (node.server.exited) continue;
      if (((await redisCommand(node.port, ['ROLE'])) as unknown[])[0] !== 'master') continue;
      n += ((await redisCommand(node.port, ['KEYS', pattern])) as unknown[]).length;
    }
    return n;
  }

  const entries = Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: enc(`v${i}`) }));

  // iovalkey follows a pipeline's redirection only when every reply is the same MOVED, so a batch
  // over several slots of a master that had just handed them over failed whole ('unavailable …
  // MOVED') until the next slot-map refresh (up to 5 s), while single-key commands followed it.
  it('getMany, setMany, deleteMany and pipeline() follow MOVED replies after a manual failover', async (t) => {
    const setup = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'fb:',
    });
    await setup.setMany(entries);
    await setup.close();
    const fresh = await freshCacheAfterFailovers('fb:');
    t.after(() => fresh.close());
    // Its slot map still names the demoted master, which answers and redirects: healthy.
    const h = await fresh.health();
    assert.equal(h.ok, true, h.error);
    const got = await fresh.getMany(entries.map((e) => e.key));
    assert.deepEqual(
      got.map(dec),
      entries.map((e) => dec(e.value)),
    );
    await fresh.setMany(entries.map((e) => ({ key: e.key, value: enc(`w-${e.key}`) })));
    assert.equal(await fresh.deleteMany(entries.slice(0, 10).map((e) => e.key)), 10);
    const replies = await fresh.pipeline().get('k10').get('k11').set('k12', enc('p')).get('k13').exec();
    assert.deepEqual(
      replies.map((v) => (typeof v === 'boolean' ? v : dec(v))),
      ['w-k10', 'w-k11', true, 'w-k13'],
    );
  });

  // clear() scanned the masters of the client's node list and skipped a slot whose UNLINK answered
  // MOVED ("another master scans it"), but after a manual failover the new master was not in that
  // list yet: clear() resolved and the keys of the moved slots stayed.
  it('clear() after a manual failover removes every key of its prefix', async (t) => {
    const setup = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'fc:',
    });
    await setup.setMany(entries);
    await setup.set('other', enc('kept')); // under another prefix below
    await setup.close();
    const other = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'fd:',
    });
    t.after(() => other.close());
    await other.setMany(entries.slice(0, 20));
    const fresh = await freshCacheAfterFailovers('fc:');
    t.after(() => fresh.close());
    assert.equal(await keysOnMasters('fc:*'), 61);
    await fresh.clear();
    assert.equal(await keysOnMasters('fc:*'), 0);
    assert.equal(await keysOnMasters('fd:*'), 20);
  });

  // The client drops a master from its node lists as soon as its connection ends, so health()
  // probed only the two live masters and said ok: true while every key of the dead master's slots
  // failed (CLUSTERDOWN / connection closed) until the failover, ~3 s later.
  it('health() is not ok while a killed master still owns slots, and ok again after the failover', async () => {
    // Connected, slot map read. Retried (bounded): right after the earlier tests' failovers the
    // cluster may still answer CLUSTERDOWN for a moment (seen once on Node 24 in CI: this first
    // get threw "Too many Cluster redirections … CLUSTERDOWN" before anything was tested).
    await waitFor(
      async () => {
        try {
          await cache.get('warm-up');
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'a get to succeed after the earlier failovers' },
    );
    // The tests above failed masters over; right after, the client may still be re-reading the
    // topology (its slot map naming a node its pool is replacing). health() now re-reads it and
    // probes again before it says not ok (cluster.test.ts), but the precondition here is a settled
    // cluster all the same: wait (bounded) until health is ok.
    let h0 = await cache.health();
    if (!h0.ok) console.log(`# settling after the earlier failovers: ${h0.error}`);
    await waitFor(
      async () => {
        h0 = await cache.health();
        return h0.ok;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'health ok before the kill' },
    );
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
    // A batch that touches the dead master's slot names that master (before: the two live masters,
    // "cluster nodes A, B: Connection is closed", which were fine).
    const elsewhere = Array.from({ length: 200 }, (_, i) => `e${i}`).find(
      (k) => (cache.client as { slots: string[][] }).slots[keySlot(`fo:${k}`)]?.[0] !== victimAddress,
    )!;
    const named = new RegExp(`slot ${keySlot(`fo:${ownSlot}`)} on ${victimAddress.replace(/\./g, '\\.')}`);
    const batchErrors = [
      await rejectsWith(cache.getMany([elsewhere, ownSlot]), 'unavailable', 'timeout'),
      await rejectsWith(cache.pipeline().get(elsewhere).get(ownSlot).exec(), 'unavailable', 'timeout'),
      await rejectsWith(
        cache.setMany([
          { key: elsewhere, value: enc('x') },
          { key: ownSlot, value: enc('x') },
        ]),
        'unavailable',
        'timeout',
      ),
    ];
    for (const e of batchErrors) assert.match(e.message, named);
    // A read batch rejects like a get on the dead slot, but still carries what the live masters
    // answered (before, nothing: every key of the batch was lost with the dead master's part).
    await cache.set(elsewhere, enc('live'));
    // pipeline() too (before, its error carried nothing of what the live masters answered).
    const piped = (keys: readonly string[]) => {
      const p = cache.pipeline();
      for (const k of keys) p.get(k);
      return p.exec();
    };
    for (const read of [cache.getMany.bind(cache), cache.getManyWithTtl.bind(cache), piped]) {
      const e = await rejectsWith(
        read([elsewhere, ownSlot, `${elsewhere}-absent`]),
        'unavailable',
        'timeout',
      );
      assert.match(e.message, named);
      const partial = (e as typeof e & { partial?: RedisPartialRead<unknown> }).partial;
      assert.ok(partial, `${e.message} carries the partial answer`);
      const unanswered = [1];
      const absent = `fo:${elsewhere}-absent`;
      if ((cache.client as { slots: string[][] }).slots[keySlot(absent)]?.[0] === victimAddress)
        unanswered.push(2);
      assert.deepEqual(partial.unanswered, unanswered);
      const [live, dead, miss] = partial.values;
      assert.equal(dec((live as { value?: Uint8Array }).value ?? (live as Uint8Array)), 'live');
      assert.equal(dead, undefined);
      assert.equal(miss, undefined);
      assert.equal(Object.keys(e).includes('partial'), false, 'values stay out of logged errors');
    }
    // A pipeline's writes: the live master's is answered (applied), the dead one's is unknown.
    const w = await rejectsWith(
      cache.pipeline().set(elsewhere, enc('piped')).delete(ownSlot).exec(),
      'unavailable',
      'timeout',
    );
    const wp = (w as typeof w & { partial?: RedisPartialRead<unknown> }).partial;
    assert.ok(wp, `${w.message} carries the partial answer`);
    assert.deepEqual(wp.values, [true, undefined]);
    assert.deepEqual(wp.unanswered, [1]);
    assert.equal(dec(await cache.get(elsewhere)), 'piped');
    // setMany likewise: which entries were stored.
    const sm = await rejectsWith(
      cache.setMany([
        { key: ownSlot, value: enc('lost?') },
        { key: elsewhere, value: enc('many') },
      ]),
      'unavailable',
      'timeout',
    );
    const smp = (sm as typeof sm & { partial?: RedisPartialRead<unknown> }).partial;
    assert.ok(smp, `${sm.message} carries the partial answer`);
    assert.deepEqual(smp.values, [undefined, true]);
    assert.deepEqual(smp.unanswered, [0]);
    assert.equal(dec(await cache.get(elsewhere)), 'many');
    // clear() cannot reach the dead master's keys (its replica will serve them): it says so
    // instead of resolving after scanning the two live masters.
    const err = await rejectsWith(cache.clear(), 'unavailable', 'timeout');
    assert.match(err.message, /no connected master|CLUSTERDOWN|Connection is closed/);
    // …naming the dead owner (clear() re-reads the slot map first, which lists it again).
    assert.ok(err.message.includes(victimAddress), err.message);

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
