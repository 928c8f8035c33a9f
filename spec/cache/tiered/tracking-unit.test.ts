/**
 * The tiered cache's end of an InvalidationTracker, with a scripted tracker and fake levels (no
 * server): L1 stays unfilled until the first confirmation, is bypassed and cleared from a loss to
 * the next confirmation, drops reported keys (and fences a read racing the report), clears on a
 * `null` report, drops only the selected keys on `onMoved` (cluster slots that changed owner), and
 * is filled from L2 reads only, never by this process's writes or loads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache, watchTieredCoherence } from '../../../lib/cache/tiered/index.js';
import type { InvalidationTracker, Metrics, TrackingHandlers } from '../../../lib/core/contracts.js';
import { noopMetrics } from '../../../lib/core/noop.js';
import { bytes, fakeCache, text } from './fakes.js';

interface Scripted extends InvalidationTracker {
  h: TrackingHandlers | undefined;
  confirm(): void;
  closed: boolean;
}

function scripted(mode: 'default' | 'bcast' = 'default'): Scripted {
  let resolveFirst: (() => void) | undefined;
  const first = new Promise<void>((r) => {
    resolveFirst = r;
  });
  const t: Scripted = {
    mode,
    confirmed: false,
    confirmedAt: 0,
    h: undefined,
    closed: false,
    async start(handlers) {
      t.h = handlers;
      await first;
      return () => {
        t.h = undefined;
      };
    },
    confirm() {
      (t as { confirmed: boolean }).confirmed = true;
      (t as { confirmedAt: number }).confirmedAt = Date.now();
      t.h?.onConfirmed();
      resolveFirst?.();
    },
    async close() {
      t.closed = true;
    },
  };
  return t;
}

function setup() {
  const l2 = fakeCache('l2');
  const tracking = scripted();
  const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking });
  return { l2, tracking, cache };
}

describe('tiered cache with an InvalidationTracker', () => {
  it('fills L1 only after the first confirmation, and only from L2 reads', async () => {
    const { l2, tracking, cache } = setup();
    await cache.set('k', bytes('v1'));
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2');
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2', 'unconfirmed: nothing entered L1');
    assert.equal(cache.stats().trackingConfirmed, 0);
    tracking.confirm();
    await cache.ready;
    assert.equal(cache.stats().trackingConfirmed, 1);
    assert.ok(cache.stats().trackingConfirmedAgo >= 0);
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2');
    assert.equal((await cache.getWithMeta('k'))?.source, 'l1');
    // A write drops the copy and does not refill it; the next read does.
    await cache.set('k', bytes('v2'));
    assert.deepEqual(await cache.getWithMeta('k'), { value: bytes('v2'), source: 'l2', stale: false });
    assert.equal((await cache.getWithMeta('k'))?.source, 'l1');
    // A loaded value is stored in L2 but not in L1.
    assert.equal(text(await cache.getOrSet('n', () => bytes('loaded'))), 'loaded');
    assert.equal((await cache.getWithMeta('n'))?.source, 'l2');
    assert.ok(l2.store.has('n'));
    await cache.close();
    assert.equal(tracking.closed, true, 'close() closes the tracker');
  });

  it('drops reported keys, clears on null, bypasses L1 from a loss to the next confirmation', async () => {
    const { tracking, cache } = setup();
    tracking.confirm();
    await cache.ready;
    await cache.set('a', bytes('1'));
    await cache.set('b', bytes('1'));
    for (const k of ['a', 'b', 'a', 'b']) await cache.get(k);
    assert.equal((await cache.getWithMeta('a'))?.source, 'l1');
    tracking.h?.onInvalidate(['a']);
    assert.equal((await cache.getWithMeta('a'))?.source, 'l2');
    assert.equal((await cache.getWithMeta('b'))?.source, 'l1', 'only the reported key was dropped');
    const clears = cache.stats().l1Clears;
    tracking.h?.onInvalidate(null);
    assert.equal(cache.stats().l1Clears, clears + 1);
    assert.equal((await cache.getWithMeta('b'))?.source, 'l2');
    assert.equal((await cache.getWithMeta('b'))?.source, 'l1');
    tracking.h?.onLost('test');
    assert.equal(cache.stats().trackingConfirmed, 0);
    assert.equal(cache.stats().trackingLosses, 1);
    for (let i = 0; i < 3; i++) assert.equal((await cache.getWithMeta('b'))?.source, 'l2', 'bypassed');
    tracking.confirm();
    assert.equal((await cache.getWithMeta('b'))?.source, 'l2', 'cleared on confirmation');
    assert.equal((await cache.getWithMeta('b'))?.source, 'l1');
    assert.equal(cache.stats().trackingInvalidations, 2);
    await cache.close();
  });

  it('a read whose L2 reply arrives after an invalidation (or a loss) does not fill L1', async () => {
    for (const event of ['key', 'lost'] as const) {
      const { l2, tracking, cache } = setup();
      tracking.confirm();
      await cache.set('k', bytes('old'));
      let release: (() => void) | undefined;
      l2.beforeRead = () =>
        new Promise<void>((r) => {
          release = r;
        });
      const reading = cache.get('k');
      await new Promise((r) => setImmediate(r));
      l2.beforeRead = undefined;
      if (event === 'key') tracking.h?.onInvalidate(['k']);
      else {
        tracking.h?.onLost('test');
        tracking.confirm();
      }
      release?.();
      assert.equal(text(await reading), 'old');
      assert.equal((await cache.getWithMeta('k'))?.source, 'l2', `${event}: the racing reply was not cached`);
      await cache.close();
    }
  });

  it('onMoved drops only the selected keys, keeps L1 trusted, and fences every read on its way', async () => {
    const { l2, tracking, cache } = setup();
    tracking.confirm();
    for (const k of ['moved1', 'moved2', 'kept', 'racing']) await cache.set(k, bytes('v'));
    for (const k of ['moved1', 'moved2', 'kept', 'moved1', 'moved2', 'kept']) await cache.get(k);
    assert.equal((await cache.getWithMeta('kept'))?.source, 'l1');
    // A read of an unselected key already on its way: the previous owner may have answered it.
    let release: (() => void) | undefined;
    l2.beforeRead = () =>
      new Promise<void>((r) => {
        release = r;
      });
    const reading = cache.get('racing');
    await new Promise((r) => setImmediate(r));
    l2.beforeRead = undefined;
    const clears = cache.stats().l1Clears;
    tracking.h?.onMoved((k) => k.startsWith('moved'), 'test');
    release?.();
    assert.equal(text(await reading), 'v');
    const s = cache.stats();
    assert.equal(s.trackingMoves, 1);
    assert.equal(s.trackingConfirmed, 1, 'still trusted');
    assert.equal(s.trackingLosses, 0);
    assert.equal(s.l1Clears, clears, 'no full clear');
    assert.equal((await cache.getWithMeta('kept'))?.source, 'l1', 'an unselected key stays');
    for (const k of ['moved1', 'moved2', 'racing'])
      assert.equal((await cache.getWithMeta(k))?.source, 'l2', k);
    assert.equal((await cache.getWithMeta('moved1'))?.source, 'l1', 'refilled by the next read');
    await cache.close();
  });

  it('onMoved clears the whole L1 when L1 cannot list its keys', async () => {
    const l2 = fakeCache('l2');
    const tracking = scripted();
    const cache = createTieredCache({ l1: fakeCache('l1'), l2, tracking });
    tracking.confirm();
    await cache.set('kept', bytes('v'));
    await cache.get('kept');
    assert.equal((await cache.getWithMeta('kept'))?.source, 'l1');
    const clears = cache.stats().l1Clears;
    tracking.h?.onMoved(() => false, 'test');
    assert.equal(cache.stats().l1Clears, clears + 1);
    assert.equal((await cache.getWithMeta('kept'))?.source, 'l2');
    await cache.close();
  });

  it('exports its coherence counters through the core Metrics contract', async () => {
    const { tracking, cache } = setup();
    tracking.confirm();
    tracking.h?.onInvalidate(['x', 'y']);
    tracking.h?.onMoved((k) => k === 'x', 'test');
    const seen: Record<string, number> = {};
    let collect: (() => void | Promise<void>) | undefined;
    const metrics: Metrics = {
      ...noopMetrics,
      counter: (o) => ({
        inc: (_l?: unknown, v?: number) => {
          seen[o.name] = (seen[o.name] ?? 0) + (v ?? 1);
        },
      }),
      gauge: (o) => ({
        ...noopMetrics.gauge(o),
        set: (_l: unknown, v?: number) => {
          seen[o.name] = v ?? 0;
        },
      }),
      onCollect: (fn) => {
        collect = fn;
        return () => {};
      },
    };
    watchTieredCoherence(metrics, cache);
    await collect?.();
    assert.equal(seen.cache_invalidations_total, 2);
    assert.equal(seen.cache_tracking_confirmed, 1);
    assert.ok((seen.cache_l1_clears_total ?? 0) >= 1);
    assert.equal(seen.cache_tracking_slot_moves_total, cache.stats().trackingMoves);
    assert.ok(cache.stats().trackingMoves >= 1);
    await collect?.();
    assert.equal(seen.cache_invalidations_total, 2, 'counters add only what changed');
    await cache.close();
  });
});
