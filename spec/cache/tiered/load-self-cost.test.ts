/**
 * The self-wait check (load-self.test.ts) is made for every key a loader asks for, against the
 * keys of the loads whose loaders are running. It searched each load's keys as a list: a
 * `getOrSetMany` of n keys whose `loadMany` called `getOrSet` (or `getOrSetMany`) for n other
 * keys compared every key with every other, n² comparisons — 40,000 keys took ~55 s of CPU with
 * the event loop blocked (10,000: ~7 s). The keys are now a set: the work grows with n.
 *
 * No timing assert: the test counts the elements `Array.prototype.includes` scans during the call
 * (the old check's work; the new one uses none), and bounds it by a multiple of n.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';

const N = 3000;
const id = (p: string, i: number) => `${p}:${String(i).padStart(8, '0')}`;
const keys = Array.from({ length: N }, (_, i) => id('a', i));
const deps = Array.from({ length: N }, (_, i) => id('b', i));
const deps2 = Array.from({ length: N }, (_, i) => id('c', i));
const v = new Uint8Array([1]);

/** Runs `fn`, counting the elements every `Array.prototype.includes` call scans meanwhile. */
async function scanned(fn: () => Promise<unknown>): Promise<number> {
  const includes = Array.prototype.includes;
  let n = 0;
  Array.prototype.includes = function (this: unknown[], ...args: [unknown, number?]) {
    n += this.length;
    return includes.apply(this, args);
  };
  try {
    await fn();
  } finally {
    Array.prototype.includes = includes;
  }
  return n;
}

const make = () =>
  createTieredCache({
    l1: createMemoryCache({ maxCost: 16 * 1024 * 1024 }),
    l2: createMemoryCache({ maxCost: 16 * 1024 * 1024 }),
    ttl: 60_000,
  });

it(`a getOrSetMany of ${N} keys whose loader calls getOrSet for ${N} other keys: linear work`, async () => {
  const cache = make();
  try {
    const work = await scanned(() =>
      cache.getOrSetMany(keys, (ks) =>
        Promise.all(ks.map((_, i) => cache.getOrSet(deps[i]!, async () => v))),
      ),
    );
    assert.ok(work < 100 * N, `${work} elements scanned for ${N} keys (n² = ${N * N})`);
    const got = await cache.getMany(deps);
    assert.equal(got.filter((b) => b !== undefined).length, N);
  } finally {
    await cache.close();
  }
});

it(`a getOrSetMany of ${N} keys whose loader calls getOrSetMany of ${N} other keys: linear work`, async () => {
  const cache = make();
  try {
    const work = await scanned(() =>
      cache.getOrSetMany(keys, (ks) =>
        cache.getOrSetMany(deps2, async (d) => d.map(() => v)).then(() => ks.map(() => v)),
      ),
    );
    assert.ok(work < 100 * N, `${work} elements scanned for ${N} keys (n² = ${N * N})`);
    assert.equal((await cache.getMany(deps2)).filter((b) => b !== undefined).length, N);
  } finally {
    await cache.close();
  }
});
