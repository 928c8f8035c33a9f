/**
 * Tiered cache benchmark: per-operation cost of `getOrSet` on an L1 hit, an L2 hit and a miss that
 * runs the loader, against bentocache's `getOrSet` on the same Redis in the same run.
 *
 * Setup, the same for both: a 10 MB memory L1 in front of a Redis L2 (harness-started redis-server,
 * loopback, no persistence), 100-byte values, 1,000 hot keys, no bus (reads never use it).
 * - ours: createTieredCache({ l1: createMemoryCache({ maxCost: 10 MB }), l2: createRedisCache(…) });
 * - bentocache: bentostore().useL1Layer(memoryDriver({ maxSize: '10mb' })).useL2Layer(redisDriver
 *   ({ connection: ioredis })); also with `serialize: false` on L1 (stores live objects: its
 *   fastest hit path), reported as a second peer.
 * "L2 hit" uses each library with L2 only (ours: the no-op cache as L1), so every read is an L2
 * round trip through the library's getOrSet path. "miss" uses a new key per call.
 *
 * Peers alternate in rounds and the median round is reported. Goal: faster than bentocache on L1
 * hits, no slower on L2 hits.
 *
 * Then server-assisted invalidation (CLIENT TRACKING, issue 18): the L1 hit of the same tiered cache
 * without tracking, with tracking in default mode and in BCAST mode (goal: no cost — an L1 hit
 * never touches tracking); and its cost on Redis: `used_memory` and the tracking table
 * (`INFO stats` tracking_total_*) after `--tracked-keys` distinct keys were read through a
 * tracked connection, default vs BCAST vs none (each on a fresh server).
 *
 *   npm run bench:tiered [-- --time MS] [-- --rounds N] [-- --json OUT] [-- --only-tracking] [-- --tracked-keys N]
 */
import { writeFileSync } from 'node:fs';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { Redis as IoRedis } from 'ioredis';
import { createMemoryCache } from '../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../lib/cache/redis/index.js';
import { createTieredCache } from '../lib/cache/tiered/index.js';
import { createNoopCache } from '../lib/core/noop.js';
import { findBinary } from '../spec/harness/process.js';
import { redisCommand, startRedis } from '../spec/harness/redis.js';
import { benchArgs, numberArg } from './lib/args.js';
import { measureRound, median, type Round } from './lib/rounds.js';

const USAGE = `usage:
  npm run bench:tiered [-- --time MS] [-- --rounds N] [-- --json OUT] [-- --only-tracking] [-- --tracked-keys N]`;
const args = benchArgs(USAGE, {
  json: { type: 'string' },
  time: { type: 'string', default: '700' },
  rounds: { type: 'string', default: '3' },
  'only-tracking': { type: 'boolean', default: false },
  'tracked-keys': { type: 'string', default: '100000' },
});
const TIME = numberArg(USAGE, 'time', args.time, { min: 1 });
const ROUNDS = numberArg(USAGE, 'rounds', args.rounds, { min: 1, integer: true });
// Read with the others: parsed where the tracking memory scenario starts, a bad --tracked-keys
// stopped the script only after every scenario before it had run.
const TRACKED_KEYS = numberArg(USAGE, 'tracked-keys', args['tracked-keys'], { min: 1, integer: true });
const KEYS = 1000;
const L1_BYTES = 10 * 1024 * 1024;
const TTL_MS = 10 * 60_000;
const VALUE = new Uint8Array(100).fill(0x61);
const VALUE_STR = 'a'.repeat(100);

if (!findBinary('redis-server')) {
  console.error('redis-server not found — install: apt-get install -y redis-server redis-tools');
  process.exit(1);
}

const round = (fn: () => Promise<unknown>, concurrency: number) => measureRound(fn, concurrency, TIME);

async function compare(
  peers: Record<string, () => Promise<unknown>>,
  concurrency: number,
): Promise<Record<string, Round>> {
  const names = Object.keys(peers);
  for (const n of names)
    await Promise.all(Array.from({ length: Math.max(64, concurrency) }, () => peers[n]!()));
  const rounds: Record<string, Round[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse())
      rounds[n]!.push(await round(peers[n]!, concurrency));
  }
  return Object.fromEntries(
    names.map((n) => {
      const rs = rounds[n]!;
      return [
        n,
        {
          opsPerSec: median(rs.map((r) => r.opsPerSec)),
          p50: median(rs.map((r) => r.p50)),
          p99: median(rs.map((r) => r.p99)),
          cpuUs: median(rs.map((r) => r.cpuUs)),
        },
      ];
    }),
  );
}

