/**
 * A slot migrating live (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE of some of its keys): the
 * source answers the keys it still holds and `ASK`s for the ones already moved. Reads batched in
 * one pipeline must give each key the answer of the node that holds it.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

const PREFIX = 'mig:';

/** The first key `tag<i>` (without prefix) whose slot satisfies `want`. */
function keyWhere(tag: string, want: (slot: number) => boolean): string {
  for (let i = 0; i < 100_000; i++) if (want(keySlot(`${PREFIX}${tag}${i}`))) return `${tag}${i}`;
  throw new Error(`no key for ${tag}`);
}

describeWithServers('redis cache on a cluster while a slot migrates', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  const fresh = () =>
    createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 2000,
    });

  /** Starts migrating the slot of `key` to another master and moves `moved` (keys of that slot) there. */
  async function migrate(key: string, moved: readonly string[]) {
    const slot = keySlot(PREFIX + key);
    const ranges = (await redisCommand(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [
      number,
      number,
      [string, number],
    ][];
    const src = Number(ranges.find((r) => r[0] <= slot && slot <= r[1])![2][1]);
    const dst = cluster.masters.map((m) => m.port).find((p) => p !== src)!;
    const srcId = String(await redisCommand(src, ['CLUSTER', 'MYID']));
    const dstId = String(await redisCommand(dst, ['CLUSTER', 'MYID']));
    await redisCommand(dst, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId]);
    await redisCommand(src, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId]);
    await redisCommand(src, [
      'MIGRATE',
      '127.0.0.1',
      dst,
      '',
      0,
      5000,
      'KEYS',
      ...moved.map((k) => PREFIX + k),
    ]);
    return {
      /** Moves the rest and hands the slot over. */
      async finish() {
        const left = (await redisCommand(src, ['CLUSTER', 'GETKEYSINSLOT', slot, 100])) as string[];
        if (left.length > 0)
          await redisCommand(src, ['MIGRATE', '127.0.0.1', dst, '', 0, 5000, 'KEYS', ...left]);
        for (const m of cluster.masters)
          await redisCommand(m.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', dstId]);
      },
    };
  }

  before(async () => {
    cluster = await startRedisCluster();
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 2000,
    });
  });
  after(async () => {
    await cache?.close();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('batched reads and deletes of keys on both sides of a migrating slot: every key gets its answer (ASK, TRYAGAIN)', async () => {
    // `stays` and `moves` share a slot; only `moves` is migrated, so the source still answers
    // `stays` and ASKs for `moves`. `other` is another slot of the same source.
    const stays = 'stay0';
    const slot = keySlot(PREFIX + stays);
    const moves = keyWhere('move', (s) => s === slot);
    await cache.setMany([
      { key: stays, value: enc('S') },
      { key: moves, value: enc('M') },
    ]);
    const ranges = (await redisCommand(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [
      number,
      number,
      [string, number],
    ][];
    const range = ranges.find((r) => r[0] <= slot && slot <= r[1])!;
    const src = Number(range[2][1]);
    const other = keyWhere('other', (s) => s !== slot && s >= range[0] && s <= range[1]);
    await cache.set(other, enc('O'));
    // A running cache has used its delete script on every master's connection; so does this one
    // (see the README on NOSCRIPT after a redirected first use).
    await cache.deleteMany(ranges.map((r, i) => keyWhere(`warm${i}-`, (s) => s >= r[0] && s <= r[1])));
    const dst = cluster.masters.map((m) => m.port).find((p) => p !== src)!;
    const srcId = String(await redisCommand(src, ['CLUSTER', 'MYID']));
    const dstId = String(await redisCommand(dst, ['CLUSTER', 'MYID']));
    await redisCommand(dst, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId]);
    await redisCommand(src, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId]);
    await redisCommand(src, ['MIGRATE', '127.0.0.1', dst, '', 0, 5000, 'KEYS', PREFIX + moves]);

    // Its own L2 (the tiered cache closes its L2 when it is closed).
    const l2 = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 2000,
    });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking: createRedisTracking({ cache: l2 }),
      breaker: false,
    });
    try {
      const withTtl = await cache.getManyWithTtl([stays, moves, other]);
      assert.deepEqual(
        withTtl.map((h) => (h ? dec(h.value) : undefined)),
        ['S', 'M', 'O'],
        'getManyWithTtl: the key not migrated yet is no miss',
      );
      const piped = await cache.pipeline().get(moves).get(stays).get(other).exec();
      assert.deepEqual(
        piped.map((v) => (v instanceof Uint8Array ? dec(v) : v)),
        ['M', 'S', 'O'],
        'pipeline().get',
      );
      await tiered.ready;
      const fromTiered = await tiered.getMany([stays, moves, other]);
      assert.deepEqual(
        fromTiered.map((v) => (v ? dec(v) : undefined)),
        ['S', 'M', 'O'],
        'tiered getMany (L2 read under tracking)',
      );
      // Writes and single reads on both sides were right before the fix too; kept as a check.
      assert.equal(dec(await cache.get(stays)), 'S');
      assert.equal(dec(await cache.get(moves)), 'M');
      // One slot's MGET (and delete script) over keys split by the migration gets TRYAGAIN from
      // Redis until the slot is handed over: they used to fail with `unavailable` all that time.
      assert.deepEqual(
        (await cache.getMany([stays, other, moves])).map(dec),
        ['S', 'O', 'M'],
        'getMany of a slot split by the migration',
      );
      assert.equal(await cache.deleteMany([stays, moves, 'absent']), 2, 'deleteMany of that slot');
      assert.deepEqual((await cache.getMany([stays, moves])).map(dec), [undefined, undefined]);
      await cache.setMany([
        { key: stays, value: enc('S') },
        { key: moves, value: enc('M') },
      ]);
    } finally {
      await tiered.close();
      // Finish the migration: the slot is the target's, every key there.
      const left = (await redisCommand(src, ['CLUSTER', 'GETKEYSINSLOT', slot, 100])) as string[];
      if (left.length > 0)
        await redisCommand(src, ['MIGRATE', '127.0.0.1', dst, '', 0, 5000, 'KEYS', ...left]);
      for (const m of cluster.masters)
        await redisCommand(m.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', dstId]);
    }
    const after = await cache.getManyWithTtl([stays, moves, other]);
    assert.deepEqual(
      after.map((h) => (h ? dec(h.value) : undefined)),
      ['S', 'M', 'O'],
      'after the slot was handed over (MOVED)',
    );
  });

  it('reads redirected by MOVED to a node where the slot is migrating on get every key right', async () => {
    // The client's map says A; the slot was handed to B (the client does not know yet) and B is
    // migrating it on to C with one key moved. The first pass gets MOVED from A; the resend meets
    // B, which answers one key and ASKs for the other: a pipeline there was re-sent whole to C.
    const reader = fresh();
    try {
      const one = 'hop0';
      const slot = keySlot(PREFIX + one);
      const two = keyWhere('hop-two', (s) => s === slot);
      await reader.setMany([
        { key: one, value: enc('1') },
        { key: two, value: enc('2') },
      ]);
      assert.deepEqual((await reader.getMany([one, two])).map(dec), ['1', '2'], 'the map is read');
      const ranges = (await redisCommand(cluster.nodes[0]!.port, ['CLUSTER', 'SLOTS'])) as [
        number,
        number,
        [string, number],
      ][];
      const a = Number(ranges.find((r) => r[0] <= slot && slot <= r[1])![2][1]);
      const [b, c] = cluster.masters.map((m) => m.port).filter((p) => p !== a) as [number, number];
      const id = async (p: number) => String(await redisCommand(p, ['CLUSTER', 'MYID']));
      const [aId, bId, cId] = [await id(a), await id(b), await id(c)];
      // A → B, whole slot.
      await redisCommand(b, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', aId]);
      await redisCommand(a, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', bId]);
      await redisCommand(a, ['MIGRATE', '127.0.0.1', b, '', 0, 5000, 'KEYS', PREFIX + one, PREFIX + two]);
      for (const p of [b, a, c]) await redisCommand(p, ['CLUSTER', 'SETSLOT', slot, 'NODE', bId]);
      // B → C, only `two` moved.
      await redisCommand(c, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', bId]);
      await redisCommand(b, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', cId]);
      await redisCommand(b, ['MIGRATE', '127.0.0.1', c, '', 0, 5000, 'KEYS', PREFIX + two]);
      try {
        const got = await reader.getManyWithTtl([one, two]);
        assert.deepEqual(
          got.map((h) => (h ? dec(h.value) : undefined)),
          ['1', '2'],
          'getManyWithTtl after MOVED then ASK',
        );
      } finally {
        await redisCommand(b, ['MIGRATE', '127.0.0.1', c, '', 0, 5000, 'KEYS', PREFIX + one]);
        for (const p of [c, b, a]) await redisCommand(p, ['CLUSTER', 'SETSLOT', slot, 'NODE', cId]);
      }
    } finally {
      await reader.close();
    }
  });

  it('an ASKING left unanswered by a closing connection is no unhandled rejection', async () => {
    // iovalkey sends ASKING before a command it follows to a migration target and drops its
    // promise; here that connection is closed, as when a node leaves the pool mid-reshard.
    const c = fresh();
    try {
      await c.get('warm');
      const node = (c.client as import('iovalkey').Cluster).nodes('master')[0]!;
      node.disconnect();
      (node as unknown as { asking(): Promise<unknown> }).asking();
      await new Promise((r) => setTimeout(r, 20));
      unhandled.check();
    } finally {
      await c.close();
    }
  });

  it("a guarded write's first use of its script on a connection, redirected, does not leave the script unloaded there", async () => {
    // iovalkey sends a script as EVAL on its first use on a connection and EVALSHA after; an EVAL
    // answered ASK/TRYAGAIN was never compiled, yet counted as loaded: the next writes on that
    // connection got NOSCRIPT, and those pipelined behind others failed ("script cache emptied").
    const stays = 'fs-stay0';
    const slot = keySlot(PREFIX + stays);
    const moves = keyWhere('fs-move', (s) => s === slot);
    const also = keyWhere('fs-also', (s) => s === slot);
    const setup = fresh();
    await setup.setMany([
      { key: stays, value: enc('S') },
      { key: moves, value: enc('M') },
      { key: also, value: enc('A') },
    ]);
    await setup.close();
    // Servers that never ran the scripts (the test above did): a new node, or after a restart.
    for (const m of cluster.masters) await redisCommand(m.port, ['SCRIPT', 'FLUSH']);
    const migration = await migrate(stays, [moves]);
    const deleting = fresh();
    const writing = fresh();
    try {
      // First delete on its connections: one slot's delete script, TRYAGAIN (keys split).
      assert.equal(await deleting.deleteMany([stays, moves]), 2);
      // First write on its connections: the SET script for the moved key, ASK to the target.
      await writing.set(moves, enc('M2'));
      // Then two writes pipelined on the source's connection.
      await writing.setMany([
        { key: stays, value: enc('S2') },
        { key: also, value: enc('A2') },
      ]);
      assert.deepEqual((await writing.getMany([stays, also, moves])).map(dec), ['S2', 'A2', 'M2']);
    } finally {
      await Promise.allSettled([deleting.close(), writing.close()]);
      await migration.finish();
    }
  });

  it('pipeline() keeps queue order for a key resent after ASK while other keys of its node answered', async () => {
    // `moves` is on the import target, `stays` still on the source: the source answers the
    // commands on `stays` and ASKs for those on `moves`, which are resent. The resent `set` and
    // `get` of `moves` went out together, so the get could read the value from before the set.
    const stays = 'po-stay0';
    const slot = keySlot(PREFIX + stays);
    const moves = keyWhere('po-move', (s) => s === slot);
    await cache.setMany([
      { key: stays, value: enc('S0') },
      { key: moves, value: enc('M0') },
    ]);
    const migration = await migrate(stays, [moves]);
    try {
      for (let i = 1; i <= 5; i++) {
        const p = cache.pipeline();
        p.set(moves, enc(`M${i}`))
          .set(stays, enc(`S${i}`))
          .get(moves)
          .get(stays)
          .delete(moves)
          .get(moves)
          .set(moves, enc(`N${i}`));
        const got = await p.exec();
        assert.deepEqual(
          got.map((v) => (v instanceof Uint8Array ? dec(v) : v)),
          [true, true, `M${i}`, `S${i}`, true, undefined, true],
          `round ${i}`,
        );
        assert.equal(dec(await cache.get(moves)), `N${i}`);
      }
    } finally {
      await migration.finish();
    }
  });

  it('a WATCH transaction on a key already moved by a migration says nothing was applied', async () => {
    const stays = 'tw-stay0';
    const slot = keySlot(PREFIX + stays);
    const moves = keyWhere('tw-move', (s) => s === slot);
    await cache.setMany([
      { key: stays, value: enc('S') },
      { key: moves, value: enc('M') },
    ]);
    const migration = await migrate(stays, [moves]);
    try {
      const err = await rejectsWith(
        cache.transaction(
          async (tx) => {
            const v = await tx.read(moves);
            tx.set(moves, enc(`${dec(v)}+1`));
          },
          { watch: [moves] },
        ),
        'unavailable',
      );
      assert.match(err.message, /nothing was applied/);
      assert.equal(dec(await cache.get(moves)), 'M');
    } finally {
      await migration.finish();
    }
  });
});
