/**
 * The synchronous face against a tiny reference (a Map of value, expiry and charged cost), through
 * the public API only, where the other models do not go: an injected clock that also goes
 * backwards (and by fractions of a ms), TTL sweeps run by the (mocked) timer, keys a Map-backed
 * cache could trip on (`__proto__`, `constructor`, numbers as strings, unicode, a 3,000-character
 * key) and refused ones (empty, lone surrogate), and bad input mixed into the sequence (TTL 0,
 * negative, NaN, Infinity, null, above 2^52; cost NaN, negative, Infinity, above `maxCost`), with
 * `maxCost` from 0.5 to 2^53 − 1 and costs 0, fractional and huge.
 *
 * Checked after every step: each answer (get/has/delete, the error code of a refused call), the
 * resident keys (learnt from `set`'s answer and `onEvict`, whose value and cost must be the
 * entry's own and which reports `expired` only for an entry whose expiry has passed), a held key
 * holds the last value written for it, `size`, `cost` (≤ maxCost, the sum of the charges, exactly
 * 0 when empty), hits and misses, and — until a `clear()` — the documented identity
 * held = keysAdded − keysEvicted − keysRejected − keysExpired − deletes that removed a value.
 *
 * `HYPERION_MODEL_RUNS` raises the number of sequences (default 200, under a second).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { modelReplay } from '../../conformance/replay.js';

const RUNS = Number(process.env.HYPERION_MODEL_RUNS ?? 200);
const KEYS = [
  'a',
  '__proto__',
  'constructor',
  '0',
  '01',
  '1e3',
  '日本',
  '😀',
  'x'.repeat(3000),
  'toString',
  's\uD800',
  '',
];
/** The keys every cache refuses (`invalid_key`): empty, and a lone surrogate. */
const REFUSED_KEYS = new Set(['', 's\uD800']);
const COSTS = [
  undefined,
  0,
  0.1,
  0.5,
  1,
  2.7,
  3,
  7,
  1e6,
  1e300,
  Number.NaN,
  -1,
  Number.POSITIVE_INFINITY,
  2 ** 53,
];
/** Index 0: no `ttl` key at all (the default TTL applies). */
const TTLS = [
  undefined,
  null,
  0,
  -1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1,
  999,
  1000,
  1001,
  1500,
  2 ** 52,
  2 ** 52 + 2,
];
const MAX_COSTS = [0.5, 1, 2, 2.5, 5, 10.7, 30, 1e15, 2 ** 53 - 1];
const VALUES: unknown[] = [null, 0, '', Number.NaN, () => 1, { o: 1 }, 'str', false];

type Op =
  | {
      readonly k: 'set';
      readonly key: number;
      readonly cost: number;
      readonly ttl: number;
      readonly v: number;
    }
  | { readonly k: 'get' | 'has' | 'delete'; readonly key: number }
  | { readonly k: 'clock'; readonly ms: number }
  | { readonly k: 'sweep'; readonly runs: number }
  | { readonly k: 'toExpiry'; readonly pick: number; readonly off: number }
  | { readonly k: 'clear' };

const key = fc.nat(KEYS.length - 1);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('set' as const),
      key,
      cost: fc.nat(COSTS.length - 1),
      ttl: fc.nat(TTLS.length - 1),
      v: fc.nat(VALUES.length - 1),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constantFrom('get' as const, 'has' as const, 'delete' as const), key }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('clock' as const),
      // Mostly steps that land exactly on an expiry (TTLs 999/1000/1001/1500 and the buckets' 1 s).
      ms: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(1, 500, 999, 1000, 1001, 0.5, -0.5, -1, -1000) },
        { weight: 1, arbitrary: fc.integer({ min: -2000, max: 3000 }) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('sweep' as const), runs: fc.integer({ min: 1, max: 3 }) }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('clear' as const) }) },
  // The clock set to exactly a held entry's expiry (or just before or after it): the boundary.
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('toExpiry' as const),
      pick: fc.nat(20),
      off: fc.constantFrom(0, 0, -0.5, 0.5, -1000),
    }),
  },
);

interface Entry {
  readonly v: unknown;
  readonly exp: number | undefined;
  readonly charge: number;
}

const codeOf = (err: unknown) => (err instanceof CacheError ? err.code : `not a CacheError: ${String(err)}`);