const fmt = (n: number, d = 0) => n.toFixed(d).padStart(10);
/** Ends the run early (`--only-tracking`) through the same `finally`. */
class Done extends Error {}
const rows: Record<string, unknown>[] = [];
function report(scenario: string, results: Record<string, Round>, base = 'ours') {
  const ref = results[base]!;
  console.log(`\n${scenario}`);
  console.log(
    `  ${'peer'.padEnd(28)}${'ops/s'.padStart(10)}${'p50 µs'.padStart(10)}${'p99 µs'.padStart(10)}${'cpu µs/op'.padStart(11)}  ${base} is`,
  );
  for (const [name, r] of Object.entries(results)) {
    const speedup = ref.opsPerSec / r.opsPerSec;
    const note = name === base ? '' : `${speedup.toFixed(2)}× the throughput`;
    console.log(
      `  ${name.padEnd(28)}${fmt(r.opsPerSec)}${fmt(r.p50 * 1000, 1)}${fmt(r.p99 * 1000, 1)}${fmt(r.cpuUs, 2).padStart(11)}  ${note}`,
    );
    rows.push({ scenario, peer: name, ...r, oursSpeedup: speedup });
  }
}

const redis = await startRedis();
const addr = `${redis.host}:${redis.port}`;
const ioredis = () => {
  const c = new IoRedis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  return c;
};

// ---------------------------------------------------------------- ours
const l2 = createRedisCache({ addresses: [addr], keyPrefix: 'ours:' });
const l1 = createMemoryCache({ maxCost: L1_BYTES });
const ours = createTieredCache({ l1, l2 });
const oursL2Only = createTieredCache({
  l1: createNoopCache(),
  l2: createRedisCache({ addresses: [addr], keyPrefix: 'ours:' }),
});

// ---------------------------------------------------------------- bentocache
const bento = new BentoCache({
  default: 'tiered',
  stores: {
    tiered: bentostore()
      .useL1Layer(memoryDriver({ maxSize: '10mb', maxItems: 1_000_000 }))
      .useL2Layer(redisDriver({ connection: ioredis(), prefix: 'bento' })),
    objects: bentostore()
      .useL1Layer(memoryDriver({ maxItems: 1_000_000, serialize: false }))
      .useL2Layer(redisDriver({ connection: ioredis(), prefix: 'bento-obj' })),
    l2only: bentostore().useL2Layer(redisDriver({ connection: ioredis(), prefix: 'bento' })),
  },
});
const bentoObjects = bento.use('objects');
const bentoL2 = bento.use('l2only');

