import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createMemoryCache,
  createSyncMemoryCache,
  type EvictReason,
} from '../../../lib/cache/memory/index.js';
import { createApp } from '../../../lib/core/app.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { deferred } from '../../harness/clock.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const code = (c: string) => (err: unknown) => err instanceof CacheError && err.code === c;

describe('memory cache: synchronous face', () => {
  it('gets what was set, deletes, has, overwrites', () => {
    const c = createSyncMemoryCache<{ n: number }>({ maxCost: 100 });
    const v = { n: 1 };
    assert.equal(c.set('a', v), true);
    assert.equal(c.get('a'), v, 'same object, no copy');
    assert.equal(c.has('a'), true);
    assert.equal(c.set('a', { n: 2 }), true);
    assert.deepEqual(c.get('a'), { n: 2 });
    assert.equal(c.size, 1);
    assert.equal(c.delete('a'), true);
    assert.equal(c.delete('a'), false);
    assert.equal(c.get('a'), undefined);
    assert.equal(c.has('a'), false);
    c.close();
  });

  it('charges the byte length by default, the cost function or the per-set cost otherwise', () => {
    const c = createSyncMemoryCache<unknown>({ maxCost: 1000 });
    c.set('bytes', new Uint8Array(10));
    c.set('text', 'héllo'); // 6 UTF-8 bytes
    c.set('object', { any: 'thing' }); // 1
    c.set('given', 'x', { cost: 40 });
    assert.equal(c.cost, 10 + 6 + 1 + 40);
    const weighed = createSyncMemoryCache<number[]>({ maxCost: 100, cost: (v) => v.length });
    weighed.set('list', [1, 2, 3]);
    assert.equal(weighed.cost, 3);
    c.close();
    weighed.close();
  });

  it('clear() drops everything and the cache stays usable', () => {
    const c = createSyncMemoryCache<number>({ maxCost: 10, cost: () => 1, defaultTtl: 60_000 });
    for (let i = 0; i < 5; i++) c.set(`k${i}`, i);
    c.clear();
    assert.equal(c.size, 0);
    assert.equal(c.cost, 0);
    assert.equal(c.get('k1'), undefined);
    c.set('k1', 1);
    assert.equal(c.get('k1'), 1);
    c.close();
  });

  it('keys() lists the keys held now, as a snapshot that deleting while iterating does not disturb', () => {
    const c = createSyncMemoryCache<number>({ maxCost: 100, cost: () => 1 });
    for (let i = 0; i < 5; i++) c.set(`k${i}`, i);
    c.delete('k2');
    const keys = c.keys();
    assert.deepEqual([...keys].sort(), ['k0', 'k1', 'k3', 'k4']);
    for (const k of keys) if (k !== 'k4') c.delete(k);
    assert.deepEqual(c.keys(), ['k4']);
    assert.equal(c.get('k4'), 4);
    c.close();
    assert.throws(() => c.keys(), code('closed'));
  });

  it('close() is idempotent and later calls throw CacheError closed', () => {
    const c = createSyncMemoryCache<number>({ maxCost: 10 });
    c.set('a', 1);
    c.close();
    c.close();
    assert.throws(() => c.get('a'), code('closed'));
    assert.throws(() => c.set('a', 1), code('closed'));
  });
});

describe('memory cache: bad input', () => {
  it('rejects maxCost ≤ 0 (and other bad options) with a ConfigError naming the field', () => {
    for (const maxCost of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, undefined, '10']) {
      assert.throws(
        () => createSyncMemoryCache({ maxCost } as never),
        (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path === 'maxCost'),
      );
    }
    assert.throws(
      () => createMemoryCache({ maxCost: 10, numCounters: -5, defaultTtl: 0 }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.map((i) => i.path).join() === 'numCounters,defaultTtl' &&
        /numCounters/.test(err.message),
    );
  });

  it('throws typed errors for bad keys, TTLs and costs on the sync face', () => {
    const c = createSyncMemoryCache<unknown>({ maxCost: 100 });
    for (const key of [1, null, undefined, {}, ''])
      assert.throws(() => c.get(key as never), code('invalid_key'));
    assert.throws(() => c.set(7 as never, 'x'), code('invalid_key'));
    for (const ttl of [Number.NaN, -1, 0, Number.POSITIVE_INFINITY, '5'])
      assert.throws(() => c.set('k', 'x', { ttl: ttl as never }), code('invalid_ttl'));
    for (const cost of [Number.NaN, -1, Number.POSITIVE_INFINITY, '3'])
      assert.throws(() => c.set('k', 'x', { cost: cost as never }), code('invalid_cost'));
    const badFn = createSyncMemoryCache<string>({ maxCost: 100, cost: () => Number.NaN });
    assert.throws(() => badFn.set('k', 'x'), code('invalid_cost'));
    assert.equal(c.size, 0, 'nothing was stored by a failed set');
    c.close();
    badFn.close();
  });

  it('rejects a value costlier than maxCost with too_large and a reason', () => {
    const c = createSyncMemoryCache<Uint8Array>({ maxCost: 100 });
    assert.throws(
      () => c.set('big', new Uint8Array(101)),
      (err: unknown) => code('too_large')(err) && /101.*maxCost 100/.test((err as Error).message),
    );
    assert.equal(c.set('fits', new Uint8Array(100)), true);
    c.close();
  });

  it('byte face: a value costlier than maxCost rejects too_large; setMany checks every entry before storing any', async () => {
    // The checks every cache shares are in the conformance suite (memory.conformance.test.ts).
    const c = createMemoryCache({ maxCost: 100 });
    await assert.rejects(c.set('k', new Uint8Array(500)), code('too_large'));
    await assert.rejects(
      c.setMany([
        { key: 'a', value: bytes('a') },
        { key: 'b', value: 5 as never },
      ]),
      code('invalid_value'),
    );
    assert.equal(await c.has('a'), false, 'setMany validates every entry before storing any');
    await c.close();
  });
});

