/**
 * `getOrSet` loaders that act on their own cache (fast-check, bounded runs): the loader's
 * synchronous part may `set`, `delete` or `get` any key, `clear()` the cache, or call `getOrSet` of
 * its own key, while the sequence interleaves plain writes, reads, joins and the settling of each
 * load by hand. Checked against an exact model (room for every entry, no TTL, so nothing is
 * evicted): every `get` answers the latest write or the value of a load that no write of its key
 * followed since it started; a load fenced by a write (its own loader's included) stores nothing;
 * a loader's `getOrSet` of its own key rejects with `invalid_key` and never joins its own load.
 * The faces model (faces-model.test.ts) settles loads by hand too, but its loaders never call the
 * cache. `HYPERION_MODEL_RUNS` raises the number of sequences.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { modelReplay } from '../../conformance/replay.js';

const RUNS = Number(process.env.HYPERION_MODEL_RUNS ?? 300);
const KEYS = ['a', 'b', 'c'];

type Inner =
  | { readonly k: 'none' | 'clear' | 'self' }
  | { readonly k: 'set' | 'delete' | 'get'; readonly key: number };
type Op =
  | { readonly k: 'set' | 'delete' | 'get'; readonly key: number }
  | { readonly k: 'clear' }
  | { readonly k: 'getOrSet'; readonly key: number; readonly inner: Inner }
  | { readonly k: 'resolve' | 'reject'; readonly pick: number };

const key = fc.nat(KEYS.length - 1);
const inner: fc.Arbitrary<Inner> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ k: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constantFrom('set' as const, 'delete' as const, 'get' as const), key }),
  },
  { weight: 1, arbitrary: fc.constantFrom({ k: 'clear' as const }, { k: 'self' as const }) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constantFrom('set' as const, 'delete' as const, 'get' as const), key }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('getOrSet' as const), key, inner }) },
  {
    weight: 4,
    arbitrary: fc.record({ k: fc.constantFrom('resolve' as const, 'reject' as const), pick: fc.nat(20) }),
  },
);

/** Lets every pending callback run (a loader starts on the tick after its getOrSet). */
const settle = () => new Promise<void>((r) => setImmediate(r));

interface Flight {
  readonly key: string;
  resolve(v: string): void;
  reject(e: Error): void;
}

async function run(ops: readonly Op[]): Promise<void> {
  const cache = createSyncMemoryCache<string>({ maxCost: 1_000_000, cost: () => 1 });
  /** The model: the value held per key, and the load that may still store into each key. */
  const held = new Map<string, string>();
  const storing = new Map<string, Flight>();
  const open: Flight[] = [];
  const checks: Promise<void>[] = [];
  let n = 0;
  const write = (o: Inner | Op) => {
    if (o.k === 'clear') {
      cache.clear();
      held.clear();
      storing.clear();
    } else if (o.k === 'set' || o.k === 'delete' || o.k === 'get') {
      const k = KEYS[o.key]!;
      if (o.k === 'get') {
        assert.equal(cache.get(k), held.get(k), `get ${k}`);
        return;
      }
      if (o.k === 'set') {
        const v = `v${n++}`;
        cache.set(k, v);
        held.set(k, v);
      } else {
        cache.delete(k);
        held.delete(k);
      }
      storing.delete(k);
    }
  };
  try {
    for (const o of ops) {
      if (o.k === 'getOrSet') {
        const k = KEYS[o.key]!;
        const want = held.get(k);
        const joins = want === undefined && storing.has(k);
        const starts = want === undefined && !joins;
        let flight: Flight | undefined;
        let loaderCalls = 0;
        const p = cache.getOrSet(k, () => {
          loaderCalls++;
          if (o.inner.k === 'self') {
            const self = cache.getOrSet(k, async () => 'never');
            checks.push(
              self.then(
                () => assert.fail('a loader joined its own load'),
                (e: unknown) => assert.ok(e instanceof CacheError && e.code === 'invalid_key', String(e)),
              ),
            );
          } else write(o.inner);
          return new Promise<string>((resolve, reject) => {
            flight = { key: k, resolve, reject };
          });
        });
        if (starts) {
          await settle();
          assert.equal(loaderCalls, 1, `a miss of ${k} calls the loader`);
          assert.ok(flight !== undefined, `the loader of ${k} ran`);
          // A write of its own loader (a set or delete of its key, a clear) fenced it already.
          const i = o.inner;
          const fenced = i.k === 'clear' || ((i.k === 'set' || i.k === 'delete') && KEYS[i.key] === k);
          if (!fenced) storing.set(k, flight);
          open.push(flight);
        } else {
          await settle();
          assert.equal(loaderCalls, 0, `a hit or a join of ${k} calls no loader`);
          if (want !== undefined) assert.equal(await p, want);
        }
        checks.push(
          p.then(
            () => {},
            () => {},
          ),
        );
      } else if (o.k === 'resolve' || o.k === 'reject') {
        if (open.length === 0) continue;
        const f = open.splice(o.pick % open.length, 1)[0]!;
        const stores = storing.get(f.key) === f;
        const v = `L${n++}`;
        if (o.k === 'resolve') f.resolve(v);
        else f.reject(new Error('load failed'));
        await settle();
        if (stores) {
          storing.delete(f.key);
          if (o.k === 'resolve') held.set(f.key, v);
        }
      } else write(o);
      for (const k of KEYS) assert.equal(cache.get(k), held.get(k), `after ${JSON.stringify(o)}: ${k}`);
    }
    for (const f of open) f.resolve('late');
    await Promise.all(checks);
  } finally {
    cache.close();
  }
}

describe('memory cache: loaders that call the cache', () => {
  it(`a load never stores over a write, its loader's own included (${RUNS} sequences)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), (ops) => run(ops)),
      { numRuns: RUNS, ...modelReplay() },
    );
  });
});