/** INFO field as a number. */
async function info(port: number, section: string, field: string): Promise<number> {
  const text = String(await redisCommand(port, ['INFO', section]));
  return Number(new RegExp(`^${field}:(\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/** L1-hit cost with and without tracking, and the tracking table's memory on Redis. */
async function trackingScenarios(): Promise<void> {
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
  let i = 0;
  const next = () => {
    i = (i + 1) % KEYS;
    return keys[i]!;
  };
  const load = () => VALUE;
  const make = (mode?: 'default' | 'bcast') => {
    const level2 = createRedisCache({ addresses: [addr], keyPrefix: `trk-${mode ?? 'none'}:` });
    return createTieredCache({
      l1: createMemoryCache({ maxCost: L1_BYTES }),
      l2: level2,
      tracking: mode ? createRedisTracking({ cache: level2, mode }) : undefined,
    });
  };
  const peers = {
    'no tracking': make(),
    'tracking default': make('default'),
    'tracking bcast': make('bcast'),
  };
  try {
    for (const c of Object.values(peers)) {
      await c.ready;
      for (const key of keys) await c.getOrSet(key, load, TTL_MS);
      // With tracking a loaded value is not put into L1 (only a value read from L2 is): read once more.
      for (const key of keys) await c.getOrSet(key, load, TTL_MS);
    }
    const results = await compare(
      Object.fromEntries(
        Object.entries(peers).map(([name, c]) => [name, () => c.getOrSet(next(), load, TTL_MS)]),
      ),
      1,
    );
    report('tracking: getOrSet L1 hit (concurrency 1)', results, 'no tracking');
    for (const [name, c] of Object.entries(peers)) {
      const s = c.stats();
      console.log(`  (${name}: ${((s.l1Hits / (s.hits + s.misses)) * 100).toFixed(2)} % L1 hits overall)`);
    }
  } finally {
    for (const c of Object.values(peers)) await c.close();
  }

  const n = TRACKED_KEYS;
  console.log(
    `\ntracking: Redis memory after ${n} distinct keys were read through the tiered cache (fresh server each)`,
  );
  console.log(
    `  ${'mode'.padEnd(18)}${'used_memory Δ'.padStart(16)}${'per key'.padStart(10)}${'tracked keys'.padStart(14)}${'items'.padStart(10)}${'prefixes'.padStart(10)}`,
  );
  for (const mode of [undefined, 'default', 'bcast'] as const) {
    const server = await startRedis();
    const a = `${server.host}:${server.port}`;
    const level2 = createRedisCache({ addresses: [a], keyPrefix: 'm:' });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1024 }),
      l2: level2,
      tracking: mode ? createRedisTracking({ cache: level2, mode }) : undefined,
    });
    try {
      await cache.ready;
      const all = Array.from({ length: n }, (_, j) => `key:${j}`);
      for (let j = 0; j < n; j += 1000)
        await cache.setMany(all.slice(j, j + 1000).map((key) => ({ key, value: VALUE, ttl: TTL_MS })));
      const base = await info(server.port, 'memory', 'used_memory');
      for (let j = 0; j < n; j += 500) await cache.getMany(all.slice(j, j + 500));
      const used = (await info(server.port, 'memory', 'used_memory')) - base;
      const tracked = await info(server.port, 'stats', 'tracking_total_keys');
      const items = await info(server.port, 'stats', 'tracking_total_items');
      const prefixes = await info(server.port, 'stats', 'tracking_total_prefixes');
      console.log(
        `  ${(mode ?? 'none').padEnd(18)}${fmt(used / 1024 / 1024, 2).padStart(13)} MB${fmt(used / n, 1)} B${String(tracked).padStart(14)}${String(items).padStart(10)}${String(prefixes).padStart(10)}`,
      );
      rows.push({
        scenario: 'tracking memory',
        mode: mode ?? 'none',
        keys: n,
        usedMemoryDelta: used,
        tracked,
        items,
        prefixes,
      });
    } finally {
      await cache.close();
      await server.stop();
    }
  }
}

try {
  if (args['only-tracking']) {
    await trackingScenarios();
    throw new Done();
  }
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
  let i = 0;
  const next = () => {
    i = (i + 1) % KEYS;
    return keys[i]!;
  };
  const loadOurs = () => VALUE;
  const loadBento = () => VALUE_STR;
  for (const key of keys) {
    await ours.getOrSet(key, loadOurs, TTL_MS);
    await bento.getOrSet({ key, factory: loadBento, ttl: TTL_MS });
    await bentoObjects.getOrSet({ key, factory: loadBento, ttl: TTL_MS });
  }

  console.log(
    `Redis ${addr}, ${VALUE.length}-byte values, ${KEYS} keys, 10 MB L1, ${ROUNDS} rounds × ${TIME} ms per peer (medians), Node ${process.version}`,
  );

  const before = ours.stats();
  report(
    'getOrSet, L1 hit (concurrency 1)',
    await compare(
      {
        ours: () => ours.getOrSet(next(), loadOurs, TTL_MS),
        'bentocache (serialize)': () => bento.getOrSet({ key: next(), factory: loadBento, ttl: TTL_MS }),
        'bentocache (no serialize)': () =>
          bentoObjects.getOrSet({ key: next(), factory: loadBento, ttl: TTL_MS }),
      },
      1,
    ),
  );
  const after = ours.stats();
  const l1Share = (after.l1Hits - before.l1Hits) / (after.hits + after.misses - before.hits - before.misses);
  console.log(`  (ours: ${(l1Share * 100).toFixed(2)} % of those reads were L1 hits)`);

  for (const c of [1, 64]) {
    report(
      `getOrSet, L2 hit (L2-only: every read a Redis round trip), concurrency ${c}`,
      await compare(
        {
          ours: () => oursL2Only.getOrSet(next(), loadOurs, TTL_MS),
          bentocache: () => bentoL2.getOrSet({ key: next(), factory: loadBento, ttl: TTL_MS }),
        },
        c,
      ),
    );
  }
  const s = oursL2Only.stats();
  console.log(`  (ours L2-only: ${s.l2Hits} L2 hits, ${s.misses} misses)`);

  let m = 0;
  report(
    'getOrSet, miss → loader (new key per call: L1 miss, L2 miss, loader, L2 + L1 fill), concurrency 1',
    await compare(
      {
        ours: () => ours.getOrSet(`miss:${m++}`, loadOurs, 60_000),
        bentocache: () => bento.getOrSet({ key: `miss:${m++}`, factory: loadBento, ttl: 60_000 }),
      },
      1,
    ),
  );

  await trackingScenarios();
} catch (err) {
  if (!(err instanceof Done)) throw err;
} finally {
  if (args.json) {
    writeFileSync(args.json, JSON.stringify(rows, null, 2));
    console.log(`\nwrote ${args.json}`);
  }
  await ours.close();
  await oursL2Only.close();
  await bento.disconnectAll().catch(() => {});
  await redis.stop();
}
