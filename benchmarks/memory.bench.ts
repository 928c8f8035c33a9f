/**
 * Speed benchmark of the memory cache against lru-cache, lru.min, mnemonist's LRUCache and a
 * plain Map (the floor), all in one process at 10,000 entries: get-hit, get-miss, set at
 * capacity (admission + eviction; the Map floor deletes its oldest key then sets) and a 90/10
 * read/write Zipf mix. Prints median ns/op and the ratios the issue sets goals for; then heap
 * bytes per entry at 1M entries (needs --expose-gc, which `npm run bench:memory` passes).
 *
 *   npm run bench:memory [-- --json OUT] [-- --quick]
 *
 * Each task runs a batch of operations per call, so the timer's own overhead (tens of ns) is
 * spread over the batch instead of swamping a ~20 ns operation.
 */

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLRU } from 'lru.min';
import { LRUCache } from 'lru-cache';
import { LRUCache as MnemonistLRU } from 'mnemonist';
import { Bench } from 'tinybench';
import { createMemoryCache, createSyncMemoryCache } from '../lib/cache/memory/index.js';
import { createRng, zipfKeys } from './lib/zipf.js';

const { values: args } = parseArgs({ options: { json: { type: 'string' }, quick: { type: 'boolean' } } });

const ENTRIES = 10_000;
const BATCH = 1_000;
const VALUE = new Uint8Array(16);
const keyOf = (i: number) => `key:${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(36)}`;

/** The operations every contender offers, synchronous or not. */
interface Contender {
  name: string;
  get(key: string): unknown;
  set(key: string, value: Uint8Array): unknown;
  async?: boolean;
}

function contenders(): Contender[] {
  // numCounters = 10 × the entries, as the option's doc recommends (the byte-budget default
  // would size the sketch for a million entries).
  const options = { maxCost: ENTRIES * VALUE.byteLength, numCounters: ENTRIES * 10 };
  const ours = createSyncMemoryCache<Uint8Array>(options);
  const face = createMemoryCache(options);
  const lru = new LRUCache<string, Uint8Array>({ max: ENTRIES });
  const lruMin = createLRU<string, Uint8Array>({ max: ENTRIES });
  const mn = new MnemonistLRU<string, Uint8Array>(ENTRIES);
  const map = new Map<string, Uint8Array>();
  // Insertion order kept in a ring, so "delete the oldest" is O(1) (iterating a Map from its
  // start walks over the holes left by deletions and would make the floor artificially slow).
  const order: string[] = new Array(ENTRIES);
  let oldest = 0;
  return [
    { name: 'ours (sync)', get: (k) => ours.get(k), set: (k, v) => ours.set(k, v) },
    { name: 'ours (async Cache)', get: (k) => face.get(k), set: (k, v) => face.set(k, v), async: true },
    { name: 'lru-cache', get: (k) => lru.get(k), set: (k, v) => lru.set(k, v) },
    { name: 'lru.min', get: (k) => lruMin.get(k), set: (k, v) => lruMin.set(k, v) },
    { name: 'mnemonist', get: (k) => mn.get(k), set: (k, v) => mn.set(k, v) },
    {
      name: 'Map',
      get: (k) => map.get(k),
      // The floor of a bounded map: at capacity, drop the oldest key, then insert.
      set: (k, v) => {
        if (!map.has(k)) {
          if (map.size >= ENTRIES) map.delete(order[oldest]!);
          order[oldest] = k;
          oldest = (oldest + 1) % ENTRIES;
        }
        map.set(k, v);
      },
    },
  ];
}

const shuffled = (keys: string[], seed: number) => {
  const rng = createRng(seed);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return keys;
};

const resident = shuffled(
  Array.from({ length: ENTRIES }, (_, i) => keyOf(i)),
  1,
);
const absent = Array.from({ length: 100_000 }, (_, i) => keyOf(10_000_000 + i));
const fresh = Array.from({ length: 1_000_000 }, (_, i) => keyOf(20_000_000 + i));
const zipf = zipfKeys({ n: 100_000, skew: 0.9, count: 1_000_000, seed: 7, prefix: 'key:' });
const writes = (() => {
  const rng = createRng(11);
  return Uint8Array.from({ length: zipf.length }, () => (rng() < 0.1 ? 1 : 0));
})();

/** Builds one task body running BATCH operations over a key array, resuming where it stopped. */
function batch(keys: readonly string[], op: (k: string, i: number) => unknown, isAsync: boolean) {
  let pos = 0;
  const n = keys.length;
  if (isAsync) {
    return async () => {
      for (let i = 0; i < BATCH; i++) {
        await op(keys[pos]!, pos);
        if (++pos === n) pos = 0;
      }
    };
  }
  return () => {
    for (let i = 0; i < BATCH; i++) {
      op(keys[pos]!, pos);
      if (++pos === n) pos = 0;
    }
  };
}

type Scenario = 'get-hit' | 'get-miss' | 'set at capacity' | 'zipf 90/10';
const results: { scenario: Scenario; name: string; nsPerOp: number }[] = [];

