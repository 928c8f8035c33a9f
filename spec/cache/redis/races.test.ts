/**
 * Issue 13 on a real standalone Redis: loads that race writes, writes that time out, a server that
 * was never reachable, errors that name their node, deleteMany. Each test failed on the code before
 * the fix (see the items in the test names).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { deferred } from '../../harness/clock.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, freePort, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

describeWithServers('redis cache races (issue 13)', skipRedis(), () => {
  let redis: RedisStandalone;
  const caches: RedisCache[] = [];
  const proxies: FaultProxy[] = [];
  const unhandled = watchUnhandled();
  let n = 0;
  const make = (opts: Parameters<typeof createRedisCache>[0] = {}) => {
    const c = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      commandTimeout: 2000,
      keyPrefix: `races-${++n}:`,
      ...opts,
    });
    caches.push(c);
    return c;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await Promise.allSettled(proxies.map((p) => p.close()));
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('item 1: a load never overwrites a set or a delete that happened while it ran', async () => {
    const cache = make();
    for (const write of ['set', 'delete', 'deleteMany', 'setMany', 'other client'] as const) {
      const key = `k-${write}`;
      const loading = deferred();
      const release = deferred();
      const pending = cache.getOrSet(key, async () => {
        loading.resolve();
        await release.promise;
        return enc('old');
      });
      await loading.promise;
      if (write === 'set') assert.equal(await cache.set(key, enc('new')), true);
      else if (write === 'setMany') await cache.setMany([{ key, value: enc('new') }]);
      else if (write === 'delete') await cache.delete(key);
      else if (write === 'deleteMany') await cache.deleteMany([key]);
      else {
        const other = make({ keyPrefix: cache.keyPrefix });
        await other.set(key, enc('new'));
      }
      release.resolve();
      assert.equal(dec(await pending), 'old', `${write}: the loader's caller gets its value`);
      const expected = write === 'delete' || write === 'deleteMany' ? undefined : 'new';
      assert.equal(dec(await cache.get(key)), expected, `${write}: the load did not overwrite it`);
    }
  });

  it('a load never overwrites a write or delete made through pipeline() or transaction() while it ran', async () => {
    // Found by an outside-in audit: only set/setMany/delete/deleteMany/clear marked the loads in
    // flight, so a pipelined or transactional delete during a load was undone by the load's store
    // (NX sees an absent key), and callers after it joined the superseded load.
    const cache = make();
    const writes = {
      'pipeline delete': (k: string) => cache.pipeline().delete(k).exec(),
      'pipeline set': (k: string) => cache.pipeline().set(k, enc('new')).exec(),
      'transaction delete': (k: string) => cache.transaction((tx) => void tx.delete(k)),
      'transaction set': (k: string) => cache.transaction((tx) => void tx.set(k, enc('new'))),
      'transaction expire': (k: string) => cache.transaction((tx) => void tx.expire(k, 60_000)),
    };
    for (const [write, run] of Object.entries(writes)) {
      const key = `pt-${write.replace(' ', '-')}`;
      const loading = deferred();
      const release = deferred();
      const pending = cache.getOrSet(key, async () => {
        loading.resolve();
        await release.promise;
        return enc('old');
      });
      await loading.promise;
      await run(key);
      // A caller arriving after the write starts its own load rather than join the superseded one.
      const later = cache.getOrSet(key, async () => enc('later'));
      release.resolve();
      assert.equal(dec(await pending), 'old', `${write}: the loader's caller gets its value`);
      const expectedLater = write.endsWith('set') ? 'new' : 'later';
      assert.equal(dec(await later), expectedLater, `${write}: a caller after the write`);
      const now = dec(await cache.get(key));
      assert.notEqual(now, 'old', `${write}: the superseded load was not stored`);
      await cache.delete(key);
    }
  });

  it('item 2: a set that timed out never lands after a newer acknowledged write', async () => {
    const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    proxies.push(proxy);
    const prefix = `late-${++n}:`;
    const a = make({ addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: 200, keyPrefix: prefix });
    const b = make({ keyPrefix: prefix });
    await a.set('k', enc('v1'));
    await b.get('k');
    proxy.delay = 600;
    await rejectsWith(a.set('k', enc('v2')), 'timeout');
    assert.equal(await b.set('k', enc('v3')), true);
    assert.equal(dec(await b.get('k')), 'v3');
    // A's delayed SET reaches Redis ~600 ms after it was sent: it must not take effect. A command
    // A sends after it travels the same connection, so once it answered the SET was processed.
    await waitFor(() => proxy.held === 0, { timeoutMs: 5000, what: 'the delayed SET to be forwarded' });
    proxy.delay = 0;
    await a.get('k').catch(() => undefined);
    assert.equal(dec(await b.get('k')), 'v3', 'the timed-out v2 did not overwrite v3');
    // A still works once the network is healthy again.
    await waitFor(async () => (await a.set('k', enc('v4')).catch(() => false)) === true, {
      timeoutMs: 5000,
      what: 'a set through the healed proxy',
    });
    assert.equal(dec(await b.get('k')), 'v4');
  });

  it('item 2 under clock skew: client clock 10 s ahead or behind, writes apply and a late one is refused', async () => {
    const realNow = Date.now;
    for (const skew of [10_000, -10_000]) {
      Date.now = () => realNow() + skew;
      try {
        const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
        proxies.push(proxy);
        const prefix = `skew-${++n}:`;
        const a = make({ addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: 200, keyPrefix: prefix });
        const b = make({ keyPrefix: prefix });
        // The offset is measured before the first write: a write that arrives in time is applied.
        assert.equal(await a.set('k', enc('v1')), true, `skew ${skew}: an in-time write applies`);
        proxy.delay = 600;
        await rejectsWith(a.set('k', enc('v2')), 'timeout');
        assert.equal(await b.set('k', enc('v3')), true);
        await waitFor(() => proxy.held === 0, { timeoutMs: 5000, what: 'the delayed SET to be forwarded' });
        proxy.delay = 0;
        await a.get('k').catch(() => undefined);
        assert.equal(dec(await b.get('k')), 'v3', `skew ${skew}: the late v2 was refused`);
      } finally {
        Date.now = realNow;
      }
    }
  });

  // A delete reaches Redis ~600 ms after it was sent (through a delaying proxy), after the caller
  // was told it timed out (commandTimeout 200) and after another instance's acknowledged set of
  // the same key: it must not remove that newer value. Before deletes were deadline-guarded, the
  // late UNLINK landed and the key read as a miss (and another instance's getOrSet, storing with
  // NX, could then bring an older value back).
  const deletes = {
    delete: (c: RedisCache, keys: string[]) => c.delete(keys[0]!),
    deleteMany: (c: RedisCache, keys: string[]) => c.deleteMany(keys),
    'pipeline delete': (c: RedisCache, keys: string[]) => {
      const p = c.pipeline();
      for (const k of keys) p.delete(k);
      return p.exec();
    },
  };
  async function lateDelete(kind: keyof typeof deletes, label: string) {
    const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    proxies.push(proxy);
    const prefix = `late-del-${++n}:`;
    const a = make({ addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: 200, keyPrefix: prefix });
    const b = make({ keyPrefix: prefix });
    const keys = kind === 'delete' ? ['k'] : ['k', 'l', 'm'];
    await a.setMany(keys.map((key) => ({ key, value: enc('v1') })));
    const errorsBefore = a.stats().errors;
    proxy.delay = 600;
    await rejectsWith(deletes[kind](a, keys), 'timeout');
    assert.equal(a.stats().errors, errorsBefore + 1, `${label}: the timeout was counted once`);
    await b.setMany(keys.map((key) => ({ key, value: enc('v3') })));
    // A command A sends after the delete travels the same connection: once it answered, the late
    // delete was processed.
    await waitFor(() => proxy.held === 0, { timeoutMs: 5000, what: 'the delayed delete to be forwarded' });
    proxy.delay = 0;
    await a.get('k').catch(() => undefined);
    assert.deepEqual(
      (await b.getMany(keys)).map(dec),
      keys.map(() => 'v3'),
      `${label}: the timed-out delete did not remove the newer values`,
    );
    // In time again, the same delete applies and reports what it removed.
    await waitFor(async () => (await deletes[kind](a, keys).catch(() => 'failed')) !== 'failed', {
      timeoutMs: 5000,
      what: `${label}: a delete through the healed proxy`,
    });
    assert.deepEqual(
      (await b.getMany(keys)).map(dec),
      keys.map(() => undefined),
      `${label}: applied in time`,
    );
  }

  for (const kind of Object.keys(deletes) as (keyof typeof deletes)[]) {
    it(`a ${kind} that timed out never lands after a newer acknowledged set`, () => lateDelete(kind, kind));
  }

  it("a delete's own budget (options.timeout) is its deadline: a late one is refused, and without it applies", async () => {
    const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    proxies.push(proxy);
    const prefix = `budget-del-${++n}:`;
    // The command timeout (5 s) outlasts the proxy's delay: only the caller's budget can refuse.
    const a = make({ addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: 5000, keyPrefix: prefix });
    const b = make({ keyPrefix: prefix });
    const calls = {
      delete: (timeout?: number) => a.delete('k', timeout === undefined ? undefined : { timeout }),
      deleteMany: (timeout?: number) =>
        a.deleteMany(['k', 'l'], timeout === undefined ? undefined : { timeout }),
    };
    for (const [label, call] of Object.entries(calls)) {
      await b.setMany(['k', 'l'].map((key) => ({ key, value: enc('v1') })));
      proxy.delay = 600;
      await rejectsWith(call(200), 'timeout');
      assert.deepEqual(
        (await b.getMany(['k', 'l'])).map(dec),
        ['v1', 'v1'],
        `${label}: refused past its budget`,
      );
      assert.ok(
        Number(await call()) > 0,
        `${label}: within the command timeout, the same delayed delete applies`,
      );
      proxy.delay = 0;
      assert.deepEqual(
        (await b.getMany(['k', 'l'])).map(dec),
        label === 'delete' ? [undefined, 'v1'] : [undefined, undefined],
        label,
      );
      for (const bad of [0, -1, Number.NaN, '5' as unknown as number])
        await rejectsWith(call(bad), 'invalid_ttl');
    }
  });

  it("clear()'s UNLINK rounds carry a deadline too: a round that reaches Redis after it removes nothing", async () => {
    const prefix = `late-clear-${++n}:`;
    const a = make({ commandTimeout: 200, keyPrefix: prefix });
    const b = make({ keyPrefix: prefix });
    const keys = Array.from({ length: 50 }, (_, i) => `c${i}`);
    await b.setMany(keys.map((key) => ({ key, value: enc('v1') })));
    await a.get('warm-up'); // the clock offset is measured
    // Redis holds write commands for 600 ms (reads, the SCAN, go on): the UNLINK round runs after
    // its deadline. (This test used to step the client's wall clock back 10 s instead; deadlines
    // are counted on the monotonic clock now, so such a step no longer moves them: deadline.test.ts.)
    const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    admin.on('error', () => {});
    try {
      await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
      await rejectsWith(a.clear(), 'timeout');
      // A write paused after the round runs after it, once the pause ends.
      await b.set('after-the-round', enc('x'));
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => {});
      admin.disconnect();
    }
    assert.deepEqual(
      (await b.getMany(keys)).map(dec),
      keys.map(() => 'v1'),
      'the refused round removed nothing',
    );
    await a.clear();
    assert.deepEqual(
      (await b.getMany(keys)).map(dec),
      keys.map(() => undefined),
      'in time, clear removes them',
    );
  });

  it('a late delete is refused under clock skew too: client clock 10 s ahead or behind', async () => {
    const realNow = Date.now;
    for (const skew of [10_000, -10_000]) {
      Date.now = () => realNow() + skew;
      try {
        await lateDelete('delete', `skew ${skew}`);
      } finally {
        Date.now = realNow;
      }
    }
  });

  it('in-time deletes report what they removed: delete, deleteMany, pipeline delete', async () => {
    const cache = make();
    await cache.setMany(['a', 'b', 'c', 'd'].map((key) => ({ key, value: enc(key) })));
    assert.equal(await cache.delete('a'), true);
    assert.equal(await cache.delete('a'), false);
    assert.equal(await cache.deleteMany(['b', 'c', 'missing', 'b']), 2);
    assert.deepEqual(await cache.pipeline().delete('d').delete('d').delete('none').exec(), [
      true,
      false,
      false,
    ]);
    assert.deepEqual((await cache.getMany(['a', 'b', 'c', 'd'])).map(dec), [
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    // Many keys in one delete: the script loops over KEYS (Lua's unpack would fail on this many).
    const many = Array.from({ length: 20_000 }, (_, i) => `many${i}`);
    await cache.setMany(many.slice(0, 100).map((key) => ({ key, value: enc('x') })));
    assert.equal(await cache.deleteMany(many), 100);
  });

  it('item 8: getOrSet fails fast once the first wait for a never-reachable Redis ran out', async () => {
    const port = await freePort();
    const cache = make({ addresses: [`127.0.0.1:${port}`], commandTimeout: 300 });
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = performance.now();
      assert.equal(dec(await cache.getOrSet('k', () => enc('fallback'))), 'fallback');
      times.push(performance.now() - start);
    }
    console.log(`# getOrSet against a never-reachable Redis: ${times.map((t) => t.toFixed(0)).join('/')} ms`);
    assert.ok(times[0]! < 550, `first call waits one commandTimeout, not two (${times[0]} ms)`);
    for (const t of times.slice(1)) assert.ok(t < 150, `later calls fail fast (${t} ms)`);
  });

  it('item 9: errors for a closed port name the address and carry the cause', async () => {
    const port = await freePort();
    const cache = make({ addresses: [`127.0.0.1:${port}`], commandTimeout: 300 });
    const err = await rejectsWith(cache.get('k'), 'unavailable', 'timeout');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`), err.message);
    assert.ok(err.cause instanceof Error, `cause is the connection error (${String(err.cause)})`);
    assert.match(String((err.cause as Error).message), /ECONNREFUSED/);
    const again = await rejectsWith(cache.set('k', enc('v')), 'unavailable', 'timeout');
    assert.match(again.message, new RegExp(`:${port}`));
    assert.ok(again.cause instanceof Error);
  });

  it('item 9: a command error from the server names the node and keeps the reply as cause', async () => {
    const cache = make();
    const raw = new Redis({ port: redis.port, host: redis.host });
    raw.on('error', () => {});
    try {
      await raw.config('SET', 'maxmemory', '1');
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      const err = await rejectsWith(cache.set('big', enc('x'.repeat(1000))), 'oom');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${redis.port}`));
      assert.ok(err.cause instanceof Error);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
      raw.disconnect();
    }
  });

  it('item 11: deleteMany removes every given key in one call and counts those that existed', async () => {
    const cache = make();
    await cache.setMany([
      { key: 'a', value: enc('1') },
      { key: 'b', value: enc('2') },
      { key: 'c', value: enc('3') },
    ]);
    assert.equal(await cache.deleteMany(['a', 'b', 'missing', 'a']), 2);
    assert.deepEqual((await cache.getMany(['a', 'b', 'c'])).map(dec), [undefined, undefined, '3']);
    assert.equal(await cache.deleteMany([]), 0);
    await rejectsWith(cache.deleteMany(['ok', 's\uD800']), 'invalid_key');
  });

  it('item 3: keys with a lone surrogate are rejected, so two of them never collide', async () => {
    const cache = make();
    for (const key of ['s\uD800', 's\uDBFF', '\uDC00x']) {
      await rejectsWith(cache.set(key, enc('v')), 'invalid_key');
      await rejectsWith(cache.get(key), 'invalid_key');
      await rejectsWith(
        cache.getOrSet(key, () => enc('v')),
        'invalid_key',
      );
    }
    assert.equal(await cache.set('ok\uD83D\uDE00', enc('emoji')), true, 'a surrogate pair is fine');
    assert.ok(new CacheError('invalid_key', 'x') instanceof Error);
  });
});
