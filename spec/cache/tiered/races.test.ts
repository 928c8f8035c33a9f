/**
 * Issue 13 for the tiered cache: loads that race writes (here and on another instance), writes the
 * caller was told failed, one time budget per call against a hung L2, deleteMany, and keys the two
 * levels would disagree on. Each test failed on the code before the fix.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { decodeEnvelope } from '../../../lib/cache/tiered/envelope.js';
import { createTieredCache, type TieredCacheOptions } from '../../../lib/cache/tiered/index.js';
import type { Cache, InvalidationBus } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { sleep } from '../../../lib/core/timeout.js';
import { deferred } from '../../harness/clock.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { busHub, bytes, fakeCache, text } from './fakes.js';

/**
 * The L2 budget of the "one budget, not two" tests, and the bound they assert: under two budgets
 * with room for a loaded machine's late timers and event-loop stalls (150 ms with a 250 ms bound
 * left 100 ms for them; 400 ms with a 700 ms bound left 300 ms, and one 350 ms stall of the event
 * loop — a GC pause, a descheduled process — failed `setMany` at 744 ms). 1 s with a 1.9 s bound
 * leaves 900 ms; two budgets still fail it.
 */
const BUDGET = 1000;
const TWO_BUDGETS_LESS = 2 * BUDGET - 100;
const memory = () => createMemoryCache({ maxCost: 1 << 20 });
const inL2 = async (l2: Cache, key: string) => text(decodeEnvelope((await l2.get(key))!)?.value);

