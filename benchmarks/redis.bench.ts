/**
 * Redis benchmark: the cache adapter against raw iovalkey on the same server in the same run —
 * get/set at concurrency 1 and 64 and a 100-key getMany — plus what auto-pipelining and extra
 * connections buy. The server is started by the test harness (loopback, no persistence).
 *
 * Peers alternate in rounds (raw, adapter, raw, adapter, …) and the median round is reported, so
 * background noise hits both sides alike. Concurrency 64 uses tinybench's task concurrency: 64
 * iterations in flight at once, each sample one operation's latency; ops/s = runs / wall time.
 * Goals (issue 14): adapter throughput within 3 % of raw for GET and SET at concurrency 1 and 64
 * and for getMany, p99 < 5 ms at concurrency 64; printed at the end with met/missed. Every SET of
 * the adapter is a Lua script with a server-clock deadline (issue 13, ./lib/cache/redis/deadline.ts),
 * so the SET rows also show raw iovalkey running that same script: the fair peer for what the
 * adapter adds, next to the goal's peer (a plain SET). Wall-clock figures swing with other load on
 * the machine; the client CPU time per operation shows the adapter's own cost.
 *
 *   npm run bench:redis [-- --time MS] [-- --rounds N] [-- --json OUT]
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'iovalkey';
import { SCRIPT as GUARDED_SET } from '../lib/cache/redis/deadline.js';
import { createRedisCache, type RedisCache } from '../lib/cache/redis/index.js';
import { findBinary } from '../spec/harness/process.js';
import { startRedis } from '../spec/harness/redis.js';
import { benchArgs, numberArg } from './lib/args.js';
import { measureRound, median, type Round } from './lib/rounds.js';

const USAGE = `usage:
  npm run bench:redis [-- --time MS] [-- --rounds N] [-- --json OUT]`;
const args = benchArgs(USAGE, {
  json: { type: 'string' },
  time: { type: 'string', default: '700' },
  rounds: { type: 'string', default: '3' },
});
const TIME = numberArg(USAGE, 'time', args.time, { min: 1 });
const ROUNDS = numberArg(USAGE, 'rounds', args.rounds, { min: 1, integer: true });
const KEYS = 1000;
const VALUE = Buffer.alloc(256, 0xab);

if (!findBinary('redis-server')) {
  console.error('redis-server not found — install: apt-get install -y redis-server redis-tools');
  process.exit(1);
}

const round = (fn: () => Promise<unknown>, concurrency: number) => measureRound(fn, concurrency, TIME);
const summarize = (rs: Round[]): Round => ({
  opsPerSec: median(rs.map((r) => r.opsPerSec)),
  p50: median(rs.map((r) => r.p50)),
  p99: median(rs.map((r) => r.p99)),
  cpuUs: median(rs.map((r) => r.cpuUs)),
});

/** A peer's medians, plus its throughput in each round (round i of two peers ran back to back). */
type PeerResult = Round & { opsRounds: number[] };

/** Runs peers alternately for ROUNDS rounds (after one short warm-up each); medians per peer. */
async function compare(
  peers: Record<string, () => Promise<unknown>>,
  concurrency: number,
): Promise<Record<string, PeerResult>> {
  const names = Object.keys(peers);
  for (const n of names) {
    const warm = Array.from({ length: concurrency }, () => peers[n]!());
    await Promise.all(warm);
  }
  const rounds: Record<string, Round[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of r % 2 === 0 ? names : [...names].reverse())
      rounds[n]!.push(await round(peers[n]!, concurrency));
  }
  return Object.fromEntries(
    names.map((n) => [n, { ...summarize(rounds[n]!), opsRounds: rounds[n]!.map((r) => r.opsPerSec) }]),
  );
}

