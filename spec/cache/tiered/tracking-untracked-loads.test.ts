/**
 * With tracking, a load Redis may not track (its L2 read got no answer, in `default` mode) is not
 * joined once its loader started (spec/cache/tiered/tracking-join.test.ts has the real-server
 * case). Here, with a scripted tracker and fake levels: in `bcast` mode, which reports every write
 * under the prefix whether read or not, such a load is still shared; and an early refresh that
 * left the flight map is still one per key — with L2 refusing reads at once, every L1 hit in the
 * refresh window started another refresh load (before the refresh was tracked apart).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { InvalidationTracker } from '../../../lib/core/contracts.js';
import { bytes, fakeCache, text, tick } from './fakes.js';

function confirmedTracker(mode: 'default' | 'bcast'): InvalidationTracker {
  return {
    mode,
    confirmed: true,
    confirmedAt: Date.now(),
    async start(handlers) {
      handlers.onConfirmed();
      return () => {};
    },
    async close() {},
  };
}

function gated() {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let calls = 0;
  const loader = async () => {
    calls++;
    await gate;
    return bytes(`loaded${calls}`);
  };
  return { loader, release, calls: () => calls };
}

describe('tiered cache + tracking: loads Redis may not track', () => {
  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode}: callers arriving while a load runs after an unanswered L2 read ${mode === 'bcast' ? 'share it' : 'load again'}`, async () => {
      const l2 = fakeCache('l2');
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        tracking: confirmedTracker(mode),
        breaker: false,
      });
      await cache.ready;
      l2.mode = 'error';
      const g = gated();
      const first = cache.getOrSet('k', g.loader);
      for (let i = 0; i < 5 && g.calls() === 0; i++) await tick();
      assert.equal(g.calls(), 1);
      const later = cache.getOrSet('k', g.loader);
      for (let i = 0; i < 5; i++) await tick();
      g.release();
      await Promise.all([first, later]);
      assert.equal(g.calls(), mode === 'bcast' ? 1 : 2);
      await cache.close();
    });
  }

  it('an early refresh after an unanswered L2 read stays one per key', async () => {
    const l2 = fakeCache('l2');
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: confirmedTracker('default'),
      breaker: false,
      earlyRefresh: 1, // the whole life is the refresh window
      random: () => 0, // every hit in the window refreshes, unless one is running
    });
    await cache.ready;
    await cache.set('k', bytes('v1'), 60_000);
    assert.equal(text(await cache.get('k')), 'v1'); // read from L2: now in L1
    l2.mode = 'error';
    const g = gated();
    for (let i = 0; i < 20; i++) {
      assert.equal(text(await cache.getOrSet('k', g.loader)), 'v1'); // L1 hits
      await tick();
    }
    g.release();
    assert.equal(g.calls(), 1, 'refresh loads started for one key');
    await cache.close();
  });
});
