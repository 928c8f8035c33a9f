/**
 * Cost accounting of the memory cache against a simple model (fast-check, bounded runs): under
 * random sets (integer, fractional and zero costs, with and without TTLs, overwrites), deletes,
 * reads (which drop expired entries), clock moves, clears and getOrSet loads (some failing), the
 * cache's `cost` always equals the sum of the charged costs of the entries it holds — the ones
 * stored and not yet removed by a delete, a clear or an `onEvict`-reported eviction, rejection or
 * expiry — `size` equals their number, `keys()` names exactly them, an empty cache costs exactly
 * 0, and `cost` never exceeds `maxCost`. Reads only ever return the latest stored, unexpired value.
 * `HYPERION_COST_MODEL_RUNS` raises the number of sequences for a longer local run, else
 * `HYPERION_MODEL_RUNS` (`npm run check:model` runs this file too: it ran 300 whatever that said).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { modelReplay } from '../../conformance/replay.js';

type Op =
  | { readonly k: 'set'; readonly key: number; readonly cost: number; readonly ttl: number | undefined }
  | { readonly k: 'delete'; readonly key: number }
  | { readonly k: 'get'; readonly key: number }
  | { readonly k: 'advance'; readonly ms: number }
  | { readonly k: 'clear' }
  | {
      readonly k: 'getOrSet';
      readonly key: number;
      readonly cost: number;
      readonly ttl: number | undefined;
      readonly fail: boolean;
    };

const COSTS = [0, 0.1, 0.7, 1, 1.1, 1.3, 1.5, 2, 2.3, 2.7, 3, 3.3, 5, 7, 10, 30];
const key = fc.nat(12);
const cost = fc.constantFrom(...COSTS);
const ttl = fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('set' as const), key, cost, ttl }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), key }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('get' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('getOrSet' as const), key, cost, ttl, fail: fc.boolean() }),
  },
);

const RUNS = Number(process.env.HYPERION_COST_MODEL_RUNS ?? process.env.HYPERION_MODEL_RUNS ?? 300);

describe('memory cache: cost accounting against a model', () => {
  it(`cost, size and keys always match the entries held (${RUNS} random sequences)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 25 }),
        fc.array(op, { maxLength: 80 }),
        async (maxCost, ops) => {
          let clock = 1_000_000;
          /** Entries held: their charged cost, value and expiry (0 = none). */
          const held = new Map<string, { cost: number; value: string; expireAt: number }>();
          // What an entry is charged: at least 1 (at most maxCost), else its cost (lib/cache/memory/sync.ts).
          const charged = (c: number) => (c < 1 ? Math.min(maxCost, 1) : c);
          const cache = createSyncMemoryCache<string>({
            maxCost,
            now: () => clock,
            cost: (v) => Number(v.split('|')[1]),
            onEvict: (k) => held.delete(k),
          });
          const store = (k: string, value: string, c: number, t: number | undefined) =>
            held.set(k, { cost: charged(c), value, expireAt: t === undefined ? 0 : clock + t });
          try {
            for (const [step, o] of ops.entries()) {
              const where = `step ${step} ${JSON.stringify(o)}`;
              if (o.k === 'set') {
                const k = `k${o.key}`;
                const value = `${step}|${o.cost}`;
                let kept = false;
                try {
                  kept = cache.set(k, value, { ttl: o.ttl });
                } catch (err) {
                  assert.ok(err instanceof CacheError && err.code === 'too_large' && o.cost > maxCost, where);
                  continue;
                }
                if (kept) store(k, value, o.cost, o.ttl);
                else held.delete(k);
              } else if (o.k === 'delete') {
                cache.delete(`k${o.key}`);
                held.delete(`k${o.key}`);
              } else if (o.k === 'get') {
                const k = `k${o.key}`;
                const got = cache.get(k);
                const m = held.get(k);
                if (got !== undefined) {
                  assert.ok(
                    m && m.value === got,
                    `${where}: returned ${got}, model holds ${JSON.stringify(m)}`,
                  );
                  assert.ok(m.expireAt === 0 || m.expireAt > clock, `${where}: returned an expired value`);
                }
              } else if (o.k === 'advance') {
                clock += o.ms;
              } else if (o.k === 'clear') {
                cache.clear();
                held.clear();
              } else {
                const k = `k${o.key}`;
                const value = `${step}|${o.cost}`;
                const had = cache.has(k);
                try {
                  const got = await cache.getOrSet(
                    k,
                    async () => {
                      if (o.fail) throw new Error('injected loader failure');
                      return value;
                    },
                    { ttl: o.ttl },
                  );
                  // A load stores its value unless admission refused it (then reported by onEvict)
                  // or it costs more than maxCost (returned, not cached).
                  if (!had && got === value && o.cost <= maxCost && cache.has(k))
                    store(k, value, o.cost, o.ttl);
                } catch (err) {
                  assert.equal((err as Error).message, 'injected loader failure', where);
                }
              }
              const keys = cache.keys().sort();
              assert.deepEqual(keys, [...held.keys()].sort(), `${where}: resident keys`);
              assert.equal(cache.size, held.size, `${where}: size`);
              const sum = [...held.values()].reduce((a, e) => a + e.cost, 0);
              // Fractional costs are summed in floating point (README: a residue ~1e-12 per entry).
              assert.ok(
                Math.abs(cache.cost - sum) < 1e-9,
                `${where}: cost ${cache.cost}, entries sum to ${sum}`,
              );
              if (held.size === 0) assert.equal(cache.cost, 0, `${where}: an empty cache costs exactly 0`);
              assert.ok(cache.cost <= maxCost + 1e-9, `${where}: cost ${cache.cost} > maxCost ${maxCost}`);
            }
          } finally {
            cache.close();
          }
        },
      ),
      { numRuns: RUNS, ...modelReplay() },
    );
  });
});
