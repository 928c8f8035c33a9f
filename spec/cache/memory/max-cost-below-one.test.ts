/**
 * A byte cache whose `maxCost` is below 1. Each byte costs 1 at the default cost, so
 * `createMemoryCache({ maxCost: 0.5 })` and a config file's `max_cost: 0.5` built a cache that
 * refused every write but of an empty value (`too_large`), found only at the first `set`. Both are
 * now refused at creation, naming the option; a fraction stays valid where costs below 1 exist.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { loadConfigFromText, memoryOptionsFromConfig } from '../../../lib/config/index.js';
import { ConfigError } from '../../../lib/core/errors.js';

const paths = (e: unknown) => (e as ConfigError).issues.map((i) => i.path);

describe('memory cache: maxCost below 1', () => {
  it('createMemoryCache at the default cost refuses it, naming maxCost', () => {
    for (const maxCost of [0.5, 0.999, 1e-9]) {
      assert.throws(
        () => createMemoryCache({ maxCost }),
        (e: unknown) =>
          e instanceof ConfigError &&
          paths(e).includes('maxCost') &&
          /maxCost below 1/.test(e.message) &&
          e.message.includes(String(maxCost)),
      );
    }
  });

  it('stays valid with a cost function, and on the sync face, which holds one entry', async () => {
    const cache = createMemoryCache({ maxCost: 0.5, cost: () => 0.25 });
    assert.equal(await cache.set('a', new Uint8Array([1])), true);
    assert.deepEqual(await cache.get('a'), new Uint8Array([1]));
    await cache.close();
    const sync = createSyncMemoryCache<string>({ maxCost: 0.5 });
    assert.equal(sync.set('a', 'x', { cost: 0.5 }), true);
    assert.equal(sync.get('a'), 'x');
    sync.close();
  });

  it('a maxCost of 1 holds a one-byte value', async () => {
    const cache = createMemoryCache({ maxCost: 1 });
    assert.equal(await cache.set('a', new Uint8Array([7])), true);
    assert.deepEqual(await cache.get('a'), new Uint8Array([7]));
    await cache.close();
  });

  it("a config file's max_cost below 1 is refused at load, naming the field", () => {
    assert.throws(
      () => loadConfigFromText('cache: { type: memory, max_cost: 0.5 }'),
      (e: unknown) => e instanceof ConfigError && paths(e).includes('cache.max_cost'),
    );
    assert.throws(
      () =>
        loadConfigFromText(
          'cache: { type: tiered, l1: { type: memory, max_cost: 0.5 }, l2: { type: memory, max_cost: 100 } }',
        ),
      (e: unknown) => e instanceof ConfigError && paths(e).includes('cache.l1.max_cost'),
    );
    const config = loadConfigFromText('cache: { type: memory, max_cost: 1 }');
    assert.deepEqual(memoryOptionsFromConfig(config.cache as never), { maxCost: 1 });
  });
});
