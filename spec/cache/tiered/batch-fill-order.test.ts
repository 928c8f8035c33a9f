/**
 * L1 fills of a multi-key read against a single-key read called while it was out. The fill order
 * of fill-order.test.ts rests on a read's ticket (taken when it is called) giving the order in
 * which reads were sent; a multi-key read may be sent in parts over several turns of the event
 * loop (the Redis cache sends more than 1,000 commands per node in chunks: a cluster `getMany`'s
 * MGETs, every read under tracking), so a `get` called after it can be sent before the part
 * holding its key, and the two values cannot be ordered. Before, the ticket order decided
 * anyway: found from outside on the 6-node cluster (two bus-mode instances; `getMany` of keys in
 * 1,001 slots of one master, a `get` of the last key called at the next turn, the other instance
 * setting that key meanwhile): the `getMany` returned v2 to its caller, the `get` had filled L1
 * with v1, and the caller's next `get` read v1 from L1 until the bus invalidation came (4 to 7
 * rounds of 20). Now neither copy stays in L1 when their order is unknown and their values differ.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { Bytes, Cache } from '../../../lib/core/contracts.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const tick = () => new Promise((r) => setImmediate(r));

/** An L2 whose reads wait until the test answers them (in any order). */
function heldL2() {
  const base = createMemoryCache({ maxCost: 1 << 16 });
  const held: { keys: readonly string[]; answer: (values: (Bytes | undefined)[]) => void }[] = [];
  const hold = (keys: readonly string[]) =>
    new Promise<(Bytes | undefined)[]>((answer) => {
      held.push({ keys, answer });
    });
  const l2: Cache = {
    ...base,
    name: base.name,
    get: (key) => hold([key]).then((v) => v[0]),
    getMany: (keys) => hold(keys),
  };
  return { l2, held };
}

describe('tiered cache: L1 fills of a multi-key read and a single-key read called meanwhile', () => {
  for (const filledFirst of ['get', 'getMany'] as const) {
    it(`neither value stays in L1 when the ${filledFirst} fills first (their order is unknown)`, async () => {
      const { l2, held } = heldL2();
      // Values without envelope (another program's) are cached in L1 for l1Ttl.
      const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, l1Ttl: 60_000 });
      try {
        const batch = cache.getMany(['b']).then((v) => v[0]);
        await tick();
        const single = cache.get('b');
        await tick();
        assert.equal(held.length, 2, 'both reads reached L2');
        // The part of the batch holding `b` went out after the get, and read the newer value.
        const answerBatch = () => held[0]!.answer([Buffer.from('new')]);
        const answerSingle = () => held[1]!.answer([Buffer.from('old')]);
        if (filledFirst === 'get') {
          answerSingle();
          assert.equal(text(await single), 'old');
          answerBatch();
          assert.equal(text(await batch), 'new');
        } else {
          answerBatch();
          assert.equal(text(await batch), 'new');
          answerSingle();
          assert.equal(text(await single), 'old');
        }
        // The getMany's caller read `new`: L1 must not serve it `old` now.
        const next = cache.get('b');
        await tick();
        // (It goes to L2, which answers the current value; on the old code L1 answered.)
        held[2]?.answer([Buffer.from('new')]);
        assert.equal(text(await next), 'new', 'L1 served the value older than one the caller had read');
      } finally {
        for (const h of held.splice(0)) h.answer(h.keys.map(() => undefined));
        await cache.close();
      }
    });
  }

  it('keeps the L1 copy when both read the same value (a hot key read by getMany and get together)', async () => {
    const { l2, held } = heldL2();
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, l1Ttl: 60_000 });
    try {
      const batch = cache.getMany(['b']).then((v) => v[0]);
      await tick();
      const single = cache.get('b');
      await tick();
      held[1]!.answer([Buffer.from('same')]);
      held[0]!.answer([Buffer.from('same')]);
      assert.equal(text(await single), 'same');
      assert.equal(text(await batch), 'same');
      assert.equal(text(await cache.get('b')), 'same');
      assert.equal(held.length, 2, 'the next read is answered by L1');
    } finally {
      for (const h of held.splice(0)) h.answer(h.keys.map(() => undefined));
      await cache.close();
    }
  });
});

describeWithServers(
  'tiered cache: a cluster getMany sent in chunks and a get of one of its keys',
  skipRedis(),
  () => {
    let cluster: RedisCluster;
    const caches: TieredCache[] = [];
    before(async () => {
      cluster = await startRedisCluster();
    });
    after(async () => {
      for (const c of caches) await c.close().catch(() => {});
      await cluster?.stop();
    });

    it("never lets the getMany's caller read an older value from L1 next (20 rounds)", async () => {
      const addresses = cluster.nodes.map((n) => `127.0.0.1:${n.port}`);
      const make = () => {
        const l2 = createRedisCache({
          mode: 'cluster',
          addresses,
          keyPrefix: 'bfo:',
          commandTimeout: 10_000,
        });
        const cache = createTieredCache({
          l1: createMemoryCache({ maxCost: 1 << 24 }),
          l2,
          l2Timeout: 10_000,
          bus: createRedisInvalidationBus({ client: l2.client, channel: 'bfo:inv' }),
        });
        caches.push(cache);
        return cache;
      };
      const a = make();
      const b = make();
      await Promise.all([a.ready, b.ready]);
      // 1,001 keys in distinct slots below 5000 (one master's range in the harness's cluster): one
      // MGET per slot, more than the Redis cache's 1,000 commands per chunk, so the last goes out
      // at the next turn of the event loop.
      const keys: string[] = [];
      const used = new Set<number>();
      for (let i = 0; keys.length < 1001; i++) {
        const s = keySlot(`bfo:k${i}`);
        if (s < 5000 && !used.has(s)) {
          used.add(s);
          keys.push(`k${i}`);
        }
      }
      const backInTime: string[] = [];
      for (let round = 0; round < 20; round++) {
        let key = '';
        for (let i = 0; !key; i++) {
          const s = keySlot(`bfo:r${round}-${i}`);
          if (s < 5000 && !used.has(s)) key = `r${round}-${i}`;
        }
        await b.set(key, Buffer.from('v1'));
        let single: Promise<unknown> | undefined;
        let write: Promise<unknown> | undefined;
        // At the next turn: after the first chunk went out, before the one holding `key`.
        setImmediate(() => {
          single = a.get(key);
          write = b.set(key, Buffer.from('v2'));
        });
        const read = await a.getMany([...keys, key]);
        const seen = text(read[read.length - 1]);
        const next = text(await a.get(key));
        await Promise.all([single, write]);
        if (seen === 'v2' && next === 'v1') backInTime.push(`round ${round}`);
        await a.delete(key);
      }
      assert.deepEqual(backInTime, [], 'getMany read v2, then get read v1 from L1');
    });
  },
);
