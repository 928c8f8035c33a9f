/**
 * A level's own `stats()` under a tiered cache's `has` and conditional `set`. Both read the
 * levels with `get`, so every `has` counted an L1 hit or miss and an L2 miss on the levels' own
 * counters (what the demo's per-layer hit ratio panels read), and bumped the key's frequency in a
 * memory L1; a refused `ifAbsent` counted an L2 hit. They now read a memory level with
 * `sync.peek` and a Redis level with `peek`, which count nothing; `get` still counts as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache, CacheStats } from '../../../lib/core/contracts.js';
import { manualClock } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const enc = (s: string) => Buffer.from(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const counts = (c: { stats?: (() => CacheStats) | undefined }) => {
  const s = c.stats!();
  return { hits: s.hits, misses: s.misses };
};

async function check(l2: Cache, clock: ReturnType<typeof manualClock>): Promise<void> {
  const l1 = createMemoryCache({ maxCost: 1 << 20, now: clock.now });
  const tiered = createTieredCache({ l1, l2, now: clock.now, grace: 60_000 });
  try {
    await tiered.set('a', enc('1'), 60_000);
    await tiered.set('old', enc('1'), 100);
    const before = { l1: counts(l1), l2: counts(l2) };
    assert.equal(await tiered.has('a'), true); // an L1 copy
    assert.equal(await tiered.has('missing'), false); // L1 and L2 miss
    await l1.delete('a');
    assert.equal(await tiered.has('a'), true); // L2 only
    assert.equal(await tiered.set('a', enc('2'), 60_000, { ifAbsent: true }), false); // refused by L2
    clock.advance(200);
    assert.equal(await tiered.has('old'), false); // past its TTL, kept for grace
    // Refused by L2's NX, then read to find the expired entry it replaces.
    assert.equal(await tiered.set('old', enc('2'), 60_000, { ifAbsent: true }), true);
    assert.deepEqual({ l1: counts(l1), l2: counts(l2) }, before, 'has and ifAbsent counted reads on a level');
    // A get is still counted where it is served.
    await l1.delete('a');
    assert.equal(text(await tiered.get('a')), '1');
    assert.deepEqual(counts(l1), { hits: before.l1.hits, misses: before.l1.misses + 1 });
    assert.deepEqual(counts(l2), { hits: before.l2.hits + 1, misses: before.l2.misses });
  } finally {
    await tiered.close();
  }
}

describe("tiered has and ifAbsent leave a memory level's stats alone", () => {
  it('memory L1 and memory L2', async () => {
    const clock = manualClock();
    await check(createMemoryCache({ maxCost: 1 << 20, now: clock.now }), clock);
  });
});

describeWithServers("tiered has and ifAbsent leave a Redis L2's stats alone", skipRedis(), () => {
  let redis: RedisStandalone;
  let l2: RedisCache;
  const newL2 = () => createRedisCache({ addresses: [`${redis.host}:${redis.port}`] });
  before(async () => {
    redis = await startRedis({});
  });
  after(async () => {
    await l2?.close();
    await redis?.stop();
  });

  it('memory L1 and Redis L2', async () => {
    await check(newL2(), manualClock()); // closed with the tiered cache
  });

  it("the Redis cache's peek reads as get does, counting nothing", async () => {
    l2 = newL2();
    await l2.set('p', enc('v'));
    const before = counts(l2);
    assert.equal(text(await l2.peek('p')), 'v');
    assert.equal(await l2.peek('nope'), undefined);
    assert.deepEqual(counts(l2), before);
    await assert.rejects(l2.peek(1 as never), { code: 'invalid_key' });
  });
});
