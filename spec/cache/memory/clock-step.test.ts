/**
 * The memory cache under a step of the host's wall clock (an NTP step), its default clock left in
 * place. Found from outside (/tmp/D8/mem-step.mts): the default clock was `Date.now` itself, so a
 * wall clock stepped back 1 h right after a set with a 200 ms TTL kept serving that entry for the
 * hour. `Date.now` is replaced before each cache is made: the cache takes it as its default clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { bytes } from '../tiered/fakes.js';

const HOUR = 3_600_000;

/** A wall clock moved by hand, in place of `Date.now` while `fn` runs. */
async function withWallClock(fn: (wall: { t: number }) => Promise<void> | void): Promise<void> {
  const realNow = Date.now;
  const wall = { t: 1_700_000_000_000 };
  Date.now = () => wall.t;
  try {
    await fn(wall);
  } finally {
    Date.now = realNow;
  }
}

describe('memory cache: a step of the wall clock', () => {
  it('a step back does not keep an entry past its TTL', () =>
    withWallClock((wall) => {
      const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1 });
      try {
        cache.set('token', 'v', { ttl: 1_000 });
        wall.t += 500;
        assert.equal(cache.get('token'), 'v');
        wall.t -= HOUR; // stepped back 1 h
        assert.equal(cache.get('token'), 'v', 'still inside its TTL');
        wall.t += 600; // 1.1 s after the set, counted at the wall clock's pace
        assert.equal(cache.get('token'), undefined, 'served past its TTL after the step back');
        assert.equal(cache.has('token'), false);
        // A set after the step gets its whole TTL, no more.
        cache.set('later', 'w', { ttl: 1_000 });
        wall.t += 999;
        assert.equal(cache.get('later'), 'w');
        wall.t += 2;
        assert.equal(cache.get('later'), undefined);
      } finally {
        cache.close();
      }
    }));

  it('a step back does not keep an entry of the async cache past its TTL', () =>
    withWallClock(async (wall) => {
      const cache = createMemoryCache({ maxCost: 1 << 20 });
      try {
        await cache.set('token', bytes('v'), 200);
        wall.t -= HOUR;
        // The step is seen at the next clock read (the sweep reads it every second, here a get).
        assert.deepEqual(await cache.get('token'), bytes('v'));
        wall.t += 300;
        assert.equal(await cache.get('token'), undefined);
      } finally {
        await cache.close();
      }
    }));

  it('the sweep reads the clock every second: a step back seen by it, the entry is swept on time', (t) =>
    withWallClock((wall) => {
      t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
      const expired: string[] = [];
      const cache = createSyncMemoryCache<string>({
        maxCost: 100,
        cost: () => 1,
        onEvict: (key, _value, reason) => expired.push(`${key}:${reason}`),
      });
      try {
        cache.set('token', 'v', { ttl: 1_500 });
        wall.t += 1_000;
        t.mock.timers.tick(1_000); // a sweep at +1 s: nothing due
        wall.t -= HOUR;
        t.mock.timers.tick(1_000); // a sweep right after the step back (no read in between)
        wall.t += 1_000;
        t.mock.timers.tick(1_000); // 2 s after the set on the wall clock's pace
        assert.deepEqual(expired, ['token:expired']);
      } finally {
        cache.close();
      }
    }));

  it('a step forward still expires what its TTL passed on the wall clock', () =>
    withWallClock((wall) => {
      const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1 });
      try {
        cache.set('a', 'v', { ttl: 10_000 });
        wall.t += HOUR;
        assert.equal(cache.get('a'), undefined);
      } finally {
        cache.close();
      }
    }));

  it('a Date mocked before the cache is made still drives it (README)', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1 });
    try {
      cache.set('a', 'v', { ttl: 1_000 });
      t.mock.timers.tick(999);
      assert.equal(cache.get('a'), 'v');
      t.mock.timers.tick(2);
      assert.equal(cache.get('a'), undefined);
    } finally {
      cache.close();
    }
  });

  it('an injected clock is used as it is (a clock going back is the caller’s)', () => {
    let now = 10_000;
    const cache = createSyncMemoryCache<string>({ maxCost: 100, cost: () => 1, now: () => now });
    try {
      cache.set('a', 'v', { ttl: 1_000 });
      now = 0;
      now += 5_000;
      assert.equal(cache.get('a'), 'v', 'an injected clock is not made monotonic');
    } finally {
      cache.close();
    }
  });
});