async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('tiered cache races (issue 13)', () => {
  it('item 1: a load does not store over a set that was in flight when it finished', async () => {
    // L2 applies a write when it is sent (as Redis does, in order) but the reply of the first
    // write is held back: the set is still in flight when the loader returns.
    const base = memory();
    const replyHeld = deferred();
    let holdNext = false;
    const l2: Cache = {
      ...base,
      async set(key, value, ttl, options) {
        const hold = holdNext;
        holdNext = false;
        const stored = await base.set(key, value, ttl, options);
        if (hold) await replyHeld.promise;
        return stored;
      },
    };
    const cache = createTieredCache({ l1: memory(), l2, breaker: false });
    const loading = deferred();
    const release = deferred();
    const pending = cache.getOrSet('k', async () => {
      loading.resolve();
      await release.promise;
      return bytes('old');
    });
    await loading.promise;
    holdNext = true;
    const writing = cache.set('k', bytes('new'));
    release.resolve();
    assert.equal(text(await pending), 'old', "the loader's caller gets its value");
    replyHeld.resolve();
    assert.equal(await writing, true);
    assert.equal(await inL2(base, 'k'), 'new', 'L2 kept the write');
    assert.equal(text(await cache.get('k')), 'new');
  });

  it('item 1: a load does not store over a delete, here or on another instance', async () => {
    const l2 = memory();
    const hub = busHub();
    const a = createTieredCache({ l1: memory(), l2, bus: hub.bus(), instanceId: 'A' });
    const b = createTieredCache({ l1: memory(), l2, bus: hub.bus(), instanceId: 'B' });
    await Promise.all([a.ready, b.ready]);
    for (const [writer, write] of [
      ['A deletes', () => a.delete('d1')],
      ['A deleteMany', () => a.deleteMany(['d2'])],
      ['B sets', () => b.set('d3', bytes('new'))],
    ] as const) {
      const key = writer === 'A deletes' ? 'd1' : writer === 'A deleteMany' ? 'd2' : 'd3';
      await b.set(key, bytes('before'));
      await a.delete(key);
      const loading = deferred();
      const release = deferred();
      const pending = a.getOrSet(key, async () => {
        loading.resolve();
        await release.promise;
        return bytes('old');
      });
      await loading.promise;
      await write();
      release.resolve();
      assert.equal(text(await pending), 'old');
      const expected = writer === 'B sets' ? 'new' : undefined;
      assert.equal(text(await a.get(key)), expected, `${writer}: A's L1`);
      assert.equal(text(await b.get(key)), expected, `${writer}: B`);
    }
  });

  it('item 1: another instance writing during a load wins in L2 (conditional store)', async () => {
    const l2 = memory();
    const a = createTieredCache({ l1: memory(), l2 }); // no bus: only L2 can tell
    const b = createTieredCache({ l1: memory(), l2 });
    const loading = deferred();
    const release = deferred();
    const pending = a.getOrSet('k', async () => {
      loading.resolve();
      await release.promise;
      return bytes('old');
    });
    await loading.promise;
    await b.set('k', bytes('new'));
    release.resolve();
    await pending;
    assert.equal(await inL2(l2, 'k'), 'new');
    assert.equal(text(await b.get('k')), 'new');
  });

  it('item 7: a getOrSet miss against a hung L2 waits one l2Timeout, not two', async () => {
    const l2 = fakeCache('l2');
    l2.mode = 'hang';
    const cache = createTieredCache({ l1: memory(), l2, l2Timeout: BUDGET, breaker: false });
    const start = performance.now();
    assert.equal(text(await cache.getOrSet('k', () => bytes('v'))), 'v');
    const took = performance.now() - start;
    assert.ok(took < TWO_BUDGETS_LESS, `one budget (${BUDGET} ms), took ${took.toFixed(0)} ms`);
    // The read spent the budget: no L2 store is tried (none is left running either).
    assert.equal(cache.stats().backgroundWrites, 0);
    assert.equal(cache.stats().l2Errors, 1);
  });

  // Found by the tracking model under faults (tracking-model.test.ts): a loaded value's L2 store
  // left running in the background was delayed by the network and landed after a delete another
  // instance made once the caller had the value. The store is now awaited, within what the read
  // left of the miss's one L2 budget, and carries that as its deadline.
  it('a getOrSet miss returns only once its L2 store settled, which gets what the read left of the budget', async () => {
    for (const batch of [false, true]) {
      const l2 = fakeCache('l2');
      const storing = deferred();
      const gate = deferred();
      const budgets: (number | undefined)[] = [];
      l2.set = async (_k, _v, _ttl, opts) => {
        budgets.push(opts?.timeout);
        storing.resolve();
        await gate.promise;
        return true;
      };
      l2.setMany = async (_entries, opts) => {
        budgets.push(opts?.timeout);
        storing.resolve();
        await gate.promise;
      };
      const cache = createTieredCache({ l1: memory(), l2, l2Timeout: 10_000, breaker: false });
      let returned = false;
      const loading = (
        batch ? cache.getOrSetMany(['k'], () => [bytes('v')]) : cache.getOrSet('k', () => bytes('v'))
      ).then(() => {
        returned = true;
      });
      await storing.promise;
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      assert.equal(returned, false, `${batch ? 'getOrSetMany' : 'getOrSet'} waits for its L2 store`);
      gate.resolve();
      await loading;
      assert.equal(budgets.length, 1);
      assert.ok(
        budgets[0] !== undefined && budgets[0] > 0 && budgets[0] <= 10_000,
        `the store's deadline is what is left of the budget (${budgets[0]})`,
      );
      await cache.close();
    }
  });

  it('item 7: a getOrSetMany miss against a hung L2 waits one l2Timeout, not two', async () => {
    const l2 = fakeCache('l2');
    l2.mode = 'hang';
    const cache = createTieredCache({ l1: memory(), l2, l2Timeout: BUDGET, breaker: false });
    const start = performance.now();
    const values = await cache.getOrSetMany(['x', 'y'], (keys) => keys.map((k) => bytes(k)));
    const took = performance.now() - start;
    assert.deepEqual(values.map(text), ['x', 'y']);
    assert.ok(took < TWO_BUDGETS_LESS, `one budget (${BUDGET} ms), took ${took.toFixed(0)} ms`);
    assert.equal(cache.stats().backgroundWrites, 0, 'the read spent the budget: no L2 store');
  });

  it('item 7: a rejected set with a hung L2 and a hung bus waits one budget', async () => {
    const l2 = fakeCache('l2');
    l2.mode = 'hang';
    const bus: InvalidationBus = {
      publish: () => new Promise(() => {}),
      subscribe: async () => () => {},
      close: async () => {},
    };
    const cache = createTieredCache({ l1: memory(), l2, l2Timeout: BUDGET, breaker: false, bus });
    await cache.ready;
    for (const [op, call] of [
      ['set', () => cache.set('k', bytes('v'))],
      ['delete', () => cache.delete('k')],
      ['deleteMany', () => cache.deleteMany(['k'])],
      ['setMany', () => cache.setMany([{ key: 'k', value: bytes('v') }])],
    ] as const) {
      const start = performance.now();
      await rejectsCode(call(), 'timeout');
      const took = performance.now() - start;
      assert.ok(took < TWO_BUDGETS_LESS, `${op}: one budget (${BUDGET} ms), took ${took.toFixed(0)} ms`);
    }
  });

  it("deletes pass their budget to L2 (l2Timeout, or the caller's shorter options.timeout), as sets do", async () => {
    const l2 = fakeCache('l2');
    const seen: unknown[] = [];
    const { delete: del, deleteMany } = l2;
    l2.delete = (key, opts) => {
      seen.push(opts);
      return del(key);
    };
    l2.deleteMany = (keys, opts) => {
      seen.push(opts);
      return deleteMany(keys);
    };
    const cache = createTieredCache({ l1: memory(), l2, l2Timeout: 300, breaker: false });
    await cache.delete('a');
    await cache.delete('a', { timeout: 100 });
    await cache.delete('a', { timeout: 1000 });
    await cache.deleteMany(['a', 'b']);
    await cache.deleteMany(['a', 'b'], { timeout: 50 });
    // L2 refuses a delete past this budget (the Redis cache's server-side deadline): one reported as
    // timed out never lands later over a newer write.
    assert.deepEqual(seen, [
      { timeout: 300 },
      { timeout: 100 },
      { timeout: 300 },
      { timeout: 300 },
      { timeout: 50 },
    ]);
    for (const bad of [0, -5, Number.NaN]) {
      await rejectsCode(cache.delete('a', { timeout: bad }), 'invalid_ttl');
      await rejectsCode(cache.deleteMany(['a'], { timeout: bad }), 'invalid_ttl');
    }
    assert.equal(seen.length, 5, 'a bad budget reaches no level');
    await cache.close();
  });

  it('item 11: deleteMany drops the keys from both levels and from the other instances', async () => {
    const l2 = memory();
    const hub = busHub();
    const a = createTieredCache({ l1: memory(), l2, bus: hub.bus(), instanceId: 'A' });
    const b = createTieredCache({ l1: memory(), l2, bus: hub.bus(), instanceId: 'B' });
    await Promise.all([a.ready, b.ready]);
    await a.setMany([
      { key: 'x', value: bytes('1') },
      { key: 'y', value: bytes('2') },
      { key: 'z', value: bytes('3') },
    ]);
    assert.deepEqual((await b.getMany(['x', 'y', 'z'])).map(text), ['1', '2', '3']);
    assert.equal(await a.deleteMany(['x', 'y', 'nope', 'x']), 2);
    assert.deepEqual((await b.getMany(['x', 'y', 'z'])).map(text), [undefined, undefined, '3']);
    assert.deepEqual(hub.published.at(-1), { origin: 'A', keys: ['x', 'y', 'nope'] });
  });

  it('item 3: keys with a lone surrogate are refused before either level sees them', async () => {
    const l1 = fakeCache('l1');
    const l2 = fakeCache('l2');
    const cache = createTieredCache({ l1, l2 } as TieredCacheOptions);
    for (const key of ['s\uD800', 's\uDBFF']) {
      await rejectsCode(cache.set(key, bytes('v')), 'invalid_key');
      await rejectsCode(cache.get(key), 'invalid_key');
      await rejectsCode(
        cache.getOrSet(key, () => bytes('v')),
        'invalid_key',
      );
      await rejectsCode(cache.getMany([key]), 'invalid_key');
    }
    assert.deepEqual([...l1.calls, ...l2.calls], []);
  });
});

