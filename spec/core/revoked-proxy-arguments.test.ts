import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { CacheError, createNoopCache } from '../../lib/core/index.js';

// Input checks name the type of a bad argument (`typeName`); for a revoked Proxy, or a Proxy whose
// getPrototypeOf trap throws, naming it threw ("Cannot perform 'IsArray' on a proxy that has been
// revoked"), so the CacheError the check was raising came out as a raw TypeError.
describe('typed errors for arguments that are revoked or hostile proxies', () => {
  const revoked = () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return r.proxy;
  };
  const trapped = () =>
    new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
  for (const [what, make] of [
    ['a revoked Proxy', revoked],
    ['a Proxy whose getPrototypeOf throws', trapped],
  ] as const) {
    it(`cache calls given ${what} as key or TTL reject with a CacheError`, async () => {
      const memory = createMemoryCache({ maxCost: 1000 });
      for (const cache of [memory, createNoopCache()]) {
        await assert.rejects(
          cache.get(make() as never),
          (e) => e instanceof CacheError && e.code === 'invalid_key',
        );
        await assert.rejects(
          cache.set('k', new Uint8Array(1), make() as never),
          (e) => e instanceof CacheError && e.code === 'invalid_ttl',
        );
      }
      assert.throws(
        () => memory.sync.get(make() as never),
        (e) => e instanceof CacheError && e.code === 'invalid_key',
      );
      await memory.set('k', new Uint8Array([7]));
      assert.deepEqual(await memory.get('k'), new Uint8Array([7]));
      await memory.close();
    });
  }
});
