import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import type { Cache } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { createNoopCache } from '../../../lib/core/noop.js';

// From JavaScript, `setMany([{ key, value, tll: 1000 }])` stored the entry without expiry and
// resolved as a success: the misspelt `ttl` was ignored, as `set`'s misspelt options used to be.
describe('setMany refuses an entry field it does not know when the entry gives no ttl', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const caches: [string, () => Cache][] = [
    ['memory', () => createMemoryCache({ maxCost: 1 << 20 })],
    ['no-op', () => createNoopCache()],
  ];
  for (const [name, make] of caches) {
    it(`${name}: a misspelt ttl is invalid_value naming the field, the key and the nearest field; nothing is stored`, async () => {
      const cache = make();
      await assert.rejects(
        cache.setMany([
          { key: 'a', value: bytes, ttl: 60_000 },
          { key: 'b', value: bytes, tll: 1000 } as never,
        ]),
        (e: unknown) =>
          e instanceof CacheError &&
          e.code === 'invalid_value' &&
          e.message ===
            'setMany: field `tll` of the entry of "b" is not a known entry field; did you mean `ttl`? (an entry is { key, value, ttl? })',
      );
      assert.equal(await cache.has('a'), false, 'refused whole: the entry before it is not stored');
      assert.equal(await cache.has('b'), false);
      // `{ key, value }`, `{ key, value, ttl }` and `{ key, value, ttl: undefined }` are entries.
      await cache.setMany([
        { key: 'c', value: bytes },
        { key: 'd', value: bytes, ttl: 60_000 },
        { key: 'e', value: bytes, ttl: undefined },
      ]);
      if (name === 'memory') assert.deepEqual(await cache.getMany(['c', 'd', 'e']), [bytes, bytes, bytes]);
      await cache.close?.();
    });
  }
});