describe('memory cache: byte face', () => {
  it('drops into createApp, shares its entries with the sync face, and is closed by app.close()', async () => {
    // The Cache contract itself: memory.conformance.test.ts.
    const cache = createMemoryCache({ maxCost: 1 << 20 });
    assert.equal(cache.name, 'memory');
    const app = createApp({ cache });
    assert.equal(await app.ctx.cache.set('a', bytes('alpha')), true);
    assert.equal(text(await app.cache.get('a')), 'alpha');
    assert.equal(text(cache.sync.get('a')), 'alpha', 'the sync face sees the same entries');
    cache.sync.set('b', bytes('beta'));
    assert.equal(text(await cache.get('b')), 'beta', 'and the byte face sees its writes');
    await app.close();
    await assert.rejects(cache.get('b'), code('closed'), 'app.close() closed the cache');
  });

  it('metrics: false hides stats from the byte face', async () => {
    const on = createMemoryCache({ maxCost: 100 });
    const off = createMemoryCache({ maxCost: 100, metrics: false });
    assert.equal(typeof on.stats, 'function');
    assert.equal(off.stats, undefined);
    await off.get('x');
    assert.deepEqual(off.sync.stats(), { hits: 0, misses: 1, hitRatio: 0 });
    await on.close();
    await off.close();
  });
});

describe('memory cache: getOrSet on the sync face', () => {
  it('delivers a loader error to every caller and does not cache it', async () => {
    const c = createSyncMemoryCache<number>({ maxCost: 100 });
    let calls = 0;
    const release = deferred();
    const failing = async () => {
      calls++;
      await release.promise;
      throw new Error('backend down');
    };
    // A miss joins the flight synchronously, so every caller is waiting once they are all called.
    const callers = Array.from({ length: 50 }, () => c.getOrSet('k', failing));
    release.resolve();
    const settled = await Promise.allSettled(callers);
    assert.equal(calls, 1);
    assert.ok(settled.every((s) => s.status === 'rejected' && /backend down/.test(String(s.reason))));
    assert.equal(c.has('k'), false);
    assert.equal(await c.getOrSet('k', () => 5), 5);
    assert.equal(c.get('k'), 5);
    c.close();
  });

  it('returns a too-large loaded value without caching it', async () => {
    const c = createSyncMemoryCache<Uint8Array>({ maxCost: 4 });
    const v = await c.getOrSet('k', () => new Uint8Array(10));
    assert.equal(v.byteLength, 10);
    assert.equal(c.has('k'), false);
    c.close();
  });
});

