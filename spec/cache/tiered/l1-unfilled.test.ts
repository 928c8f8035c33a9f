/**
 * A value that should replace a key's L1 copy but does not enter L1 must not leave the older copy
 * there. Found from outside (a memory L1 with a small `maxCost`, and a TTL edge value): a `set`
 * whose value L1 refused (`too_large`) or whose TTL ran out before its L2 write was acknowledged
 * returned normally, but the previous value stayed in L1 and `get` served it — a value the
 * acknowledged write had superseded — for that copy's whole life.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache } from '../../../lib/core/contracts.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tiered cache: a value that does not enter L1 drops the older L1 copy', () => {
  it('set of a value larger than L1’s maxCost: get returns it (from L2), not the previous value', async () => {
    const l2 = createMemoryCache({ maxCost: 1 << 20 });
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 100 }), l2 });
    try {
      await cache.set('k', Buffer.from('small'));
      assert.equal(text(await cache.get('k')), 'small');
      const big = 'B'.repeat(200);
      await cache.set('k', Buffer.from(big));
      assert.equal(text(await cache.get('k')), big);
      assert.equal(text(await cache.getOrSet('k', async () => Buffer.from('loaded'))), big);
    } finally {
      await cache.close();
    }
  });

  it('set whose TTL ran out during its L2 write: get misses, it does not return the previous value', async () => {
    const l2 = createMemoryCache({ maxCost: 1 << 20 });
    // An L2 whose writes take 5 ms (a round trip): longer than the 1 ms TTL below.
    const slow: Cache = {
      ...l2,
      name: l2.name,
      set: async (...args: Parameters<Cache['set']>) => {
        await sleep(5);
        return l2.set(...args);
      },
    };
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: slow,
      grace: 0,
      jitter: 0,
    });
    try {
      await cache.set('k', Buffer.from('old'), 60_000);
      assert.equal(text(await cache.get('k')), 'old');
      await cache.set('k', Buffer.from('new'), 1);
      const got = text(await cache.get('k'));
      assert.notEqual(got, 'old', 'the value the acknowledged set replaced was served from L1');
      assert.equal(got, undefined);
    } finally {
      await cache.close();
    }
  });
});
