/**
 * What `delete` and `deleteMany` report for a key past its TTL that `grace` still keeps (README,
 * "Writes"): the tiered cache counts it as removed, although `get` and `has` no longer report it
 * (a failing loader could still have been served it). Pinned so a change to it is deliberate;
 * found by an outside script comparing the caches' answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { manualClock } from '../../harness/clock.js';

const enc = (s: string) => Buffer.from(s);

describe('tiered delete of a value kept for grace', () => {
  it('counts it as removed; get and has already miss it', async () => {
    const clock = manualClock();
    const level = () => createMemoryCache({ maxCost: 1 << 20, now: clock.now });
    const cache = createTieredCache({ l1: level(), l2: level(), now: clock.now, grace: 10_000 });
    try {
      await cache.setMany([
        { key: 'a', value: enc('1'), ttl: 100 },
        { key: 'b', value: enc('2'), ttl: 100 },
        { key: 'c', value: enc('3'), ttl: 100 },
      ]);
      clock.advance(200);
      assert.equal(await cache.get('a'), undefined);
      assert.equal(await cache.has('a'), false);
      assert.equal(await cache.delete('a'), true, 'the grace copy was removed');
      assert.equal(await cache.deleteMany(['b', 'absent']), 1);
      // Gone for the stale path too: a failing loader now gets its error, not the old value.
      await assert.rejects(
        cache.getOrSet('a', () => Promise.reject(new Error('db down'))),
        /db down/,
      );
      clock.advance(20_000);
      assert.equal(await cache.delete('c'), false, 'past the grace window nothing is left');
    } finally {
      await cache.close();
    }
  });
});