async function run(scenario: Scenario) {
  const bench = new Bench({ time: args.quick ? 150 : 600, warmupTime: args.quick ? 50 : 200 });
  for (const c of contenders()) {
    // Fill to capacity first (our cache admits by frequency, so fill by setting each key twice).
    for (const k of resident) c.set(k, VALUE);
    for (const k of resident) c.set(k, VALUE);
    if (c.async) await Promise.resolve();
    let body: () => unknown;
    if (scenario === 'get-hit') body = batch(resident, (k) => c.get(k), !!c.async);
    else if (scenario === 'get-miss') body = batch(absent, (k) => c.get(k), !!c.async);
    else if (scenario === 'set at capacity') body = batch(fresh, (k) => c.set(k, VALUE), !!c.async);
    else body = batch(zipf, (k, i) => (writes[i] === 1 ? c.set(k, VALUE) : c.get(k)) as unknown, !!c.async);
    bench.add(c.name, body);
  }
  await bench.run();
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${scenario}/${task.name}: ${r.state}`);
    results.push({ scenario, name: task.name, nsPerOp: (r.latency.p50 * 1e6) / BATCH });
  }
}

function heapPerEntry(): { name: string; bytes: number }[] {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    console.log('\n(heap per entry skipped: run with --expose-gc, as npm run bench:memory does)');
    return [];
  }
  const N = 1_000_000;
  const keys = Array.from({ length: N }, (_, i) => `k${i}`);
  const used = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const builders: [string, () => unknown][] = [
    [
      'ours (sync)',
      () => {
        const c = createSyncMemoryCache<Uint8Array>({ maxCost: N, cost: () => 1 });
        for (const k of keys) c.set(k, VALUE);
        return c;
      },
    ],
    [
      'lru-cache',
      () => {
        const c = new LRUCache<string, Uint8Array>({ max: N });
        for (const k of keys) c.set(k, VALUE);
        return c;
      },
    ],
    [
      'lru.min',
      () => {
        const c = createLRU<string, Uint8Array>({ max: N });
        for (const k of keys) c.set(k, VALUE);
        return c;
      },
    ],
    [
      'mnemonist',
      () => {
        const c = new MnemonistLRU<string, Uint8Array>(N);
        for (const k of keys) c.set(k, VALUE);
        return c;
      },
    ],
    [
      'Map',
      () => {
        const c = new Map<string, Uint8Array>();
        for (const k of keys) c.set(k, VALUE);
        return c;
      },
    ],
  ];
  const out: { name: string; bytes: number }[] = [];
  for (const [name, build] of builders) {
    const before = used();
    let held: unknown = build();
    const after = used();
    out.push({ name, bytes: Math.round((after - before) / N) });
    held = undefined;
    void held;
  }
  return out;
}

const scenarios: Scenario[] = ['get-hit', 'get-miss', 'set at capacity', 'zipf 90/10'];
for (const s of scenarios) await run(s);

const ns = (scenario: Scenario, name: string) =>
  results.find((r) => r.scenario === scenario && r.name === name)!.nsPerOp;
const names = [...new Set(results.map((r) => r.name))];
console.log(`\nmedian ns/op (${ENTRIES.toLocaleString('en')} entries, batches of ${BATCH})`);
const w = Math.max(...names.map((n) => n.length));
console.log(`| ${'cache'.padEnd(w)} | ${scenarios.map((s) => s.padStart(15)).join(' | ')} |`);
console.log(`|${'-'.repeat(w + 2)}|${scenarios.map(() => `${'-'.repeat(16)}:`).join('|')}|`);
for (const n of names)
  console.log(`| ${n.padEnd(w)} | ${scenarios.map((s) => ns(s, n).toFixed(1).padStart(15)).join(' | ')} |`);

const goals: { what: string; ratio: number; goal: number }[] = [
  { what: 'get-hit: ours / Map', ratio: ns('get-hit', 'ours (sync)') / ns('get-hit', 'Map'), goal: 3.5 },
  {
    what: 'get-hit: ours / lru-cache',
    ratio: ns('get-hit', 'ours (sync)') / ns('get-hit', 'lru-cache'),
    goal: 0.8,
  },
  { what: 'get-miss: ours / Map', ratio: ns('get-miss', 'ours (sync)') / ns('get-miss', 'Map'), goal: 2.5 },
  {
    what: 'set at capacity: ours / Map floor',
    ratio: ns('set at capacity', 'ours (sync)') / ns('set at capacity', 'Map'),
    goal: 2.5,
  },
  {
    what: 'set at capacity: ours / lru-cache',
    ratio: ns('set at capacity', 'ours (sync)') / ns('set at capacity', 'lru-cache'),
    goal: 1.5,
  },
  {
    what: 'zipf 90/10: ours / Map',
    ratio: ns('zipf 90/10', 'ours (sync)') / ns('zipf 90/10', 'Map'),
    goal: 2,
  },
];
console.log('\nratios (same run)');
for (const g of goals)
  console.log(
    `  ${g.what.padEnd(36)} ${g.ratio.toFixed(2).padStart(6)}×  goal ≤ ${g.goal}  ${g.ratio <= g.goal ? 'ok' : 'MISSED'}`,
  );
const sub100 = scenarios.every((s) => ns(s, 'ours (sync)') < 100);
console.log(`  every sync op under 100 ns: ${sub100 ? 'yes' : 'no'}`);

const heap = heapPerEntry();
if (heap.length) {
  console.log('\nheap bytes per entry at 1,000,000 entries (keys included; our sketch and filters included)');
  for (const h of heap) console.log(`  ${h.name.padEnd(w)} ${String(h.bytes).padStart(6)}`);
}

if (args.json) {
  writeFileSync(
    args.json,
    `${JSON.stringify({ nsPerOp: results, ratios: goals, heapBytesPerEntry: heap }, null, 2)}\n`,
  );
  console.log(`wrote ${args.json}`);
}
