import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createExpiry } from '../../../lib/cache/memory/expiry.js';
import { createSyncMemoryCache, type EvictReason } from '../../../lib/cache/memory/index.js';

describe('TTL buckets', () => {
  it('files entries by expiry slot and sweeps only passed slots, within a budget', () => {
    let clock = 0;
    const expired: string[] = [];
    // Entries are slot numbers: 1 = a, 2 = b, 3 = c.
    const names = ['', 'a', 'b', 'c'];
    const ex = createExpiry({
      now: () => clock,
      resolution: 1000,
      budget: 100,
      expire: (s) => expired.push(names[s]!),
    });
    const [a, b, c] = [1, 2, 3];
    ex.add(a, 500);
    ex.add(b, 900);
    ex.add(c, 2500);
    assert.equal(ex.at(c), 2500);
    assert.equal(ex.at(99), 0, 'a slot never filed has no expiry');
    assert.equal(ex.buckets, 2);
    assert.equal(ex.scheduled, true, 'the timer starts with the first TTL');
    clock = 999;
    assert.equal(ex.sweep(), 0, 'slot [0, 1000) has not fully passed');
    clock = 1000;
    assert.equal(ex.sweep(), 2);
    assert.deepEqual(expired.sort(), ['a', 'b']);
    assert.equal(ex.at(a), 0, 'a swept entry has no expiry any more');
    ex.remove(c);
    assert.equal(ex.buckets, 0);
    assert.equal(ex.at(c), 0);
    clock = 10_000;
    assert.equal(ex.sweep(), 0);
    ex.close();
    assert.equal(ex.scheduled, false);
  });

  it('removes at most `budget` entries per sweep', () => {
    let clock = 0;
    let count = 0;
    const ex = createExpiry({ now: () => clock, resolution: 100, budget: 10, expire: () => count++ });
    for (let i = 0; i < 25; i++) ex.add(i, 50);
    clock = 200;
    assert.equal(ex.sweep(10), 10);
    assert.equal(ex.sweep(10), 10);
    assert.equal(ex.sweep(10), 5);
    assert.equal(count, 25);
    ex.close();
  });
});

describe('TTL buckets: sweep cost', () => {
  it('a sweep looks only at the buckets that are due, however many wait (TTLs spread over weeks)', () => {
    // Found by an outside-in audit: every sweep (one per second) walked every bucket, due or not.
    // With 1M entries whose TTLs spread over a year (~1M buckets) each run blocked the event loop
    // 20–45 ms with nothing to remove; here 50 idle sweeps over 20,000 buckets looked at 1,000,000.
    let clock = 0;
    const expired: number[] = [];
    const ex = createExpiry({
      now: () => clock,
      resolution: 1000,
      budget: 1_000_000,
      expire: (s) => expired.push(s),
    });
    const N = 20_000;
    // One bucket per minute, filed latest first: slot i expires at minute N - i.
    for (let i = 1; i <= N; i++) ex.add(i, (N - i) * 60_000 + 500);
    assert.equal(ex.buckets, N);
    for (let i = 0; i < 50; i++) assert.equal(ex.sweep(), 0);
    assert.equal(ex.visits, 0, 'no bucket is due yet: none is looked at');
    clock = 3 * 60_000 + 1000;
    assert.equal(ex.sweep(), 4);
    assert.deepEqual(expired, [N, N - 1, N - 2, N - 3], 'the due ones, earliest first');
    assert.equal(ex.visits, 4);
    ex.close();
  });

  it('buckets emptied by deletes never hide a live one, also after the queue is compacted', () => {
    let clock = 0;
    const expired: number[] = [];
    const ex = createExpiry({
      now: () => clock,
      resolution: 1000,
      budget: 1_000_000,
      expire: (s) => expired.push(s),
    });
    // 10,000 buckets filed and emptied again (a set with a TTL, then its delete), far in the future.
    for (let i = 0; i < 10_000; i++) {
      ex.add(1, 1_000_000 + i * 1000);
      ex.remove(1);
    }
    assert.equal(ex.buckets, 0);
    // Live entries filed in between and after, in buckets the emptied ones had used too.
    ex.add(2, 5_000);
    ex.add(3, 1_000_000 + 500);
    ex.add(4, 1_000_000 + 5_000_500);
    for (let i = 0; i < 10_000; i++) {
      ex.add(5, 2_000_000 + i * 1000);
      ex.remove(5);
    }
    clock = 6_000;
    assert.equal(ex.sweep(), 1);
    clock = 1_002_000;
    assert.equal(ex.sweep(), 1);
    clock = 20_000_000;
    assert.equal(ex.sweep(), 1);
    assert.deepEqual(expired, [2, 3, 4]);
    assert.equal(ex.buckets, 0);
    ex.close();
  });
});

