/**
 * Speed benchmark of the memory cache against lru-cache, lru.min, mnemonist's LRUCache and a
 * plain Map (the floor), all in one process at 10,000 entries: get-hit, get-miss, set at
 * capacity (admission + eviction; the Map floor deletes its oldest key then sets), a 90/10
 * read/write Zipf mix and Zipf 0.99 get-or-set over 100k keys; on get-hit also `Map (async)`, a
 * settled promise of a Map hit awaited by the caller, the floor of any async get, and `key hash
 * only`, what hashing the key costs on its own (our key table hashes it on every get). Prints median ns/op, heap bytes
 * per entry at 1M entries (needs --expose-gc, which `npm run bench:memory` passes), then every
 * goal of issue 14 with its ratio and met/missed, and writes benchmarks/figures/memory-ratios.svg.
 *
 *   npm run bench:memory [-- --json OUT] [-- --quick] [-- --no-figures] [-- --only SCENARIO]
 *
 * Each task runs a batch of operations per call, so the timer's own overhead (tens of ns) is
 * spread over the batch instead of swamping a ~20 ns operation.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLRU } from 'lru.min';
import { LRUCache } from 'lru-cache';
import { LRUCache as MnemonistLRU } from 'mnemonist';
import { Bench } from 'tinybench';
import { tableHash } from '../lib/cache/memory/hash.js';
import { createMemoryCache, createSyncMemoryCache } from '../lib/cache/memory/index.js';
import { benchArgs, usageError } from './lib/args.js';
import { type Bar, barChart } from './lib/svg.js';
import { createRng, zipfKeys } from './lib/zipf.js';

const USAGE = `usage:
  npm run bench:memory [-- --json OUT] [-- --quick] [-- --no-figures] [-- --only SCENARIO]`;
const args = benchArgs(USAGE, {
  json: { type: 'string' },
  quick: { type: 'boolean' },
  'no-figures': { type: 'boolean' },
  // Scenarios whose name contains this (e.g. --only set); the goals of the others are named as
  // not measured.
  only: { type: 'string' },
});

const ENTRIES = 10_000;
/** Alternating rounds per scenario; each contender's figure is its median over them. */
const ROUNDS = 7;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const BATCH = 1_000;
const VALUE = new Uint8Array(16);
const keyOf = (i: number) => `key:${(Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(36)}`;

/** The operations every contender offers, synchronous or not. */
interface Contender {
  name: string;
  get(key: string): unknown;
  set(key: string, value: Uint8Array): unknown;
  async?: boolean;
  /** Scenarios this contender runs in (default: all). */
  only?: Scenario[];
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
      // The floor of any promise-returning get: a settled promise of a Map hit, awaited by the
      // caller (what the async face's get-hit costs over the sync one can be no lower than this).
      name: 'Map (async)',
      get: (k) => Promise.resolve(map.get(k)),
      set: (k, v) => map.set(k, v),
      async: true,
      only: ['get-hit'],
    },
    {
      // What hashing the key costs on its own (our key table's hash, computed on every get):
      // a Map reads the hash V8 cached in the string, so on stored key strings this is a cost
      // lru-cache and the Map never pay. Reference only, no goal.
      name: 'key hash only',
      get: (k) => tableHash(k),
      set: () => undefined,
      only: ['get-hit'],
    },
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
// The issue's Zipf goal: skew 0.99 over 100k keys, demand-fill (get, and set on a miss).
const zipf99 = zipfKeys({ n: 100_000, skew: 0.99, count: 1_000_000, seed: 8, prefix: 'key:' });
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

type Scenario = 'get-hit' | 'get-miss' | 'set at capacity' | 'zipf 90/10' | 'zipf 0.99 get-or-set';
const results: { scenario: Scenario; name: string; nsPerOp: number }[] = [];

/**
 * Runs every contender of a scenario in ROUNDS short rounds, in rotated order, and keeps each
 * contender's median over the rounds: on a shared machine the load changes within seconds, and
 * one long task per contender compared contenders measured at different times (ratios moved by
 * ±40 % between runs); alternating short rounds compares them under the same load.
 */
