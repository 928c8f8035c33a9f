/**
 * `getOrSet(key, loader, { tll: 5000 })` — a typo in the sync face's options — used to load and
 * store an entry that never expires, without a word (the byte face refuses unknown write options
 * for the same reason). An option that is not `ttl` or `cost` is now `invalid_value`, naming it;
 * `set` refuses it too when it reads no `ttl`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { deferred } from '../../harness/clock.js';

describe('sync memory cache: getOrSet options', () => {
  it('an unknown option is refused before loading, on a hit as on a miss', async () => {
    let t = 0;
    const c = createSyncMemoryCache<string>({ maxCost: 100, now: () => t });
    let loads = 0;
    const loader = async () => {
      loads++;
      return 'v';
    };
    const typo = { tll: 100 } as unknown as { ttl: number };
    await assert.rejects(
      c.getOrSet('k', loader, typo),
      (e: unknown) =>
        e instanceof CacheError && e.code === 'invalid_value' && /`tll`.*did you mean `ttl`/.test(e.message),
    );
    assert.equal(loads, 0);
    assert.equal(c.has('k'), false);
    c.set('k', 'held');
    await assert.rejects(c.getOrSet('k', loader, typo), { code: 'invalid_value' });
    // The known options still work, undefined values included.
    assert.equal(await c.getOrSet('j', loader, { ttl: 100, cost: 1 }), 'v');
    assert.equal(await c.getOrSet('i', loader, { ttl: undefined }), 'v');
    t += 100;
    assert.equal(c.get('j'), undefined);
    assert.equal(c.get('i'), 'v');
    c.close();
  });

  // set read no ttl from { tll: 5000 } either: an entry that never expired.
  it('set: an unknown option is refused when no ttl is given; nothing is stored', () => {
    let t = 0;
    const c = createSyncMemoryCache<string>({ maxCost: 100, now: () => t });
    const typo = { tll: 100 } as unknown as { ttl: number };
    assert.throws(
      () => c.set('k', 'v', typo),
      (e: unknown) =>
        e instanceof CacheError &&
        e.code === 'invalid_value' &&
        /set: option `tll`.*did you mean `ttl`/.test(e.message),
    );
    assert.equal(c.has('k'), false);
    assert.equal(c.set('a', 'v', { cost: 2 }), true);
    assert.equal(c.set('b', 'v', { ttl: undefined, cost: undefined }), true);
    assert.equal(c.set('c', 'v', { ttl: 50 }), true);
    t += 50;
    assert.equal(c.get('c'), undefined);
    assert.equal(c.get('a'), 'v');
    c.close();
  });

  // The options were read when the loaded value was stored, not when getOrSet was called: an
  // options object reused for several calls (a loop setting `ttl` per key) stored every key with
  // the last `ttl`, and one changed to a bad value rejected the callers after the loader succeeded.
  it('uses the options as they were at the call, whatever later happens to the object', async () => {
    let t = 0;
    const c = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1, now: () => t });
    const release = deferred();
    const load = (v: string) => async () => {
      await release.promise;
      return v;
    };
    const opts: { ttl?: number; cost?: number } = { ttl: 1000 };
    const a = c.getOrSet('a', load('A'), opts);
    opts.ttl = 60_000;
    const b = c.getOrSet('b', load('B'), opts);
    const bad = { ttl: 1000, cost: 1 };
    const d = c.getOrSet('d', load('D'), bad);
    bad.ttl = -5;
    bad.cost = Number.NaN;
    release.resolve();
    assert.deepEqual(await Promise.all([a, b, d]), ['A', 'B', 'D']);
    t = 1000;
    assert.equal(c.get('a'), undefined, 'a was asked with ttl 1000');
    assert.equal(c.get('d'), undefined, 'd was asked with ttl 1000');
    assert.equal(c.get('b'), 'B');
    t = 60_000;
    assert.equal(c.get('b'), undefined);
    c.close();
  });
});
