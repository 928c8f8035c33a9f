import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClimber } from '../../../lib/cache/memory/admission/climber.js';
import { createAdmission } from '../../../lib/cache/memory/admission/policy.js';
import { createDoorkeeper } from '../../../lib/cache/memory/doorkeeper.js';
import { hashKey, tableHash } from '../../../lib/cache/memory/hash.js';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { createSketch } from '../../../lib/cache/memory/sketch.js';
import { createStore, MAIN, type RemoveReason, type Store, WINDOW } from '../../../lib/cache/memory/store.js';

/** The slot of a resident key (the test fails if the key is not held). */
const slotOf = <V>(store: Store<V>, key: string): number => {
  const s = store.find(key, tableHash(key));
  assert.notEqual(s, 0, `${key} is resident`);
  return s;
};

/** Deterministic PRNG for the tests. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

describe('hashKey', () => {
  it('is deterministic and spreads similar keys', () => {
    assert.equal(hashKey('user:1'), hashKey('user:1'));
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(hashKey(`user:${i}`));
    assert.ok(seen.size >= 9_990, `only ${seen.size} distinct hashes`);
  });

  it('tells long keys apart wherever they differ (head, middle or tail)', () => {
    const base = 'x'.repeat(100);
    assert.notEqual(hashKey(`${base}a`), hashKey(`${base}b`));
    const differing = [...Array(50).keys()].filter(
      (i) =>
        hashKey(`${'p'.repeat(i)}A${'s'.repeat(80 - i)}`) !==
        hashKey(`${'p'.repeat(i)}B${'s'.repeat(80 - i)}`),
    );
    // The whole key is hashed: a difference anywhere changes the hash.
    assert.equal(differing.length, 50);
  });
});

describe('sketch', () => {
  it('never under-counts, and saturates at 15', () => {
    const sketch = createSketch(1024);
    const random = rng(1);
    const truth = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = Math.floor(random() * 3_000);
      const h = hashKey(`k${key}`);
      sketch.increment(h);
      truth.set(h, (truth.get(h) ?? 0) + 1);
    }
    for (const [h, n] of truth) assert.ok(sketch.estimate(h) >= Math.min(n, 15), `estimate below ${n}`);
    const hot = hashKey('hot');
    for (let i = 0; i < 100; i++) sketch.increment(hot);
    assert.equal(sketch.estimate(hot), 15);
  });

  it('is exact for a few keys in a wide sketch', () => {
    const sketch = createSketch(1 << 16);
    for (let i = 0; i < 7; i++) sketch.increment(hashKey('a'));
    sketch.increment(hashKey('b'));
    assert.equal(sketch.estimate(hashKey('a')), 7);
    assert.equal(sketch.estimate(hashKey('b')), 1);
    assert.equal(sketch.estimate(hashKey('never')), 0);
  });

  it('halves every counter on reset, and clears', () => {
    const sketch = createSketch(1 << 16);
    const counts = { a: 15, b: 9, c: 1 };
    for (const [k, n] of Object.entries(counts)) for (let i = 0; i < n; i++) sketch.increment(hashKey(k));
    sketch.halve();
    assert.equal(sketch.estimate(hashKey('a')), 7);
    assert.equal(sketch.estimate(hashKey('b')), 4);
    assert.equal(sketch.estimate(hashKey('c')), 0);
    sketch.clear();
    assert.equal(sketch.estimate(hashKey('a')), 0);
  });
});

describe('doorkeeper', () => {
  it('reports a key as seen from its second add on, with no false negatives', () => {
    const door = createDoorkeeper(1 << 16);
    let seenBefore = 0;
    for (let i = 0; i < 2_000; i++) if (door.add(hashKey(`k${i}`))) seenBefore++;
    assert.ok(seenBefore < 40, `${seenBefore} first adds reported as seen`);
    for (let i = 0; i < 2_000; i++) {
      assert.equal(door.has(hashKey(`k${i}`)), true);
      assert.equal(door.add(hashKey(`k${i}`)), true);
    }
  });

  it('keeps false positives rare at its design load', () => {
    const door = createDoorkeeper(1 << 16); // 65,536 bits per generation
    for (let i = 0; i < 4_000; i++) door.add(hashKey(`in${i}`));
    let fp = 0;
    for (let i = 0; i < 10_000; i++) if (door.has(hashKey(`out${i}`))) fp++;
    assert.ok(fp / 10_000 < 0.03, `false positive rate ${fp / 10_000}`);
  });

  it('remembers the previous generation after one rotation and forgets after two', () => {
    const door = createDoorkeeper(1 << 12);
    const h = hashKey('once');
    assert.equal(door.add(h), false);
    door.rotate();
    assert.equal(door.has(h), true);
    door.rotate();
    assert.equal(door.has(h), false);
    door.add(h);
    door.clear();
    assert.equal(door.has(h), false);
  });
});

describe('admission policy', () => {
  it('counts accesses (first through the doorkeeper) and rejects ties', () => {
    const a = createAdmission({ numCounters: 1 << 14 });
    const hot = hashKey('hot');
    const cold = hashKey('cold');
    assert.equal(a.frequency(hot), 0);
    a.record(hot);
    assert.equal(a.frequency(hot), 1, 'the doorkeeper counts the first access');
    for (let i = 0; i < 4; i++) a.record(hot);
    a.record(cold);
    assert.equal(a.frequency(hot), 5);
    assert.equal(a.frequency(cold), 1);
    assert.equal(a.admit(a.frequency(hot), a.frequency(cold)), true);
    assert.equal(a.admit(a.frequency(cold), a.frequency(hot)), false);
    assert.equal(a.admit(3, 3), false, 'ties keep the resident');
  });

  it('halves every count and rotates the doorkeeper on age()', () => {
    const a = createAdmission({ numCounters: 1 << 14, period: 100 });
    const k = hashKey('k');
    for (let i = 0; i < 9; i++) a.record(k);
    assert.equal(a.frequency(k), 9);
    a.age();
    // 8 counted in the sketch → 4, plus 1 for the doorkeeper's previous generation.
    assert.equal(a.frequency(k), 5);
    a.clear();
    assert.equal(a.frequency(k), 0);
  });
});

describe('store: access clock', () => {
  const setup = (period: number) => {
    const admission = createAdmission({ numCounters: 1 << 14, period });
    const store = createStore<string>({ maxCost: 1000, admission, windowFraction: 0.5, onRemove: () => {} });
    const put = (k: string) => store.insert(store.alloc(k, k, hashKey(k), 1, tableHash(k)));
    return { admission, store, put };
  };

  it('ages the policy every period of recorded accesses, inserts and hits alike', () => {
    const { admission, store, put } = setup(100);
    put('k'); // access 1: doorkeeper only
    for (let i = 0; i < 8; i++) store.touch(slotOf(store, 'k')); // accesses 2..9
    assert.equal(admission.frequency(hashKey('k')), 9);
    for (let i = 0; i < 90; i++) put(`filler${i}`); // accesses 10..99
    assert.equal(admission.epoch, 0);
    put('last'); // the 100th access ages
    assert.equal(admission.epoch, 1);
    // 8 counted in the sketch → 4, plus 1 for the doorkeeper's previous generation.
    assert.equal(admission.frequency(hashKey('k')), 5);
    for (let i = 0; i < 99; i++) store.touch(slotOf(store, 'k'));
    assert.equal(admission.epoch, 1);
    store.touch(slotOf(store, 'k'));
    assert.equal(admission.epoch, 2, 'and again 100 accesses later');
  });

  it('counts a hot key up to 16 (the 15 of the sketch plus the doorkeeper) and no further', () => {
    const { admission, store, put } = setup(1 << 20);
    put('k');
    for (let i = 0; i < 40; i++) store.touch(slotOf(store, 'k'));
    assert.equal(admission.frequency(hashKey('k')), 16);
  });
});

describe('hill climber', () => {
  it('keeps its direction while the hit ratio improves and turns when it drops', () => {
    const c = createClimber({ initial: 0.1, step: 0.05, decay: 1, restart: 1 });
    assert.equal(c.sample(50, 100), 0.1, 'the first sample is the baseline');
    const up = c.sample(60, 100);
    assert.ok(Math.abs(up - 0.15) < 1e-9);
    const down = c.sample(40, 100);
    assert.ok(Math.abs(down - 0.1) < 1e-9, 'worse → reverse');
  });

  it('stays within its bounds', () => {
    const c = createClimber({ initial: 0.01, min: 0, max: 0.2, step: 0.1 });
    let f = 0;
    for (let i = 0; i < 50; i++) f = c.sample(i, 100);
    assert.ok(f >= 0 && f <= 0.2);
  });
});

describe('store', () => {
  const make = (maxCost: number, extra: { samples?: number; windowFraction?: number } = {}) => {
    const admission = createAdmission({ numCounters: 1 << 12 });
    const removed: [string, RemoveReason][] = [];
    const store = createStore<string>({
      maxCost,
      admission,
      ...extra,
      onRemove: (s, reason) => removed.push([store.key(s), reason]),
    });
    const put = (key: string, cost = 1) => {
      const h = hashKey(key);
      const old = store.find(key, tableHash(key));
      // The cache updates existing keys in place; the store only ever inserts new ones.
      if (old !== 0) store.remove(old, 'deleted');
      return store.insert(store.alloc(key, key, h, cost, tableHash(key)));
    };
    const hit = (key: string) => {
      assert.equal(store.touch(slotOf(store, key)), key, 'touch returns the value');
    };
    return { store, admission, removed, put, hit };
  };

  it('sampled eviction picks the least frequent sampled entry', () => {
    const { store, put, hit } = make(10, { windowFraction: 0, samples: 64 });
    for (let i = 0; i < 10; i++) put(`k${i}`);
    for (let i = 0; i < 10; i++) if (i !== 3) for (let j = 0; j < 3; j++) hit(`k${i}`);
    // 64 samples of 10 entries: k3 (the only rarely used one) is almost surely among them.
    assert.equal(store.key(store.sampleVictim()), 'k3');
  });

  it('admits a newcomer only if it is more frequent than the victim', () => {
    const { store, removed, put, hit, admission } = make(4, { windowFraction: 0, samples: 16 });
    for (const k of ['a', 'b', 'c', 'd']) {
      put(k);
      hit(k);
    }
    assert.equal(put('once'), false, 'a one-time key loses against residents seen twice');
    assert.deepEqual(removed.at(-1), ['once', 'rejected']);
    admission.record(hashKey('popular'));
    admission.record(hashKey('popular'));
    assert.equal(put('popular'), true, 'seen 3 times, it beats a resident seen twice');
    assert.equal(removed.at(-1)?.[1], 'capacity');
    assert.equal(store.totalCost, 4);
  });

  it('keeps the window in LRU order and hands its oldest entry to admission', () => {
    const { store, put, hit, removed } = make(100, { windowFraction: 0.03 });
    put('w1');
    put('w2');
    put('w3');
    assert.equal(store.windowCost, 3);
    hit('w1'); // w2 is now the oldest
    put('w4');
    assert.equal(store.windowCost, 3);
    assert.equal(store.mainCount, 1, 'w2 moved on to the main region (there was room)');
    assert.equal(store.region(slotOf(store, 'w2')), MAIN);
    assert.equal(removed.length, 0);
  });

  it('never exceeds maxCost, whatever the costs', () => {
    const { store, put } = make(50);
    const random = rng(7);
    for (let i = 0; i < 5_000; i++) {
      put(`k${Math.floor(random() * 300)}-${i % 7}`, 1 + Math.floor(random() * 20));
      assert.ok(store.totalCost <= 50, `total ${store.totalCost}`);
    }
    let sum = 0;
    for (const s of store.residentSlots()) sum += store.cost(s);
    assert.equal(sum, store.totalCost);
  });

  it('grows its slot arrays and reuses freed slots without mixing entries up', () => {
    const { store, put } = make(1_000, { windowFraction: 0.5 });
    for (let i = 0; i < 600; i++) put(`k${i}`);
    assert.equal(store.count, 600);
    for (let i = 0; i < 600; i += 2) store.remove(slotOf(store, `k${i}`), 'deleted');
    const before = new Set(store.residentSlots());
    for (let i = 0; i < 300; i++) put(`n${i}`);
    for (const s of store.residentSlots()) {
      assert.equal(store.find(store.key(s), tableHash(store.key(s))), s, 'each resident key finds its slot');
      assert.equal(store.value(s), store.key(s));
    }
    const reused = store.residentSlots().filter((s) => !before.has(s));
    assert.ok(Math.max(...reused) < 600, 'new entries took the freed slots');
    assert.equal(store.totalCost, 600);
  });

  it('recost shrinks other entries to keep the bound', () => {
    const { store, put } = make(10);
    for (let i = 0; i < 10; i++) put(`k${i}`);
    const e = slotOf(store, 'k9');
    store.recost(e, 5);
    assert.ok(store.totalCost <= 10);
  });
});

describe('hashKey on long keys', () => {
  it('spreads keys that differ only in the middle of a long key', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++)
      seen.add(
        hashKey(`tenant:acme:${'x'.repeat(40)}:user:${String(i).padStart(6, '0')}:${'y'.repeat(40)}:v2`),
      );
    assert.ok(seen.size >= 9_990, `only ${seen.size} distinct hashes`);
  });
});

describe('store: costs that do not fit an int32 field', () => {
  it('keeps fractional and huge costs exact', () => {
    const admission = createAdmission({ numCounters: 1 << 12 });
    const store = createStore<string>({ maxCost: 2 ** 40, admission, onRemove: () => {} });
    const a = store.alloc('a', 'a', hashKey('a'), 1.5, tableHash('a'));
    const b = store.alloc('b', 'b', hashKey('b'), 2 ** 35, tableHash('b'));
    assert.equal(store.insert(a), true);
    assert.equal(store.insert(b), true);
    assert.equal(store.cost(a), 1.5);
    assert.equal(store.cost(b), 2 ** 35);
    assert.equal(store.totalCost, 2 ** 35 + 1.5);
    store.recost(a, 7);
    assert.equal(store.cost(a), 7);
  });

  it('an emptied window and an emptied store hold exactly 0 with fractional costs (issue 13 item 6)', () => {
    const admission = createAdmission({ numCounters: 1 << 12 });
    const store = createStore<string>({ maxCost: 1000, admission, windowFraction: 0.5, onRemove: () => {} });
    const slots: number[] = [];
    for (let i = 0; i < 40; i++) {
      const s = store.alloc(`k${i}`, 'v', hashKey(`k${i}`), 1.1 + (i % 7) * 0.3, tableHash(`k${i}`));
      store.insert(s);
      slots.push(s);
    }
    // The window shrinks to nothing; a recost of a window entry drains every one into main. The
    // window's sum used to keep a rounding residue (-1.8e-14 here); a positive one reads as over
    // budget with the window empty, and the drain would unlink the list's sentinel.
    const inWindow = slots.filter((s) => store.region(s) === WINDOW);
    assert.ok(inWindow.length > 5, `${inWindow.length} window entries`);
    store.setWindowFraction(0);
    store.recost(inWindow[0]!, 1.7);
    assert.equal(store.windowCost, 0);
    assert.ok(slots.every((s) => store.region(s) === MAIN));
    assert.equal(store.mainCount, store.count);
    for (const s of slots) store.remove(s, 'deleted');
    assert.equal(store.count, 0);
    assert.equal(store.totalCost, 0);
  });
});

describe('hill climber: lean', () => {
  it('moves the first time and on restarts in the direction of the lean', () => {
    const c = createClimber({ initial: 0.5, step: 0.1, decay: 1, restart: 0.05 });
    assert.ok(Math.abs(c.sample(50, 100, -1) - 0.4) < 1e-9, 'the first sample follows the lean');
    // A jump (+0.2) restarts; the lean (+1) decides the direction, not the last move.
    assert.ok(Math.abs(c.sample(70, 100, 1) - 0.5) < 1e-9);
    // Small changes: plain hill climbing (worse → reverse), the lean is ignored.
    assert.ok(Math.abs(c.sample(69, 100, 1) - 0.4) < 1e-9);
  });

  it('keeps growing the window once sure leans towards it persist', () => {
    const run = (sure: boolean) => {
      const c = createClimber({ initial: 0.5, step: 0.1, decay: 1, restart: 0.5 });
      c.sample(50, 100, 1, sure); // first sample: follows the lean, 0.6
      return c.sample(49, 100, 1, sure); // a dip: plain hill climbing turns around
    };
    assert.ok(Math.abs(run(false) - 0.5) < 1e-9, 'plain hill climbing');
    assert.ok(Math.abs(run(true) - 0.7) < 1e-9, 'two sure leans in a row (the first sample included) decide');
  });

  it('doubles its moves from the second strong sample of a persistent lean, up to maxPush', () => {
    const c = createClimber({ initial: 0, step: 0.05, decay: 1, restart: 0.5, maxPush: 0.3 });
    const next = (strong: boolean) => c.sample(50, 100, 1, true, strong);
    const moves = [true, true, true, true, true, false, true].map((strong) => {
      const before = c.fraction;
      return Math.round((next(strong) - before) * 100) / 100;
    });
    // First sample, first persistent one, then ×2, ×4, capped at 0.3; a sample that is not strong
    // moves by the plain step and the next strong one starts over.
    assert.deepEqual(moves, [0.05, 0.05, 0.1, 0.2, 0.3, 0.05, 0.05]);
  });

  it('jumps to a whole-cache window when the LRU shadow is clearly better, not on noise', () => {
    const sure = createClimber({ initial: 0.2, step: 0.05, decay: 1, restart: 0.5 });
    // A plain LRU would have hit 0.8 % more of the requests, ± 0.1 %: the running mean (weight
    // 1/4) passes the 0.5-point margin, well beyond its error, at the fourth such sample.
    for (let i = 0; i < 3; i++) sure.sample(30, 100, 0, false, false, 0.008, 0.001);
    assert.ok(sure.fraction < 1);
    sure.sample(30, 100, 0, false, false, 0.008, 0.001);
    assert.equal(sure.fraction, 1);
    const noisy = createClimber({ initial: 0.2, step: 0.05, decay: 1, restart: 0.5 });
    for (let i = 0; i < 5; i++) noisy.sample(30, 100, 0, false, false, 0.03, 0.05);
    assert.ok(noisy.fraction < 0.5, 'an estimate within its counting noise moves nothing');
    const worse = createClimber({ initial: 0.2, step: 0.05, decay: 1, restart: 0.5 });
    for (let i = 0; i < 5; i++) worse.sample(30, 100, 0, false, false, -0.05, 0.002);
    assert.ok(worse.fraction < 0.5, 'LRU worse: plain hill climbing');
  });

  it('cuts a sample short only on overwhelming shadow evidence, then starts from a new baseline', () => {
    const c = createClimber({ initial: 0.2, step: 0.05, decay: 1, restart: 0.5 });
    assert.equal(c.interrupt(0.03, 0.005), false, '6 standard errors are not enough mid-sample');
    assert.equal(c.interrupt(0.004, 0.0001), false, 'below the margin');
    assert.equal(c.fraction, 0.2);
    assert.equal(c.interrupt(0.2, 0.01), true);
    assert.equal(c.fraction, 1);
    assert.equal(c.interrupt(0.2, 0.01), false, 'already the whole cache');
    // The next sample is a baseline: no lean, no move.
    assert.equal(c.sample(50, 100), 1);
  });

  it('may grow the window to the whole cache by default', () => {
    const c = createClimber({ initial: 0.9, step: 0.2 });
    c.sample(10, 100, 1);
    assert.equal(c.fraction, 1);
  });
});

describe('cache: recency-heavy workload', () => {
  it('hits within a point of a plain LRU on a drifting working set (the window grows to the whole cache)', () => {
    // recency-5000 of bench:hit-ratio, shortened: one new key every 8 requests, requests skewed
    // to the newest keys. Frequency says little here; LRU is the policy to match.
    const next = rng(9);
    const keys = Array.from({ length: 300_000 }, (_, i) => {
      const u = next();
      return `r${Math.max(0, Math.floor(i / 8) - Math.floor(5000 * u * u * u))}`;
    });
    const size = 250;
    const ours = createSyncMemoryCache<number>({ maxCost: size, cost: () => 1 });
    const lru = new Map<string, number>();
    let oursHits = 0;
    let lruHits = 0;
    for (const k of keys) {
      if (ours.get(k) === undefined) ours.set(k, 1);
      else oursHits++;
      if (lru.delete(k)) lruHits++;
      lru.set(k, 1);
      if (lru.size > size) lru.delete(lru.keys().next().value!);
    }
    const gap = (lruHits - oursHits) / keys.length;
    assert.ok(gap < 0.01, `ours ${oursHits} hits, LRU ${lruHits}`);
    // Without the LRU shadow (lruMargin out of reach): 4.2 points below LRU on this trace.
  });
});

describe('store: LRU shadow', () => {
  /** Replays keys demand-fill on a bare store, a shadow checkpoint every 32 requests; sums them. */
  const shadowOver = (keys: string[]) => {
    const admission = createAdmission({ numCounters: 1 << 10 });
    const store = createStore<string>({ maxCost: 100, admission, windowFraction: 0.01, onRemove: () => {} });
    let gain = 0;
    keys.forEach((k, i) => {
      const s = store.find(k, tableHash(k));
      if (s === 0) store.insert(store.alloc(k, k, hashKey(k), 1, tableHash(k)));
      else store.touch(s);
      if (i % 32 === 31) gain += store.shadow();
    });
    return gain / keys.length;
  };

  it('finds a plain LRU better on a drifting working set', () => {
    const next = rng(3);
    const keys = Array.from({ length: 60_000 }, (_, i) => {
      const u = next();
      return `d${Math.max(0, Math.floor(i / 4) - Math.floor(600 * u * u * u))}`;
    });
    const gain = shadowOver(keys);
    assert.ok(gain > 0.05, String(gain)); // ≈ +0.15
  });

  it('finds a plain LRU worse on a hot set mixed with one-time keys', () => {
    const next = rng(4);
    const keys = Array.from({ length: 60_000 }, (_, i) =>
      i % 2 === 0 ? `hot${Math.floor(next() * 80)}` : `once${i}`,
    );
    const gain = shadowOver(keys);
    assert.ok(gain < -0.05, String(gain)); // ≈ -0.20
  });

  it('gives no estimate before the cache lost as many keys as it holds', () => {
    const admission = createAdmission({ numCounters: 1 << 10 });
    const store = createStore<string>({ maxCost: 100, admission, onRemove: () => {} });
    for (let i = 0; i < 150; i++)
      store.insert(store.alloc(`k${i}`, '', hashKey(`k${i}`), 1, tableHash(`k${i}`)));
    assert.equal(store.shadow(), 0);
    assert.equal(store.shadowAge, -1);
  });
});

describe('store: ghosts', () => {
  it('counts a refused candidate that comes back as a window ghost hit', () => {
    const admission = createAdmission({ numCounters: 1 << 12 });
    const store = createStore<string>({ maxCost: 4, admission, windowFraction: 0, onRemove: () => {} });
    const put = (k: string) => store.insert(store.alloc(k, k, hashKey(k), 1, tableHash(k)));
    for (const k of ['a', 'b', 'c', 'd']) {
      put(k);
      store.touch(slotOf(store, k));
    }
    assert.equal(put('once'), false);
    assert.equal(store.windowGhosts, 1);
    put('once');
    assert.equal(store.windowGhostHits, 1);
    assert.equal(store.mainGhostHits, 0);
  });
});