async function run(scenario: Scenario) {
  const tasks: { name: string; body: () => unknown }[] = [];
  for (const c of contenders()) {
    if (c.only !== undefined && !c.only.includes(scenario)) continue;
    // Fill to capacity first (our cache admits by frequency, so fill by setting each key twice).
    for (const k of resident) c.set(k, VALUE);
    for (const k of resident) c.set(k, VALUE);
    if (c.async) await Promise.resolve();
    let body: () => unknown;
    if (scenario === 'get-hit') body = batch(resident, (k) => c.get(k), !!c.async);
    else if (scenario === 'get-miss') body = batch(absent, (k) => c.get(k), !!c.async);
    else if (scenario === 'set at capacity') body = batch(fresh, (k) => c.set(k, VALUE), !!c.async);
    else if (scenario === 'zipf 0.99 get-or-set')
      body = c.async
        ? batch(zipf99, async (k) => ((await c.get(k)) === undefined ? c.set(k, VALUE) : undefined), true)
        : batch(zipf99, (k) => (c.get(k) === undefined ? c.set(k, VALUE) : undefined), false);
    else body = batch(zipf, (k, i) => (writes[i] === 1 ? c.set(k, VALUE) : c.get(k)) as unknown, !!c.async);
    tasks.push({ name: c.name, body });
  }
  const perRound = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: args.quick ? 60 : 150, warmupTime: round === 0 ? 100 : 20 });
    const k = round % tasks.length;
    for (const t of [...tasks.slice(k), ...tasks.slice(0, k)]) bench.add(t.name, t.body);
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`${scenario}/${task.name}: ${r.state}`);
      perRound.get(task.name)!.push((r.latency.p50 * 1e6) / BATCH);
    }
  }
  for (const [name, xs] of perRound) results.push({ scenario, name, nsPerOp: median(xs) });
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

const scenarios: Scenario[] = [
  'get-hit',
  'get-miss',
  'set at capacity',
  'zipf 90/10',
  'zipf 0.99 get-or-set',
];
// A filter matching nothing used to run nothing and then crash printing an empty table.
if (args.only !== undefined && !scenarios.some((s) => s.includes(args.only as string)))
  usageError(USAGE, `--only ${JSON.stringify(args.only)} matches no scenario (${scenarios.join(', ')})`);
for (const s of scenarios) if (args.only === undefined || s.includes(args.only)) await run(s);

const ns = (scenario: Scenario, name: string) =>
  results.find((r) => r.scenario === scenario && r.name === name)?.nsPerOp ?? Number.NaN;
const names = [...new Set(results.map((r) => r.name))];
console.log(
  `\nmedian ns/op (${ENTRIES.toLocaleString('en')} entries, batches of ${BATCH}, medians of ${ROUNDS} alternating rounds)`,
);
const w = Math.max(...names.map((n) => n.length));
const cw = Math.max(...scenarios.map((s) => s.length));
console.log(`| ${'cache'.padEnd(w)} | ${scenarios.map((s) => s.padStart(cw)).join(' | ')} |`);
console.log(`|${'-'.repeat(w + 2)}|${scenarios.map(() => `${'-'.repeat(cw + 1)}:`).join('|')}|`);
for (const n of names)
  console.log(
    `| ${n.padEnd(w)} | ${scenarios.map((s) => (Number.isNaN(ns(s, n)) ? '-' : ns(s, n).toFixed(1)).padStart(cw)).join(' | ')} |`,
  );

const heap = args.only === undefined ? heapPerEntry() : [];
const heapOf = (name: string) => heap.find((h) => h.name === name)?.bytes;

/** The issue's goals (#14), each a ratio (or a figure) and its bound; met when ≤ goal. */
interface Goal {
  what: string;
  value: number;
  goal: number;
  unit: '×' | 'ns' | 'B';
}
const sync = 'ours (sync)';
const goals: Goal[] = [
  {
    what: 'get-hit: ours / lru-cache',
    value: ns('get-hit', sync) / ns('get-hit', 'lru-cache'),
    goal: 1,
    unit: '×',
  },
  {
    what: 'get-hit: ours / lru-cache (stretch)',
    value: ns('get-hit', sync) / ns('get-hit', 'lru-cache'),
    goal: 0.8,
    unit: '×',
  },
  { what: 'get-hit: ours / Map', value: ns('get-hit', sync) / ns('get-hit', 'Map'), goal: 3, unit: '×' },
  { what: 'get-hit: ours (sync)', value: ns('get-hit', sync), goal: 100, unit: 'ns' },
  { what: 'get-miss: ours / Map', value: ns('get-miss', sync) / ns('get-miss', 'Map'), goal: 1.5, unit: '×' },
  {
    what: 'set at capacity: ours / lru-cache',
    value: ns('set at capacity', sync) / ns('set at capacity', 'lru-cache'),
    goal: 1.5,
    unit: '×',
  },
  {
    what: 'zipf 0.99 get-or-set: ours / lru-cache',
    value: ns('zipf 0.99 get-or-set', sync) / ns('zipf 0.99 get-or-set', 'lru-cache'),
    goal: 1.2,
    unit: '×',
  },
  {
    what: 'async get-hit − sync get-hit',
    value: ns('get-hit', 'ours (async Cache)') - ns('get-hit', sync),
    goal: 100,
    unit: 'ns',
  },
];
const ourHeap = heapOf(sync);
if (ourHeap !== undefined)
  goals.push({ what: 'heap per entry at 1M entries', value: ourHeap, goal: 80, unit: 'B' });

