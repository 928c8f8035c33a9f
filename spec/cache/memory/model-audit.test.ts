/**
 * Memory-cache defects found by the documented-semantics model audit (a fast-check model of a Map
 * with TTL and cost accounting driven through the public API); each test failed before its fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';

/** Detaches `bytes`' ArrayBuffer, as a transfer to a worker does (Node 20 has no `transfer()`). */
const detach = (bytes: Uint8Array) =>
  structuredClone(bytes.buffer, { transfer: [bytes.buffer as ArrayBuffer] });

describe('memory cache: ifEquals against a detached entry', () => {
  it('compares a detached value as the 0 bytes get() returns, instead of throwing a TypeError', async () => {
    const cache = createMemoryCache({ maxCost: 1000 });
    const stored = new Uint8Array([1, 2, 3]);
    await cache.set('k', stored);
    detach(stored);
    assert.equal((await cache.get('k'))?.byteLength, 0);
    // Not equal to the bytes it held before the transfer; equal to the empty array it now reads as.
    assert.equal(
      await cache.set('k', new Uint8Array([9]), undefined, { ifEquals: new Uint8Array([1, 2, 3]) }),
      false,
    );
    assert.equal(await cache.set('k', new Uint8Array([9]), undefined, { ifEquals: new Uint8Array(0) }), true);
    assert.deepEqual(await cache.get('k'), new Uint8Array([9]));
    // The caller's own `ifEquals` detached: 0 bytes too.
    const expected = new Uint8Array([9]);
    detach(expected);
    assert.equal(await cache.set('k', new Uint8Array([7]), undefined, { ifEquals: expected }), false);
    assert.deepEqual(await cache.get('k'), new Uint8Array([9]));
    await cache.close();
  });
});
