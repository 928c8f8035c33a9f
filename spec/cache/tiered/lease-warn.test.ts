/**
 * A loader lease that cannot be taken (its store down or connecting, an ACL refusing the lease keys)
 * means every instance loads its misses itself. That was silent (only counted in `l2Errors`), so a
 * lease that never worked went unnoticed; it is now one warning, then at most one per minute.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { LoaderLease, Logger } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';

describe('tiered lease that cannot be taken', () => {
  it('loads locally, and says so once in a rate-limited warning', async () => {
    const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn(message: string, fields?: Record<string, unknown>) {
        warnings.push({ message, fields });
      },
    } as unknown as Logger;
    let acquires = 0;
    const lease: LoaderLease = {
      async acquire() {
        acquires++;
        throw new CacheError('unavailable', 'redis lease acquire failed: the client is not connected');
      },
    };
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1_000_000 }),
      l2: createMemoryCache({ maxCost: 1_000_000 }),
      lease,
      logger,
    });
    try {
      let loads = 0;
      for (let i = 0; i < 5; i++) {
        const value = await cache.getOrSet(`k${i}`, async () => {
          loads++;
          return new Uint8Array([i]);
        });
        assert.deepEqual([...value], [i]);
      }
      assert.equal(acquires, 5);
      assert.equal(loads, 5);
      const about = warnings.filter((w) => /lease/.test(w.message));
      assert.equal(about.length, 1, JSON.stringify(warnings));
      assert.match(String(about[0]!.fields?.error), /not connected/);
    } finally {
      await cache.close();
    }
  });
});