function run(
  maxCost: number,
  defaultTtl: number | undefined,
  t0: number,
  ops: readonly Op[],
  tick: (ms: number) => void,
) {
  let now = t0;
  const model = new Map<string, Entry>();
  const last = new Map<string, unknown>();
  let hookError: unknown;
  /** The set in progress, when it may evict its own key (an overwrite). */
  let writing: { key: string; v: unknown; charge: number } | undefined;
  const cache = createSyncMemoryCache<unknown>({
    maxCost,
    defaultTtl,
    now: () => now,
    cost: () => 1,
    onEvict: (k, value, reason, cost) => {
      try {
        if (writing !== undefined && k === writing.key) {
          // The entry being overwritten, evicted by its own new cost: the new value and cost.
          assert.ok(Object.is(value, writing.v), `onEvict value of ${k} evicted by its own set`);
          assert.equal(cost, writing.charge, `onEvict cost of ${k} evicted by its own set`);
          model.delete(k);
          return;
        }
        const e = model.get(k);
        if (e === undefined) {
          // A refused newcomer was never held.
          assert.equal(reason, 'rejected', `onEvict ${reason} of ${k}, not held`);
          return;
        }
        assert.ok(Object.is(e.v, value), `onEvict value of ${k}`);
        assert.equal(cost, e.charge, `onEvict cost of ${k}`);
        if (reason === 'expired')
          assert.ok(e.exp !== undefined && e.exp <= now, `${k} reported expired early`);
        model.delete(k);
      } catch (err) {
        hookError ??= err;
      }
    },
  });
  const live = (k: string) => {
    const e = model.get(k);
    return e !== undefined && (e.exp === undefined || e.exp > now) ? e : undefined;
  };
  let hits = 0;
  let misses = 0;
  let deletes = 0;
  let cleared = false;
  try {
    for (const o of ops) {
      if (o.k === 'set') {
        const k = KEYS[o.key]!;
        const cost = COSTS[o.cost];
        const v = VALUES[o.v];
        const opts: { ttl?: unknown; cost?: number } = {};
        if (cost !== undefined) opts.cost = cost;
        if (o.ttl !== 0) opts.ttl = TTLS[o.ttl];
        const ttl = o.ttl === 0 ? defaultTtl : TTLS[o.ttl];
        const charged = cost ?? 1;
        let expected: string | undefined;
        if (REFUSED_KEYS.has(k)) expected = 'invalid_key';
        else if (!(ttl === undefined || (typeof ttl === 'number' && ttl > 0 && ttl <= 2 ** 52)))
          expected = 'invalid_ttl';
        else if (!(Number.isFinite(charged) && charged >= 0)) expected = 'invalid_cost';
        else if (charged > maxCost) expected = 'too_large';
        if (expected !== undefined) {
          assert.throws(
            () => cache.set(k, v, opts as { ttl?: number }),
            (e) => codeOf(e) === expected,
          );
        } else {
          const charge = charged < 1 ? Math.min(maxCost, 1) : charged;
          writing = { key: k, v, charge };
          let kept: boolean;
          try {
            kept = cache.set(k, v, opts as { ttl?: number });
          } finally {
            writing = undefined;
          }
          last.set(k, v);
          if (kept) model.set(k, { v, exp: ttl === undefined ? undefined : now + (ttl as number), charge });
          else assert.ok(!model.has(k), `set of ${k} refused but still held`);
        }
      } else if (o.k === 'get' || o.k === 'has' || o.k === 'delete') {
        const k = KEYS[o.key]!;
        if (REFUSED_KEYS.has(k)) {
          assert.throws(
            () => cache[o.k](k),
            (e) => codeOf(e) === 'invalid_key',
          );
        } else {
          const e = live(k);
          if (o.k === 'get') {
            const got = cache.get(k);
            if (e === undefined) {
              misses++;
              assert.equal(got, undefined, `get ${k} after its expiry or removal`);
            } else {
              hits++;
              assert.ok(Object.is(got, e.v), `get ${k}`);
            }
          } else if (o.k === 'has') {
            assert.equal(cache.has(k), e !== undefined, `has ${k}`);
          } else {
            assert.equal(cache.delete(k), e !== undefined, `delete ${k}`);
            if (e !== undefined) {
              deletes++;
              model.delete(k);
            }
          }
        }
      } else if (o.k === 'clock') {
        now += o.ms;
      } else if (o.k === 'toExpiry') {
        const due = [...model.values()].filter((e) => e.exp !== undefined);
        if (due.length !== 0) now = due[o.pick % due.length]!.exp! + o.off;
      } else if (o.k === 'sweep') {
        tick(1000 * o.runs);
      } else {
        cache.clear();
        model.clear();
        cleared = true;
      }
      if (hookError !== undefined) throw hookError;
      assert.deepEqual(cache.keys().sort(), [...model.keys()].sort());
      assert.equal(cache.size, model.size);
      let sum = 0;
      for (const [k, e] of model) {
        sum += e.charge;
        assert.ok(Object.is(e.v, last.get(k)), `${k} holds an older value`);
      }
      assert.ok(cache.cost <= maxCost, `cost ${cache.cost} > maxCost ${maxCost}`);
      assert.ok(Math.abs(cache.cost - sum) <= 1e-9 * Math.max(1, sum), `cost ${cache.cost}, model ${sum}`);
      if (model.size === 0) assert.equal(cache.cost, 0);
      const st = cache.stats();
      assert.equal(st.hits, hits);
      assert.equal(st.misses, misses);
      if (!cleared)
        assert.equal(
          st.keysAdded! - st.keysEvicted! - st.keysRejected! - (st.keysExpired ?? 0) - deletes,
          cache.size,
          `stats identity: ${JSON.stringify(st)}, ${deletes} deletes`,
        );
    }
  } finally {
    cache.close();
  }
}

describe('memory cache: documented semantics against a reference Map', () => {
  it(`answers, keys, cost, onEvict and stats follow the model with odd keys, bad input and a clock going backwards (${RUNS} sequences)`, (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    fc.assert(
      fc.property(
        fc.constantFrom(...MAX_COSTS),
        fc.option(fc.constantFrom(1000, 1500, 30_000), { nil: undefined }),
        fc.integer({ min: -5000, max: 5000 }),
        fc.array(op, { maxLength: 60, size: 'max' }),
        (maxCost, defaultTtl, t0, ops) => run(maxCost, defaultTtl, t0, ops, (ms) => t.mock.timers.tick(ms)),
      ),
      { numRuns: RUNS, ...modelReplay() },
    );
  });
});
