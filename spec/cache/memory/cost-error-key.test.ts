import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';

// `invalid_cost` named no key while `too_large` did: a setMany of many entries refused whole for
// one entry's cost, or the warning of a loaded value left uncached, did not say which entry.
const invalidCostOf = (key: string, received: string) => (e: unknown) =>
  e instanceof CacheError &&
  e.code === 'invalid_cost' &&
  e.message === `cost of ${JSON.stringify(key)} must be a finite number ≥ 0, received ${received}`;

describe('memory cache: an unusable cost names the key it was for', () => {
  it('setMany refused whole for one entry: the error names that entry', async () => {
    const cache = createMemoryCache({ maxCost: 1000, cost: (v) => (v.length === 3 ? Number.NaN : v.length) });
    const entries = Array.from({ length: 10 }, (_, i) => ({
      key: `user:${i}`,
      value: new Uint8Array(i === 7 ? 3 : 5),
    }));
    await assert.rejects(cache.setMany(entries), invalidCostOf('user:7', 'NaN'));
    assert.equal(cache.sync.size, 0, 'nothing stored');
    await assert.rejects(cache.set('user:7', new Uint8Array(3)), invalidCostOf('user:7', 'NaN'));
    await cache.close();
  });

  it('the sync face: set, a per-call cost of getOrSet, and a cost function returning a non-number', async () => {
    const cache = createSyncMemoryCache<string>({
      maxCost: 100,
      cost: (v) => (v === 's' ? ('5' as never) : 1),
    });
    assert.throws(() => cache.set('k', 'v', { cost: -1 }), invalidCostOf('k', '-1'));
    await assert.rejects(
      cache.getOrSet('g', async () => 'v', { cost: Number.NaN }),
      invalidCostOf('g', 'NaN'),
    );
    assert.throws(() => cache.set('s', 's'), invalidCostOf('s', 'string'));
    cache.close();
  });

  it('a loaded value left uncached for its cost: the one-time warning names the key', async () => {
    const cache = createMemoryCache({ maxCost: 1000, cost: () => -1 });
    const warned = once(process, 'warning');
    const value = await cache.getOrSet('report:42', async () => new Uint8Array(2));
    assert.equal(value.length, 2, 'the caller gets its value');
    const [warning] = (await warned) as [Error & { code?: string }];
    assert.equal(warning.code, 'HYPERION_MEMORY_INVALID_COST');
    assert.equal(
      warning.message,
      'memory cache: a loaded value was not cached: cost of "report:42" must be a finite number ≥ 0, received -1',
    );
    await cache.close();
  });

  it('a cost function that throws for a loaded value: the warning names the key', async () => {
    const cache = createMemoryCache({
      maxCost: 1000,
      cost: () => {
        throw new Error('no size');
      },
    });
    const warned = once(process, 'warning');
    await cache.getOrSet('report:43', async () => new Uint8Array(2));
    const [warning] = (await warned) as [Error & { code?: string }];
    assert.equal(warning.code, 'HYPERION_MEMORY_INVALID_COST');
    assert.equal(
      warning.message,
      'memory cache: a loaded value was not cached: the cost function threw for "report:43": no size',
    );
    await cache.close();
  });
});