describe('memory cache: onEvict and stats', () => {
  it('reports capacity evictions and rejections with values, and counts them', () => {
    const events: [string, number, EvictReason, number][] = [];
    const c = createSyncMemoryCache<number>({
      maxCost: 10,
      cost: () => 1,
      onEvict: (key, value, reason, cost) => events.push([key, value, reason, cost]),
    });
    for (let i = 0; i < 10; i++) {
      c.set(`k${i}`, i);
      c.get(`k${i}`);
      c.get(`k${i}`);
    }
    for (let i = 100; i < 150; i++) c.set(`k${i}`, i); // one-time keys
    assert.ok(c.cost <= 10);
    assert.ok(events.length >= 40, `${events.length} events`);
    for (const [key, value, reason, cost] of events) {
      assert.equal(key, `k${value}`);
      assert.ok(reason === 'capacity' || reason === 'rejected');
      assert.equal(cost, 1);
    }
    const s = c.stats();
    assert.equal(s.hits, 20);
    assert.equal(s.misses, 0);
    assert.equal(s.hitRatio, 1);
    assert.equal(s.keysAdded, 60);
    assert.equal(s.costAdded, 60);
    assert.equal((s.keysEvicted ?? 0) + (s.keysRejected ?? 0), events.length);
    assert.equal(s.costEvicted, s.keysEvicted);
    assert.equal(c.size + events.length, 60, 'every added key is resident or was reported');
    c.close();
  });

  it('survives an onEvict that throws (reported as a warning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const c = createSyncMemoryCache<number>({
      maxCost: 3,
      cost: () => 1,
      onEvict: () => {
        throw new Error('hook failed');
      },
    });
    for (let i = 0; i < 20; i++) c.set(`k${i}`, i);
    assert.ok(c.cost <= 3);
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    assert.ok(warnings.some((w) => /hook failed/.test(w)));
    c.close();
  });

  it('reports the evicted key with its own value, even when onEvict writes to the cache', () => {
    // Entries live in reusable slots: a report must never see a slot's next tenant.
    const seen: [string, string][] = [];
    let c: ReturnType<typeof createSyncMemoryCache<string>> | undefined;
    c = createSyncMemoryCache<string>({
      maxCost: 8,
      cost: () => 1,
      onEvict: (key, value) => {
        seen.push([key, value]);
        if (seen.length % 3 === 0) c?.set(`echo:${key}`, `echo:${value}`);
      },
    });
    const random = rng(5);
    for (let i = 0; i < 2_000; i++) {
      const k = `k${Math.floor(random() * 40)}`;
      if (c.get(k) === undefined) c.set(k, `v:${k}`);
      assert.ok(c.cost <= 8);
    }
    assert.ok(seen.length > 100);
    for (const [key, value] of seen) {
      // `echo:echo:k1` holds `echo:echo:v:k1`.
      const base = key.replace(/^(echo:)*/, '');
      assert.equal(value, `${key.slice(0, key.length - base.length)}v:${base}`);
    }
    for (let i = 0; i < 40; i++) {
      const got: string | undefined = c.get(`k${i}`);
      if (got !== undefined) assert.equal(got, `v:k${i}`);
    }
    c.close();
  });

  it('counts misses and hit ratio', () => {
    const c = createSyncMemoryCache<number>({ maxCost: 10 });
    c.get('a');
    c.set('a', 1);
    c.get('a');
    c.get('a');
    c.get('b');
    const s = c.stats();
    assert.equal(s.hits, 2);
    assert.equal(s.misses, 2);
    assert.equal(s.hitRatio, 0.5);
    c.close();
  });
});

describe('memory cache: policy behaviour', () => {
  it('a hot set survives a one-time scan 10× the cache size', () => {
    const c = createSyncMemoryCache<number>({ maxCost: 1000, cost: () => 1 });
    const random = rng(3);
    const read = (k: string) => {
      if (c.get(k) === undefined) c.set(k, 1);
    };
    for (let i = 0; i < 20_000; i++) read(`hot${Math.floor(random() * 500)}`);
    for (let i = 0; i < 10_000; i++) read(`scan${i}`);
    let kept = 0;
    for (let i = 0; i < 500; i++) if (c.has(`hot${i}`)) kept++;
    assert.ok(kept >= 450, `only ${kept}/500 hot keys survived the scan`);
    c.close();
  });

  it('stays bounded by maxCost under a flood of unique keys', () => {
    const c = createSyncMemoryCache<Uint8Array>({ maxCost: 4096 });
    const random = rng(9);
    for (let i = 0; i < 100_000; i++) {
      c.set(`flood:${i}`, new Uint8Array(Math.floor(random() * 64)));
      if (c.cost > 4096) assert.fail(`cost ${c.cost} after ${i} sets`);
    }
    assert.ok(c.size <= 4096);
    c.close();
  });

  it('matches a simple model under random operations (values, deletes, TTLs, cost bound)', () => {
    let clock = 1_000_000;
    const maxCost = 40;
    const c = createSyncMemoryCache<string>({
      maxCost,
      now: () => clock,
      cost: (v) => Number(v.split(':')[2]),
    });
    const model = new Map<string, { value: string; expireAt: number }>();
    const random = rng(2024);
    let serial = 0;
    for (let step = 0; step < 20_000; step++) {
      const key = `k${Math.floor(random() * 60)}`;
      const op = random();
      if (op < 0.5) {
        const got = c.get(key);
        if (got !== undefined) {
          const m = model.get(key);
          assert.ok(m, `step ${step}: ${key} returned ${got} but was never set or was deleted`);
          assert.equal(got, m.value, `step ${step}: stale or foreign value`);
          assert.ok(m.expireAt === 0 || m.expireAt > clock, `step ${step}: expired value returned`);
        }
      } else if (op < 0.85) {
        const cost = 1 + Math.floor(random() * 6);
        const value = `${key}:${serial++}:${cost}`;
        const ttl = random() < 0.3 ? 1 + Math.floor(random() * 5_000) : undefined;
        c.set(key, value, { ttl });
        model.set(key, { value, expireAt: ttl === undefined ? 0 : clock + ttl });
      } else if (op < 0.95) {
        c.delete(key);
        model.delete(key);
      } else {
        clock += Math.floor(random() * 2_000);
      }
      assert.ok(c.cost <= maxCost, `step ${step}: cost ${c.cost} > ${maxCost}`);
      if (c.has(key)) assert.equal(c.get(key), model.get(key)?.value);
    }
    c.close();
  });
});
