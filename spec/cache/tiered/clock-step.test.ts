/**
 * The tiered cache under a step of the host's wall clock (an NTP step), its default clocks left in
 * place. Found from outside (/tmp/clockskew/breaker-step.mts): the breaker's cool-down was counted
 * on `Date.now`, so a wall clock stepped back 1 h while the breaker was open kept it open for that
 * hour — L2 skipped and every write refused ("its circuit breaker is open") against a healthy L2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { bytes, fakeCache, text } from './fakes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tiered cache: a step of the wall clock', () => {
  it('does not stretch the breaker cool-down (stepped back 1 h while open)', async () => {
    const realNow = Date.now;
    let step = 0;
    // In place before the cache is made: it takes `Date.now` itself as its default clock.
    Date.now = () => realNow() + step;
    const l1 = fakeCache('l1', () => realNow());
    const l2 = fakeCache('l2', () => realNow());
    const cache = createTieredCache({ l1, l2, breaker: { failures: 2, cooldown: 50 } });
    try {
      l2.mode = 'error';
      for (let i = 0; i < 2; i++) assert.equal(await cache.get(`k${i}`), undefined);
      assert.equal(cache.breakerState(), 'open');
      step = -3_600_000;
      l2.mode = 'ok';
      await sleep(150); // three cool-downs, on any clock that does not step
      assert.equal(cache.breakerState(), 'half-open');
      await cache.set('w', bytes('v'), 10_000); // the probe: L2 answers, the breaker closes
      assert.equal(cache.breakerState(), 'closed');
      assert.equal(text(await cache.get('w')), 'v');
    } finally {
      Date.now = realNow;
      await cache.close();
    }
  });
});
