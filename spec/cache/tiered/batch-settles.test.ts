/**
 * `getOrSetMany` settles only once the load it started has: a batch with one key joined to another
 * caller's failing load and another key of its own rejected as soon as the joined load failed,
 * while its own batch was still reading L2 — and then called the caller's `loadMany` and stored its
 * result after the caller had been told the call failed (a loader run after its request was over:
 * a request-scoped connection already released, a span already ended). Found by the tiered model
 * (modes-model.test.ts, seed 1184653708 on Node 24: a value loaded after the call rejected was
 * never recorded as a load). Now the call waits for every key, then rejects with the first error.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { sleep } from '../../../lib/core/timeout.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

/** An in-memory L2 whose multi-key reads answer `ms` late (our own ordering logic is under test). */
function slowManyReads(ms: number) {
  const base = createMemoryCache({ maxCost: 1 << 20 });
  return new Proxy(base, {
    get(target, p) {
      const v = Reflect.get(target, p);
      if (typeof v !== 'function') return v;
      if (typeof p === 'string' && p.startsWith('getMany'))
        return async (...args: unknown[]) => {
          await sleep(ms);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      return v.bind(target);
    },
  });
}

it('getOrSetMany rejects only after its own loadMany ran, never calls it afterwards', async () => {
  const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2: slowManyReads(60) });
  try {
    // 'b' is being loaded by another caller; its load fails before the batch's L2 read answers.
    const other = cache.getOrSet('b', async () => {
      await sleep(5);
      throw new Error('loading b failed');
    });
    other.catch(() => {});
    let settled = false;
    const calls: { keys: readonly string[]; afterSettled: boolean }[] = [];
    const batch = cache.getOrSetMany(['b', 'c'], async (keys) => {
      calls.push({ keys, afterSettled: settled });
      return keys.map((k) => Buffer.from(`${k}!`));
    });
    const outcome = batch.then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    void outcome.finally(() => {
      settled = true;
    });
    assert.equal(await outcome, 'loading b failed', "the joined key's error is the call's");
    assert.deepEqual(
      calls,
      [{ keys: ['c'], afterSettled: false }],
      'its own key was loaded before it settled',
    );
    // Nothing of the call is left running: a later loadMany call would show up here.
    await sleep(100);
    assert.equal(calls.length, 1);
    assert.equal(text(await cache.get('c')), 'c!', "the batch's own key was stored");
  } finally {
    await cache.close();
  }
});

it('getOrSetMany whose own load fails while a joined key succeeds rejects with its own error', async () => {
  const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2: slowManyReads(20) });
  try {
    const other = cache.getOrSet('b', async () => {
      await sleep(5);
      return Buffer.from('B');
    });
    await assert.rejects(
      cache.getOrSetMany(['b', 'c'], async () => {
        throw new Error('loading c failed');
      }),
      /loading c failed/,
    );
    assert.equal(text(await other), 'B');
  } finally {
    await cache.close();
  }
});
