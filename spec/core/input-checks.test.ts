/**
 * The input checks every cache of ours runs are exported by `hyperion` (the core README names
 * them), so a custom `Cache` refuses bad input exactly as ours do. `assertWriteOptions` and
 * `assertBudgetOptions` were not exported: such a cache had to copy them or skip the checks.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as core from '../../lib/core/index.js';

const invalid = (code: string) => (e: unknown) => e instanceof core.CacheError && e.code === code;

it('hyperion exports the shared input checks, refusing what every cache refuses', () => {
  for (const name of ['assertKey', 'assertTtl', 'assertBytes', 'assertWriteOptions', 'assertBudgetOptions'])
    assert.equal(typeof (core as Record<string, unknown>)[name], 'function', name);
  assert.doesNotThrow(() => core.assertWriteOptions({ ifAbsent: true, timeout: 50 }));
  assert.doesNotThrow(() => core.assertWriteOptions(undefined));
  assert.throws(() => core.assertWriteOptions({ ifabsent: true }), invalid('invalid_value'));
  assert.throws(
    () => core.assertWriteOptions({ ifAbsent: true, ifEquals: new Uint8Array(1) }),
    invalid('invalid_value'),
  );
  assert.throws(() => core.assertWriteOptions({ timeout: -1 }), invalid('invalid_ttl'));
  assert.doesNotThrow(() => core.assertBudgetOptions({ timeout: 10 }));
  assert.throws(() => core.assertBudgetOptions({ ifAbsent: true }), invalid('invalid_value'));
});

// Found from outside: `set(key, bytes, ttl, { ifEquals: 'v1' })` was refused with "cache value
// must be a Uint8Array or Buffer, received string", about a value that was bytes.
it('an ifEquals that is not bytes is refused as ifEquals, not as the value, in every cache checking with it', async () => {
  const { createMemoryCache } = await import('../../lib/cache/memory/index.js');
  const { createTieredCache } = await import('../../lib/cache/tiered/index.js');
  const refused = (e: unknown) =>
    e instanceof core.CacheError &&
    e.code === 'invalid_value' &&
    e.message ===
      'set: ifEquals must be a Uint8Array or Buffer (the bytes the key must hold), received string';
  assert.throws(() => core.assertWriteOptions({ ifEquals: 'v1' }), refused);
  const caches = [
    core.createNoopCache(),
    createMemoryCache({ maxCost: 1024 }),
    createTieredCache({ l1: createMemoryCache({ maxCost: 1024 }), l2: createMemoryCache({ maxCost: 1024 }) }),
  ];
  for (const cache of caches) {
    await assert.rejects(
      cache.set('k', new Uint8Array([1]), undefined, { ifEquals: 'v1' as unknown as Uint8Array }),
      refused,
    );
    await cache.close?.();
  }
});