describe('memory cache TTLs (mock timers)', () => {
  it('never returns an expired entry, and the timer reclaims its memory', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let clock = 50_000;
    const evicted: [string, EvictReason][] = [];
    const c = createSyncMemoryCache<string>({
      maxCost: 1000,
      now: () => clock,
      onEvict: (k, _v, reason) => evicted.push([k, reason]),
    });
    t.after(() => c.close());
    c.set('short', 'x', { ttl: 100 });
    c.set('long', 'y', { ttl: 60_000 });
    c.set('forever', 'z');
    assert.equal(c.get('short'), 'x');
    clock += 100;
    assert.equal(c.get('short'), undefined, 'expired at exactly its TTL');
    assert.equal(c.has('short'), false);
    c.set('idle', 'w', { ttl: 500 });
    clock += 2_000;
    assert.equal(c.size, 3, 'expired entries still hold memory until the sweep');
    t.mock.timers.tick(1_000);
    assert.equal(c.size, 2, 'the sweep removed the expired entry nobody read');
    assert.equal(c.cost, 2);
    assert.deepEqual(evicted, [
      ['short', 'expired'],
      ['idle', 'expired'],
    ]);
    clock += 60_000;
    t.mock.timers.tick(1_000);
    assert.equal(c.size, 1);
    assert.equal(c.get('forever'), 'z');
    assert.equal(c.stats().keysExpired, 3);
  });

  it('uses defaultTtl, and a per-set TTL overrides it; overwrite re-files the entry', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let clock = 0;
    const c = createSyncMemoryCache<number>({ maxCost: 100, defaultTtl: 1_000, now: () => clock });
    t.after(() => c.close());
    c.set('d', 1);
    c.set('p', 2, { ttl: 10_000 });
    c.set('o', 3, { ttl: 100 });
    c.set('o', 4, { ttl: 5_000 });
    clock = 1_500;
    assert.equal(c.get('d'), undefined);
    assert.equal(c.get('o'), 4);
    assert.equal(c.get('p'), 2);
    clock = 6_000;
    assert.equal(c.get('o'), undefined);
    t.mock.timers.tick(10_000);
    assert.equal(c.size, 1);
  });

  it('close() stops the sweep timer', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    const clock = 0;
    const c = createSyncMemoryCache<number>({ maxCost: 100, now: () => clock });
    c.set('a', 1, { ttl: 10 });
    c.close();
    // A leftover interval would run here and touch the closed cache.
    t.mock.timers.tick(60_000);
    assert.throws(() => c.get('a'));
  });

  it('entries expired but not swept yet give way to new keys (admission does not keep them)', (t) => {
    // No sweep runs in this test (mock timers never ticked): only admission can make room.
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let clock = 0;
    const evicted: EvictReason[] = [];
    const c = createSyncMemoryCache<number>({
      maxCost: 1000,
      cost: () => 1,
      now: () => clock,
      onEvict: (_k, _v, reason) => evicted.push(reason),
    });
    t.after(() => c.close());
    // Old keys, read often (high frequency), all with the same TTL.
    for (let round = 0; round < 5; round++)
      for (let i = 0; i < 1000; i++) c.set(`old:${i}`, i, { ttl: 1000 });
    clock = 2000; // every old entry has expired
    for (let i = 0; i < 1000; i++) c.set(`new:${i}`, i);
    let kept = 0;
    for (let i = 0; i < 1000; i++) if (c.get(`new:${i}`) === i) kept++;
    // Before: 10 of 1,000 (only the window's room); the old, dead entries out-counted every newcomer.
    assert.ok(kept >= 800, `only ${kept} of 1,000 new keys were kept while the cache held dead entries`);
    assert.ok(c.size <= 1000 && c.cost <= 1000);
    assert.equal(c.stats().keysExpired, evicted.filter((r) => r === 'expired').length);
    assert.ok(
      (c.stats().keysExpired ?? 0) >= kept - 20,
      'the room came from expired entries, reported as expired',
    );

    // Live entries keep their protection: with nothing expired, frequent old keys still win.
    const d = createSyncMemoryCache<number>({ maxCost: 1000, cost: () => 1, now: () => clock });
    t.after(() => d.close());
    for (let round = 0; round < 5; round++)
      for (let i = 0; i < 1000; i++) d.set(`old:${i}`, i, { ttl: 60_000 });
    for (let i = 0; i < 1000; i++) d.set(`new:${i}`, i);
    let fresh = 0;
    for (let i = 0; i < 1000; i++) if (d.get(`new:${i}`) === i) fresh++;
    assert.ok(fresh < 100, `${fresh} one-time keys displaced frequent live entries`);
    assert.equal(d.stats().keysExpired, 0);
  });

  it('a clock that throws while admission looks for expired entries leaves the cache consistent', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    let broken = false;
    const c = createSyncMemoryCache<number>({
      maxCost: 100,
      cost: () => 1,
      now: () => {
        if (broken) throw new Error('clock gone');
        return 0;
      },
    });
    t.after(() => c.close());
    for (let round = 0; round < 3; round++) for (let i = 0; i < 100; i++) c.set(`old:${i}`, i, { ttl: 1000 });
    broken = true;
    // Sets without a TTL read no clock of their own; a refusal asks for expired entries, and the
    // clock's throw must not escape from the middle of the insert.
    for (let i = 0; i < 200; i++) c.set(`new:${i}`, i);
    assert.ok(c.size <= 100 && c.cost <= 100);
    assert.equal(c.cost, c.size);
  });

  it('does not keep the process alive (the timer is unref’d)', () => {
    const index = fileURLToPath(new URL('../../../lib/cache/memory/index.ts', import.meta.url));
    const script = `
      import { createSyncMemoryCache } from ${JSON.stringify(index)};
      const c = createSyncMemoryCache({ maxCost: 100 });
      c.set('k', 'v', { ttl: 3_600_000 });
      console.log('set');
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 30_000,
      encoding: 'utf8',
    });
    assert.equal(r.signal, null, 'the process had to be killed: something held it open');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'set');
  });
});