const fmt = (n: number, d = 0) => n.toFixed(d).padStart(9);
const rows: Record<string, unknown>[] = [];
const results: Record<string, Record<string, PeerResult>> = {};
function report(scenario: string, res: Record<string, PeerResult>, base = 'raw iovalkey') {
  results[scenario] = res;
  const ref = res[base]!;
  console.log(`\n${scenario}`);
  console.log(
    `  ${'peer'.padEnd(34)}${'ops/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}  vs raw`,
  );
  for (const [name, r] of Object.entries(res)) {
    const ratio = r.opsPerSec / ref.opsPerSec;
    const cpuRatio = r.cpuUs / ref.cpuUs;
    const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)} %`;
    const delta = name === base ? '' : `${pct(ratio).padStart(12)}  ${pct(cpuRatio).padStart(10)}`;
    console.log(
      `  ${name.padEnd(34)}${fmt(r.opsPerSec)}${fmt(r.p50, 3)}${fmt(r.p99, 3)}${fmt(r.cpuUs, 1).padStart(11)}  ${delta}`,
    );
    rows.push({ scenario, peer: name, ...r, ratioVsRaw: ratio, cpuRatioVsRaw: cpuRatio });
  }
}

const redis = await startRedis();
const addr = `${redis.host}:${redis.port}`;
const rawOpts = { host: redis.host, port: redis.port, commandTimeout: 3000, maxRetriesPerRequest: 1 };
const raw = new Redis(rawOpts);
const rawAuto = new Redis({ ...rawOpts, enableAutoPipelining: true });
const rawPool = Array.from({ length: 4 }, () => new Redis(rawOpts));
const cache: RedisCache = createRedisCache({ addresses: [addr] });
const cacheAuto: RedisCache = createRedisCache({ addresses: [addr], autoPipelining: true });
for (const c of [raw, rawAuto, ...rawPool]) c.on('error', () => {});
// The adapter's guarded write on the raw client (same script, same arguments, EVALSHA after the first
// use), with the deadline the adapter would compute: the command timeout (3 s) less its 10 % margin.
raw.defineCommand('guardedSet', { numberOfKeys: 1, lua: GUARDED_SET });
type Guarded = { guardedSet(...args: unknown[]): Promise<number> };
const guardedSet = (key: string) =>
  (raw as unknown as Guarded).guardedSet(key, VALUE, String(Date.now() + 2700), '600000', '');

try {
  await Promise.all([raw, rawAuto, ...rawPool].map((c) => c.ping()));
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
  // No key prefix: both peers send the same key strings, so only the adapter's own work differs.
  const full = keys;
  await cache.setMany(keys.map((key) => ({ key, value: VALUE })));
  const hundred = keys.slice(0, 100);
  const hundredFull = full.slice(0, 100);
  let i = 0;
  const next = () => (i = (i + 1) % KEYS);
  let pi = 0;

  console.log(
    `Redis ${addr}, ${VALUE.length}-byte values, ${ROUNDS} rounds × ${TIME} ms per peer (medians), Node ${process.version}`,
  );

  for (const c of [1, 64]) {
    report(
      `GET, concurrency ${c}`,
      await compare(
        {
          'raw iovalkey': () => raw.getBuffer(full[next()]!),
          'adapter cache.get': () => cache.get(keys[next()]!),
        },
        c,
      ),
    );
    report(
      `SET PX, concurrency ${c}`,
      await compare(
        {
          'raw iovalkey': () => raw.set(full[next()]!, VALUE, 'PX', 600_000),
          'raw, same guarded-SET script': () => guardedSet(full[next()]!),
          'adapter cache.set': () => cache.set(keys[next()]!, VALUE, 600_000),
        },
        c,
      ),
    );
  }
  report(
    'getMany of 100 keys (one MGET), concurrency 1',
    await compare(
      {
        'raw iovalkey': () => raw.mgetBuffer(hundredFull),
        'adapter cache.getMany': () => cache.getMany(hundred),
      },
      1,
    ),
  );
  for (const c of [1, 64]) {
    report(
      `GET, concurrency ${c}: what auto-pipelining and extra connections buy`,
      await compare(
        {
          'raw iovalkey': () => raw.getBuffer(full[next()]!),
          'raw, auto-pipelining': () => rawAuto.getBuffer(full[next()]!),
          'raw, 4 connections round-robin': () => rawPool[pi++ % 4]!.getBuffer(full[next()]!),
          'adapter, autoPipelining: true': () => cacheAuto.get(keys[next()]!),
        },
        c,
      ),
    );
  }
  // Each goal of issue 14 with its ratio and met/missed (throughput ratio = adapter / raw).
  const goals: { goal: string; figure: string; met: boolean }[] = [];
  const ratio = (scenario: string, peer: string, base = 'raw iovalkey') =>
    results[scenario]![peer]!.opsPerSec / results[scenario]![base]!.opsPerSec;
  const within = (scenario: string, peer: string, base = 'raw iovalkey') => {
    const r = ratio(scenario, peer, base);
    // The spread of the per-round ratios shows how far one run's figure can be trusted here.
    const a = results[scenario]![peer]!.opsRounds;
    const b = results[scenario]![base]!.opsRounds;
    const perRound = a.map((x, i) => x / b[i]!);
    goals.push({
      goal: `${scenario}: ${peer} vs ${base} ≥ 0.97×`,
      figure: `${r.toFixed(3)}× (${((r - 1) * 100).toFixed(1)} %; rounds ${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)})`,
      met: r >= 0.97,
    });
  };
  for (const c of [1, 64]) {
    within(`GET, concurrency ${c}`, 'adapter cache.get');
    within(`SET PX, concurrency ${c}`, 'adapter cache.set');
    within(`SET PX, concurrency ${c}`, 'adapter cache.set', 'raw, same guarded-SET script');
  }
  within('getMany of 100 keys (one MGET), concurrency 1', 'adapter cache.getMany');
  for (const [scenario, peer] of [
    ['GET, concurrency 64', 'adapter cache.get'],
    ['SET PX, concurrency 64', 'adapter cache.set'],
  ] as const) {
    const p99 = results[scenario]![peer]!.p99;
    goals.push({ goal: `${scenario}: ${peer} p99 < 5 ms`, figure: `${p99.toFixed(2)} ms`, met: p99 < 5 });
  }
  console.log('\ngoals (issue 14; the rows against the guarded-SET script are the fair extra peer)\n');
  for (const g of goals)
    console.log(`  ${g.goal.padEnd(86)} ${g.figure.padEnd(40)} ${g.met ? 'met' : 'MISSED'}`);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify({ time: TIME, rounds: ROUNDS, rows, goals }, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
} finally {
  await Promise.allSettled([cache.close(), cacheAuto.close()]);
  for (const c of [raw, rawAuto, ...rawPool]) c.disconnect();
  await redis.stop();
}