describeWithServers('tiered cache: a timed-out L2 write (issue 13 item 2)', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    for (const close of closers) await close().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  it('never overwrites a newer acknowledged write once the caller was told it failed', async () => {
    const tiered = (l2: Cache) => {
      const c = createTieredCache({ l1: memory(), l2, l2Timeout: 200, breaker: false });
      closers.push(() => c.close());
      return c;
    };
    // L2's own commandTimeout (3 s default) is far longer than the tiered l2Timeout.
    const redisAt = (port: number) =>
      createRedisCache({ addresses: [`127.0.0.1:${port}`], keyPrefix: 'late:' });
    const aL2 = redisAt(proxy.port);
    const bL2 = redisAt(redis.port);
    // Connected and the server clock measured before the 200 ms budgets start (on a loaded machine
    // a fresh cache's first write — connect, TIME, script load — exceeded it and failed the test).
    await Promise.all([aL2.get('warm'), bL2.get('warm')]);
    const a = tiered(aL2);
    const b = tiered(bL2);
    await a.set('k', bytes('v1'));
    proxy.delay = 600;
    await rejectsCode(a.set('k', bytes('v2')), 'timeout');
    assert.equal(await b.set('k', bytes('v3')), true);
    // A's SET reaches Redis ~600 ms after it was sent; a later read by A on the same connection
    // answers only after Redis processed it.
    await waitFor(() => proxy.held === 0, { timeoutMs: 5000, what: 'the delayed SET to be forwarded' });
    proxy.delay = 0;
    await aL2.get('k').catch(() => undefined);
    // An empty L1: reads L2. A fresh connection (connect, clock measurement) with a budget of its
    // own: within A's 200 ms it timed out under coverage on a loaded machine and read a miss.
    const c = createTieredCache({ l1: memory(), l2: redisAt(redis.port), l2Timeout: 5000, breaker: false });
    closers.push(() => c.close());
    assert.equal(text(await c.get('k')), 'v3', 'the timed-out v2 never landed over v3');
  });

  // Found by the faulted model test (seed 870581875): a set that first waited for the Redis
  // connection (the cache's readiness gate) was sent with a deadline counted from the moment it
  // left that wait, so it landed long after the tiered caller had been told it timed out — and
  // after a newer delete. The deadline must count from the call.
  it('a write that timed out while waiting for a reconnect never lands after a newer delete', async () => {
    const directL2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'gate:' });
    const aL2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'gate:',
      commandTimeout: 2000,
    });
    closers.push(() => directL2.close());
    const a = createTieredCache({ l1: memory(), l2: aL2, l2Timeout: 100, breaker: false });
    closers.push(() => a.close());
    const b = createTieredCache({ l1: memory(), l2: directL2, l2Timeout: 1000, breaker: false });
    closers.push(() => b.close());
    // Connected, server clock measured. Under load the first connection through the proxy and
    // the first clock measurement can outlast A's 100 ms budget (the set is then refused with
    // `timeout`, as it should be): repeat until one lands; the test is about what follows.
    await waitFor(
      () =>
        a.set('k', bytes('v1')).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 5000, what: 'a first set through the proxy' },
    );
    try {
      // The connection goes down and cannot come back while bytes are dropped (the ready check
      // gets no answer): A's next set waits in the readiness gate.
      proxy.dropping = true;
      proxy.cut();
      await waitFor(() => aL2.client.status !== 'ready', { timeoutMs: 5000, what: 'A to see the cut' });
      await rejectsCode(a.set('k', bytes('v2')), 'timeout');
      // Told it failed, the application deletes the key through another instance.
      assert.equal(await b.delete('k'), true);
      await sleep(150);
    } finally {
      proxy.dropping = false; // A reconnects; the waiting SET is sent now
    }
    await waitFor(async () => (await aL2.health()).ok, { timeoutMs: 5000, what: 'A to reconnect' });
    await sleep(100);
    await aL2.get('k').catch(() => undefined); // after any SET A still sent on that connection
    assert.equal(await directL2.get('k'), undefined, 'the timed-out v2 never landed after the delete');
  });

  // Found by the faulted model test (seed 870581875, path 232): the background L2 store of a
  // loaded value waited for the Redis cache's first server clock measurement, while a `clear()`
  // called after it went straight to Redis — so the store landed after the clear had been
  // acknowledged and the cleared value was served again. Every command now waits for that
  // measurement in call order.
  it('a SET held back for the first clock measurement is not overtaken by a later delete', async () => {
    const directL2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'order:' });
    closers.push(() => directL2.close());
    await directL2.set('k', bytes('old'));
    proxy.delay = 150; // the handshake and the first TIME reach Redis late
    try {
      const aL2 = createRedisCache({
        addresses: [`127.0.0.1:${proxy.port}`],
        keyPrefix: 'order:',
        commandTimeout: 3000,
      });
      closers.push(() => aL2.close());
      await once(aL2.client, 'ready'); // its clock is not measured yet
      const set = aL2.set('k', bytes('new'));
      await aL2.delete('k');
      assert.equal(await set, true);
      await aL2.get('k'); // after every command A sent
    } finally {
      proxy.delay = 0;
    }
    assert.equal(await directL2.get('k'), undefined, 'the delete called after the set wins');
  });
});
