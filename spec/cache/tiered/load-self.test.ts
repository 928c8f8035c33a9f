/**
 * A loader that calls `getOrSet` (or `getOrSetMany`) of a key its own load is loading, directly or
 * through the loader of another key: the inner call joined the load it runs in, and the two waited
 * for each other for good (or until `loadTimeout`), over memory levels and over Redis with a lease
 * alike. As on the memory and Redis caches, the inner call now rejects with `invalid_key` at once
 * (a call made before the loader's first `await`; `loadTimeout` bounds one made after). Another
 * instance asked for the key from that loader waits for this one's lease as for any holder: no
 * self-wait, it loads once `leaseWait` has passed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { Bytes } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { deferred } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const enc = (s: string): Bytes => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const selfWait = (e: unknown) =>
  e instanceof CacheError && e.code === 'invalid_key' && /would wait for itself/.test(e.message);
/** `p`, or a rejection after 10 s: before the fix the inner call never settled. */
const within = <T>(p: Promise<T>): Promise<T> =>
  Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('still waiting after 10 s')), 10_000).unref(),
    ),
  ]);

/** The cases every tiered cache must pass; `make` builds a fresh one. */
function selfLoadCases(make: () => TieredCache): void {
  it('getOrSet of the same key inside its loader rejects with invalid_key; the outer load stores', async () => {
    const t = make();
    let inner: unknown;
    const value = await within(
      t.getOrSet('a', async () => {
        inner = await t.getOrSet('a', async () => enc('inner')).catch((e: unknown) => e);
        return enc('outer');
      }),
    );
    assert.ok(selfWait(inner), String(inner));
    assert.equal(text(value), 'outer');
    assert.equal(text(await t.get('a')), 'outer');
    let withMeta: unknown;
    await within(
      t.getOrSetWithMeta('m', async () => {
        withMeta = await t.getOrSetWithMeta('m', async () => enc('x')).catch((e: unknown) => e);
        return enc('y');
      }),
    );
    assert.ok(selfWait(withMeta), String(withMeta));
  });

  it('also through the loader of another key (a loads b, whose loader asks for a)', async () => {
    const t = make();
    let inner: unknown;
    const a = await within(
      t.getOrSet('a', async () => {
        const b = await t.getOrSet('b', async () => {
          inner = await t.getOrSet('a', async () => enc('a-inner')).catch((e: unknown) => e);
          return enc('b');
        });
        return enc(`a+${text(b)}`);
      }),
    );
    assert.ok(selfWait(inner), String(inner));
    assert.equal(text(a), 'a+b');
  });

  it('getOrSetMany: its loadMany asking for one of its keys, and a loader asking for a batch with its key', async () => {
    const t = make();
    let inner: unknown;
    const values = await within(
      t.getOrSetMany(['x', 'y'], async (keys) => {
        inner = await t.getOrSet('y', async () => enc('inner')).catch((e: unknown) => e);
        return keys.map((k) => enc(k));
      }),
    );
    assert.ok(selfWait(inner), String(inner));
    assert.deepEqual(values.map(text), ['x', 'y']);

    let batch: unknown;
    const s = await within(
      t.getOrSet('s', async () => {
        batch = await t.getOrSetMany(['r', 's'], async (keys) => keys.map(enc)).catch((e: unknown) => e);
        return enc('s');
      }),
    );
    assert.ok(selfWait(batch), String(batch));
    assert.equal(text(s), 's');
    // Refused whole: nothing of it was loaded.
    assert.equal(await t.has('r'), false);
  });

  it('a refused getOrSetMany joins nothing: a key it would have joined failing later is no unhandled rejection', async () => {
    const t = make();
    const unhandled: unknown[] = [];
    const onRejection = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const loading = deferred<Bytes>();
      const x = t.getOrSet('x', () => loading.promise);
      x.catch(() => {});
      // x's flight is running (its loader called) before the batch asks for it.
      await new Promise((r) => setTimeout(r, 20));
      let inner: unknown;
      await within(
        t.getOrSet('a', async () => {
          inner = await t.getOrSetMany(['x', 'a'], async (keys) => keys.map(enc)).catch((e: unknown) => e);
          return enc('a');
        }),
      );
      assert.ok(selfWait(inner), String(inner));
      loading.reject(new Error('x failed'));
      await assert.rejects(x, /x failed/);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('other callers of the key still share the load', async () => {
    const t = make();
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return enc('shared');
    };
    const values = await within(Promise.all([t.getOrSet('s', loader), t.getOrSet('s', loader)]));
    assert.deepEqual(values.map(text), ['shared', 'shared']);
    assert.equal(calls, 1);
  });
}

describe('tiered getOrSet from its own loader (memory L1 over memory L2)', () => {
  const open: TieredCache[] = [];
  after(async () => {
    for (const t of open) await t.close();
  });
  selfLoadCases(() => {
    const t = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createMemoryCache({ maxCost: 1 << 20 }),
    });
    open.push(t);
    return t;
  });

  it('once the load settled, its key is no longer refused (a prefetch outliving the loader)', async () => {
    // L2 reads of q wait for the gate, so q's loader runs once p's load has failed.
    const gate = deferred();
    const l2 = createMemoryCache({ maxCost: 1 << 20 });
    const gated = new Proxy(l2, {
      get(target, prop) {
        if (prop === 'get')
          return async (key: string) => {
            if (key === 'q') await gate.promise;
            return target.get(key);
          };
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const t = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2: gated });
    open.push(t);
    let prefetch: Promise<Bytes> | undefined;
    const failed = new Error('p failed');
    await assert.rejects(
      within(
        t.getOrSet('p', async () => {
          // Started (not awaited) in p's loader; its own loader asks for p at once when it runs.
          prefetch = t.getOrSet('q', async () =>
            enc(`q+${text(await t.getOrSet('p', async () => enc('p2')))}`),
          );
          throw failed;
        }),
      ),
      failed,
    );
    gate.resolve();
    assert.equal(text(await within(prefetch!)), 'q+p2');
  });
});

describeWithServers('tiered getOrSet from its own loader (Redis L2 with a lease)', skipRedis(), () => {
  let redis: RedisStandalone;
  let unique = 0;
  const open: TieredCache[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const t of open) await t.close().catch(() => {});
    await redis?.stop();
  });
  const instance = (ns: string, leaseWait = 5_000) => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${ns}:` });
    const t = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      lease: createRedisLease({ client: l2.client }),
      leaseWait,
      leasePoll: 50,
    });
    open.push(t);
    return t;
  };

  selfLoadCases(() => instance(`self${++unique}`));

  it("another instance asked for the key from the loader waits for this one's lease, then loads (no self-wait)", async () => {
    const ns = `other${++unique}`;
    const a = instance(ns);
    const b = instance(ns, 300);
    let inner: Bytes | undefined;
    const value = await within(
      a.getOrSet('k', async () => {
        inner = await b.getOrSet('k', async () => enc('from-b'));
        return enc('from-a');
      }),
    );
    assert.equal(text(inner), 'from-b');
    assert.equal(text(value), 'from-a');
  });
});