// An --only run measures one scenario: the goals of the others used to print as "NaN× MISSED"
// (and `null` in --json), which reads as a measured failure. They are named as not measured.
const measured = goals.filter((g) => !Number.isNaN(g.value));
const notMeasured = goals.filter((g) => Number.isNaN(g.value));
console.log('\ngoals of issue 14 (same run; met when ≤ goal)');
const gw = Math.max(...goals.map((g) => g.what.length));
for (const g of measured) {
  const v =
    g.unit === '×' ? `${g.value.toFixed(2)}×` : `${g.value.toFixed(g.unit === 'B' ? 0 : 1)} ${g.unit}`;
  const bound = g.unit === '×' ? `${g.goal}×` : `${g.goal} ${g.unit}`;
  console.log(
    `  ${g.what.padEnd(gw)} ${v.padStart(9)}  goal ≤ ${bound.padEnd(7)} ${g.value <= g.goal ? 'met' : 'MISSED'}`,
  );
}
if (notMeasured.length)
  console.log(`  not measured in this --only run: ${notMeasured.map((g) => g.what).join('; ')}`);
console.log('  for reference:');
if (!Number.isNaN(ns('get-hit', sync))) {
  console.log(
    `    async floor: Map (async) − Map on get-hit ${(ns('get-hit', 'Map (async)') - ns('get-hit', 'Map')).toFixed(1)} ns (a settled promise and the caller's await)`,
  );
  console.log(
    `    key hash alone ${ns('get-hit', 'key hash only').toFixed(1)} ns of ours' ${ns('get-hit', sync).toFixed(1)} ns get-hit (Map's whole get-hit: ${ns('get-hit', 'Map').toFixed(1)} ns, with the hash V8 cached in the key string)`,
  );
}
for (const s of scenarios)
  if (!Number.isNaN(ns(s, sync)))
    console.log(
      `    ${s.padEnd(cw)}  ours / Map ${(ns(s, sync) / ns(s, 'Map')).toFixed(2)}×, ours / lru-cache ${(ns(s, sync) / ns(s, 'lru-cache')).toFixed(2)}×`,
    );

if (heap.length) {
  console.log('\nheap bytes per entry at 1,000,000 entries (keys included; our sketch and filters included)');
  for (const h of heap) console.log(`  ${h.name.padEnd(w)} ${String(h.bytes).padStart(6)}`);
}

// The committed chart (benchmarks/README.md) is a whole run's: an --only run has NaN for every
// other scenario and used to overwrite it with those.
if (args.only !== undefined) console.log('figure: not written (an --only run measures one scenario)');
else if (!args['no-figures']) {
  const dir = fileURLToPath(new URL('figures/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const bars: Bar[] = [];
  for (const s of scenarios) {
    for (const peer of ['lru-cache', 'Map']) {
      const goal = goals.find((g) => g.unit === '×' && g.what === `${s}: ours / ${peer}`)?.goal;
      bars.push({ label: `${s}: ours / ${peer}`, value: ns(s, sync) / ns(s, peer), goal });
    }
  }
  writeFileSync(
    `${dir}memory-ratios.svg`,
    barChart({
      title: `Memory cache speed against lru-cache and Map (${ENTRIES.toLocaleString('en')} entries; lower is better)`,
      xLabel: 'time per operation relative to the peer (black mark: goal of issue 14)',
      bars,
    }),
  );
  console.log(`figure: ${dir}memory-ratios.svg`);
}

if (args.json) {
  writeFileSync(
    args.json,
    `${JSON.stringify(
      {
        nsPerOp: results,
        // The measured goals only (see above), each with its verdict as printed.
        goals: measured.map((g) => ({ ...g, met: g.value <= g.goal })),
        asyncFloorNs: ns('get-hit', 'Map (async)') - ns('get-hit', 'Map'),
        heapBytesPerEntry: heap,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${args.json}`);
}
