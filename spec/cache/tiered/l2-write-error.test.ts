/**
 * A write, delete or clear that an L2 of your own fails with an error that is not a CacheError (a
 * driver's TypeError) rejects with CacheError('backend') whose cause is that error. Its message
 * was "L2 write failed" for all of them — `delete('a')` and `clear()` too — naming neither the
 * operation nor the key; it now says `tiered cache: L2 delete of "a" failed`. Found from outside
 * with an L2 whose every method rejects.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/index.js';
import { fakeCache } from './fakes.js';

it('an L2 failure that is not a CacheError is CacheError backend naming the operation and key, its error as cause', async () => {
  const driver = new TypeError('driver exploded');
  const l2 = fakeCache('l2');
  const fail = async (): Promise<never> => {
    throw driver;
  };
  Object.assign(l2, { set: fail, setMany: fail, delete: fail, deleteMany: fail, clear: fail });
  const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1_000_000 }), l2, breaker: false });
  const v = new Uint8Array([1]);
  try {
    for (const [call, message] of [
      [() => cache.set('a', v), 'tiered cache: L2 set of "a" failed'],
      [() => cache.setMany([{ key: 'a', value: v }]), 'tiered cache: L2 setMany failed'],
      [() => cache.delete('a'), 'tiered cache: L2 delete of "a" failed'],
      [() => cache.deleteMany(['a', 'b']), 'tiered cache: L2 deleteMany failed'],
      [() => cache.clear(), 'tiered cache: L2 clear failed'],
    ] as const) {
      const err = await (call as () => Promise<unknown>)().then(
        () => assert.fail(`${message}: must reject`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CacheError, String(err));
      assert.equal(err.code, 'backend');
      assert.equal(err.message, message);
      assert.equal(err.cause, driver);
    }
  } finally {
    await cache.close();
  }
});
