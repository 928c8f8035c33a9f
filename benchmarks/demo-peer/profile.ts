/**
 * Where Hyperion's demo and the raw-SDK twin spend their CPU, per request: both in this process,
 * loaded in turn at a fixed rate (the demo benchmark's load child), a CPU profile per window whose
 * samples are scaled to the window's measured CPU time — a window the busy machine starved cannot
 * skew the attribution — then µs per request by area (lib/tracing, the SDK, prom-client, …).
 *
 *   node --import tsx benchmarks/demo-peer/profile.ts [-- --windows 4] [-- --seconds 5] [-- --rate 200]
 */
import { spawn } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPgliteDb } from '../../demo/db.js';
import { seededRandom, zipf } from '../../demo/traffic.js';
import { inProcess, type Stack, startSide } from '../lib/demo-stacks.js';

const { values: args } = parseArgs({
  options: {
    windows: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '200' },
  },
});
const windows = Math.max(1, Number(args.windows));
const seconds = Math.max(1, Number(args.seconds));
const rate = Math.max(1, Number(args.rate));
const bench = fileURLToPath(new URL('../demo.bench.ts', import.meta.url));

/**
 * A child of the demo benchmark (`--sink-child` or `--load-child`): its first stdout line. A load
 * child is killed if it outlives its load by a minute.
 */
function child(flag: string[]): { line: Promise<string>; kill(): void } {
  const c = spawn(process.execPath, ['--import', 'tsx', bench, ...flag], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timer =
    flag[0] === '--load-child' ? setTimeout(() => c.kill('SIGKILL'), (seconds + 60) * 1000) : undefined;
  let out = '';
  const line = new Promise<string>((resolve, reject) => {
    c.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${flag[0]} exited with ${code}`));
    });
  });
  return { line, kill: () => c.kill('SIGTERM') };
}

const random = seededRandom(7);
const pick = zipf(100, random);
const paths = Array.from({ length: 400 }, () => `/users/${pick()}/orders`);
const load = async (base: string, duration: number) =>
  JSON.parse(
    await child(['--load-child', JSON.stringify({ base, paths, duration, connections: 16, rate })]).line,
  ) as { total: number };

/** The area a profile frame belongs to. */
function area(url: string): string {
  if (!url) return 'native (GC, I/O, microtasks)';
  if (/@opentelemetry\/(otlp-|exporter-)/.test(url)) return 'OTLP serialisation and exporter';
  if (url.includes('@opentelemetry/')) return 'OpenTelemetry SDK, API, core';
  if (url.includes('node_modules/prom-client')) return 'prom-client';
  if (url.includes('/benchmarks/')) return 'the twin (benchmarks/demo-peer)';
  if (/\/lib\/(tracing|metrics|core)\//.test(url))
    return `lib/${/\/lib\/(tracing|metrics|core)\//.exec(url)![1]}`;
  return 'the rest (undici, node:http, demo, caches)';
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

const sink = child(['--sink-child']);
const endpoint = `http://127.0.0.1:${Number(await sink.line)}/v1/traces`;
const db = await createPgliteDb();
const stacks: Record<'on' | 'peer', Stack> = {
  on: inProcess(await startSide('on', db, endpoint)),
  peer: inProcess(await startSide('peer', db, endpoint)),
};
const scraper = setInterval(() => {
  for (const url of [...stacks.on.services, ...stacks.peer.services])
    fetch(`${url}/metrics`).then(
      (r) => r.arrayBuffer(),
      () => {},
    );
}, 1000);
const session = new Session();
session.connect();
try {
  for (const s of Object.values(stacks))
    for (let id = 1; id <= 100; id++)
      await fetch(`${s.gateway}/users/${id}/orders`).then((r) => r.arrayBuffer());
  for (const s of Object.values(stacks)) await load(s.gateway, 3);
  await session.post('Profiler.enable');
  const totals = { on: new Map<string, number>(), peer: new Map<string, number>() };
  const requests = { on: 0, peer: 0 };
  for (let w = 0; w < windows; w++)
    for (const side of w % 2 ? (['peer', 'on'] as const) : (['on', 'peer'] as const)) {
      await session.post('Profiler.start');
      const cpu0 = process.cpuUsage();
      const r = await load(stacks[side].gateway, seconds);
      const cpu = process.cpuUsage(cpu0);
      const { profile } = await session.post('Profiler.stop');
      const nodes = new Map((profile.nodes as ProfileNode[]).map((n) => [n.id, n]));
      const busy = profile.samples!.filter((id) => nodes.get(id)?.callFrame.functionName !== '(idle)');
      const perSample = (cpu.user + cpu.system) / busy.length;
      for (const id of busy) {
        const a = area(nodes.get(id)!.callFrame.url);
        totals[side].set(a, (totals[side].get(a) ?? 0) + perSample);
      }
      requests[side] += r.total;
    }
  const areas = [...new Set([...totals.on.keys(), ...totals.peer.keys()])].sort();
  const us = (side: 'on' | 'peer', a: string) => (totals[side].get(a) ?? 0) / requests[side];
  console.log(`µs per request (${windows} windows of ${seconds} s per side at ${rate} req/s; profiler on)`);
  console.log(`${'area'.padEnd(44)} ${'on'.padStart(7)} ${'peer'.padStart(7)}`);
  for (const a of areas)
    console.log(
      `${a.padEnd(44)} ${us('on', a).toFixed(0).padStart(7)} ${us('peer', a).toFixed(0).padStart(7)}`,
    );
  const sum = (side: 'on' | 'peer') => areas.reduce((t, a) => t + us(side, a), 0);
  console.log(
    `${'total'.padEnd(44)} ${sum('on').toFixed(0).padStart(7)} ${sum('peer').toFixed(0).padStart(7)}`,
  );
} finally {
  clearInterval(scraper);
  session.disconnect();
  await Promise.allSettled([stacks.on.close(), stacks.peer.close()]);
  await db.close();
  sink.kill();
}
process.exit(0);
