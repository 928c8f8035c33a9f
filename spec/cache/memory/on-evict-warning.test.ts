/**
 * An `onEvict` hook that throws is reported as a process warning, never thrown. It used to be one
 * warning per call: a hook broken for good printed one stderr line per eviction (49,900 lines for
 * 50,000 sets into a 100-entry cache, and the sets ran ~9× slower). Now one warning per cache.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';

async function warningsDuring(work: () => void): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (w: Error) => {
    if ((w as Error & { code?: string }).code === 'HYPERION_MEMORY_ON_EVICT') seen.push(w);
  };
  process.on('warning', listener);
  try {
    work();
    // Warnings are emitted on a later tick.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

describe('memory cache: a throwing onEvict hook', () => {
  it('is reported once per cache, however often it throws', async () => {
    let calls = 0;
    const make = () =>
      createSyncMemoryCache<number>({
        maxCost: 10,
        cost: () => 1,
        onEvict: () => {
          calls++;
          throw new Error('hook broken');
        },
      });
    const a = make();
    const b = make();
    const seen = await warningsDuring(() => {
      for (let i = 0; i < 1000; i++) a.set(`a${i}`, i);
      for (let i = 0; i < 1000; i++) b.set(`b${i}`, i);
    });
    a.close();
    b.close();
    // Every removal still reached the hook.
    const st = [a.stats(), b.stats()];
    assert.equal(
      calls,
      st.reduce((n, s) => n + (s.keysEvicted ?? 0) + (s.keysRejected ?? 0), 0),
    );
    assert.ok(calls > 1900, `hook called ${calls} times`);
    assert.equal(seen.length, 2, `${seen.length} warnings`);
    for (const w of seen) assert.match(w.message, /onEvict threw: hook broken.*not reported/);
  });
});

/**
 * What a callback throws need not have a string form: `String()` of a null-prototype object, or
 * reading a `message` getter that throws, throws a TypeError. The warning that was to report the
 * hook's error threw that instead: out of `set` (the hook is documented as never thrown), to the
 * callers of a load that had succeeded (a throwing cost function), and out of the sweep timer —
 * an uncaught exception that ended the process.
 */
describe('memory cache: a callback that throws a value with no string form', () => {
  const unprintable = (): unknown[] => [
    Object.create(null),
    {
      get message(): string {
        throw new Error('message getter');
      },
    },
  ];

  it('onEvict: set does not throw, every removal reaches the hook, one warning', async () => {
    for (const thrown of unprintable()) {
      let calls = 0;
      const cache = createSyncMemoryCache<number>({
        maxCost: 2,
        cost: () => 1,
        onEvict: () => {
          calls++;
          throw thrown;
        },
      });
      const seen = await warningsDuring(() => {
        for (let i = 0; i < 20; i++) cache.set(`k${i}`, i);
      });
      const st = cache.stats();
      assert.equal(calls, (st.keysEvicted ?? 0) + (st.keysRejected ?? 0));
      assert.ok(calls > 0);
      assert.equal(cache.size, 2);
      assert.equal(seen.length, 1);
      assert.match(seen[0]!.message, /onEvict threw: \[object Object\]/);
      cache.close();
    }
  });

  it('onEvict in the sweep timer: the process goes on, the expired entries are gone', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let now = 1_000_000;
    let calls = 0;
    const cache = createSyncMemoryCache<string>({
      maxCost: 10,
      now: () => now,
      onEvict: () => {
        calls++;
        throw Object.create(null);
      },
    });
    cache.set('a', 'x', { ttl: 500 });
    cache.set('b', 'y', { ttl: 500 });
    now += 5_000;
    // It used to throw out of the timer callback (here: out of tick), an uncaught exception.
    const seen = await warningsDuring(() => t.mock.timers.tick(1_000));
    assert.equal(calls, 2);
    assert.equal(cache.size, 0);
    assert.equal(seen.length, 1);
    cache.close();
  });

  it('a clock that throws one in the sweep timer: one HYPERION_MEMORY_SWEEP warning', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let broken = false;
    const cache = createSyncMemoryCache<string>({
      maxCost: 10,
      now: () => {
        if (broken) throw Object.create(null);
        return 1_000_000;
      },
    });
    cache.set('a', 'x', { ttl: 500 });
    broken = true;
    const warnings: Error[] = [];
    const on = (w: Error) => warnings.push(w);
    process.on('warning', on);
    try {
      t.mock.timers.tick(1_000);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', on);
    }
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_MEMORY_SWEEP');
    assert.equal(ours.length, 1);
    assert.match(ours[0]!.message, /sweep failed and will be retried: \[object Object\]/);
    broken = false;
    cache.close();
  });

  it('a cost function: the callers of a load that succeeded get its value, it is not cached', async () => {
    for (const thrown of unprintable()) {
      const cache = createSyncMemoryCache<string>({
        maxCost: 10,
        cost: () => {
          throw thrown;
        },
      });
      const warnings: Error[] = [];
      const on = (w: Error) => warnings.push(w);
      process.on('warning', on);
      try {
        // It used to reject with the TypeError of the warning's message.
        assert.equal(await cache.getOrSet('k', () => 'loaded'), 'loaded');
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off('warning', on);
      }
      assert.equal(cache.size, 0);
      const ours = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_MEMORY_INVALID_COST');
      assert.equal(ours.length, 1);
      assert.match(ours[0]!.message, /the cost function threw for "k": \[object Object\]/);
      cache.close();
    }
  });
});

/**
 * An async hook (`onEvict: async (k, v) => { await release(v) }`) fails by rejecting. The cache
 * ignored what the hook returned, so the rejection was unhandled: with Node's default
 * (`--unhandled-rejections=throw`) it ended the process at the eviction.
 */
describe('memory cache: an async onEvict hook that rejects', () => {
  it('is reported as the same one warning per cache, not an unhandled rejection', async () => {
    let calls = 0;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const cache = createSyncMemoryCache<number>({
      maxCost: 2,
      cost: () => 1,
      onEvict: async (key) => {
        calls++;
        await Promise.resolve();
        throw new Error(`release of ${key} failed`);
      },
    });
    const seen: Error[] = [];
    const listener = (w: Error) => {
      if ((w as Error & { code?: string }).code === 'HYPERION_MEMORY_ON_EVICT') seen.push(w);
    };
    process.on('warning', listener);
    try {
      for (let i = 0; i < 20; i++) cache.set(`k${i}`, i);
      // Rejections are seen, and warnings emitted, on later ticks.
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', listener);
      process.off('unhandledRejection', onUnhandled);
    }
    const st = cache.stats();
    assert.equal(calls, (st.keysEvicted ?? 0) + (st.keysRejected ?? 0));
    assert.ok(calls > 1);
    assert.deepEqual(unhandled, []);
    assert.equal(seen.length, 1);
    assert.match(seen[0]!.message, /onEvict threw: release of k\d+ failed.*not reported/);
    cache.close();
  });
});
