/**
 * `set(key, value, ttl, { ifAbsent: true })` on a key past its TTL that `grace` still keeps in
 * L2 (tiered audit, tried from outside): `get` missed and `has` said false, yet the set resolved
 * `false` and stored nothing, for the whole grace window — L2's `ifAbsent` saw the stale
 * envelope as a value. Now the set replaces exactly those stale bytes (compare-and-set); a fresh
 * value, a foreign one, or one another instance wrote in between still wins.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { manualClock } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const enc = (s: string) => Buffer.from(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const ifAbsent = { ifAbsent: true } as const;

/** The cases on any L2; `l2()` makes a new L2 handle on one shared store. */
async function cases(l2: () => Cache, clock: ReturnType<typeof manualClock>) {
  const tiered = (l2c: Cache) =>
    createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20, now: clock.now }),
      l2: l2c,
      now: clock.now,
      grace: 60_000,
    });
  const cache = tiered(l2());
  try {
    await cache.set('k', enc('old'), 100);
    clock.advance(200);
    assert.equal(await cache.get('k'), undefined);
    assert.equal(await cache.has('k'), false);
    assert.equal(await cache.set('k', enc('new'), 60_000, ifAbsent), true, 'expired: absent to ifAbsent');
    assert.equal(text(await cache.get('k')), 'new');
    assert.equal(await cache.set('k', enc('newer'), 60_000, ifAbsent), false, 'a fresh value is a value');
    assert.equal(text(await cache.get('k')), 'new');
    assert.equal(await cache.set('gone', enc('1'), 60_000, ifAbsent), true, 'absent: stored as before');
  } finally {
    await cache.close();
  }
}

describe('tiered set ifAbsent over a value kept only for grace (memory L2)', () => {
  it('stores over the expired entry, never over a fresh one', async () => {
    const clock = manualClock();
    const store = createMemoryCache({ maxCost: 1 << 20, now: clock.now });
    await cases(() => store, clock);
  });

  it('a value another instance wrote between the refusal and the replacement wins', async () => {
    const clock = manualClock();
    const store = createMemoryCache({ maxCost: 1 << 20, now: clock.now });
    let hook: (() => Promise<unknown>) | undefined;
    // L2 whose next read lets another instance write right after reading. Without its `sync`
    // face (whose `peek` the tiered cache reads L2 with, counting nothing) it is read with `get`.
    const racing = new Proxy(store, {
      get(target, p) {
        if (p === 'sync') return undefined;
        if (p === 'get')
          return async (key: string) => {
            const v = await target.get(key);
            const h = hook;
            hook = undefined;
            await h?.();
            return v;
          };
        const v = Reflect.get(target, p);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const make = (l2: Cache) =>
      createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2, now: clock.now, grace: 60_000 });
    const a = make(racing);
    const b = make(store);
    try {
      await a.set('k', enc('old'), 100);
      clock.advance(200);
      hook = () => b.set('k', enc('theirs'), 60_000);
      assert.equal(await a.set('k', enc('mine'), 60_000, ifAbsent), false);
      assert.equal(text(await a.get('k')), 'theirs');
      assert.equal(hook, undefined, 'the race ran');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describeWithServers('tiered set ifAbsent over a value kept only for grace (Redis L2)', skipRedis(), () => {
  let redis: RedisStandalone;
  let plain: Redis;
  const open: Cache[] = [];
  before(async () => {
    redis = await startRedis();
    plain = new Redis({ host: '127.0.0.1', port: redis.port });
  });
  after(async () => {
    for (const c of open) await c.close?.().catch(() => {});
    plain?.disconnect();
    await redis?.stop();
  });
  const l2 = (prefix: string) => () => {
    const c = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
    open.push(c);
    return c;
  };

  it('stores over the expired entry, never over a fresh one', async () => {
    await cases(l2('ia1:'), manualClock());
  });

  it('a value another program wrote (no envelope) is a value', async () => {
    await plain.set('ia2:k', 'foreign');
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: l2('ia2:')(),
      grace: 60_000,
    });
    try {
      assert.equal(await cache.set('k', enc('mine'), 60_000, ifAbsent), false);
      assert.equal(await plain.get('ia2:k'), 'foreign');
    } finally {
      await cache.close();
    }
  });

  // Found from outside (docs audit): the read that looks for an expired entry after L2 refused
  // the write met WRONGTYPE, and the set rejected with that read's error ("redis get failed …").
  it('a key another program made a list is a value: false, not a get error', async () => {
    await plain.rpush('ia3:k', 'x');
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: l2('ia3:')(),
      grace: 60_000,
    });
    try {
      assert.equal(await cache.get('k'), undefined, 'reads call it a miss');
      assert.equal(await cache.set('k', enc('mine'), 60_000, ifAbsent), false);
      assert.equal(await plain.type('ia3:k'), 'list');
      assert.equal(cache.breakerState(), 'closed');
    } finally {
      await cache.close();
    }
  });
});

/**
 * The same disagreement for a key whose L2 value is passed over as possibly older (README: a value
 * loaded while L2 did not answer is in L1 only; `get` and `has` miss the L2 value until L2 is
 * known to hold nothing older). Found from outside (docs audit): once the loaded L1 copy was gone,
 * `get` missed and `has` said false, yet `set(…, { ifAbsent: true })` resolved `false`, stored
 * nothing, and the key went on reading absent. Now ifAbsent calls that L2 value absent as reads
 * do (replacing exactly its bytes), but not while L1 still serves the loaded copy.
 */
describe('tiered set ifAbsent over an L2 value passed over as possibly older', () => {
  it('is refused while L1 serves the loaded copy, stored once reads call the key absent', async () => {
    const store = createMemoryCache({ maxCost: 1 << 20 });
    let down = false;
    // L2 that can be taken down: every call rejects as during an outage.
    const l2 = new Proxy(store, {
      get(target, p) {
        const v = Reflect.get(target, p);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) =>
          down ? Promise.reject(new CacheError('unavailable', 'L2 down')) : v.apply(target, args);
      },
    });
    const l1 = createMemoryCache({ maxCost: 1 << 20 });
    const cache = createTieredCache({ l1, l2, breaker: false });
    try {
      await cache.set('k', enc('old'), 60_000);
      await l1.delete('k');
      down = true;
      assert.equal(text(await cache.getOrSet('k', async () => enc('new'), 60_000)), 'new');
      down = false;
      assert.equal(text(await cache.get('k')), 'new', 'the loaded copy, from L1');
      assert.equal(await cache.set('k', enc('mine'), 60_000, ifAbsent), false, 'L1 serves a value');
      // That refusal dropped the L1 copy; L2 still holds 'old', which reads pass over.
      assert.equal(await cache.get('k'), undefined);
      assert.equal(await cache.has('k'), false);
      assert.equal(await cache.set('k', enc('mine'), 60_000, ifAbsent), true, 'absent to reads: absent');
      assert.equal(text(await cache.get('k')), 'mine');
      assert.equal(await cache.has('k'), true);
    } finally {
      await cache.close();
    }
  });
});
