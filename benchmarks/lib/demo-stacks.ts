/**
 * The three sides of the demo benchmark — `on` (Hyperion), `peer` (the raw-SDK twin of
 * ./../demo-peer/) and `off` (all no-ops) — each a copy of the demo's three services, run either
 * in the benchmark's own process (rounds mode: one side loaded at a time, the process's CPU time
 * is that side's) or one child process per side (concurrent mode: all sides loaded at once, each
 * child's CPU time is its own, so every side sees the same moment of a busy machine).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Db } from '../../demo/db.js';
import { createPgliteDb } from '../../demo/db.js';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { peerInstrumentation } from '../demo-peer/index.js';

export type Side = 'on' | 'off' | 'peer';

export interface Stack {
  /** Base URL of the gateway. */
  readonly gateway: string;
  /** Base URLs of all three services (for scraping). */
  readonly services: readonly string[];
  /** CPU time (user + system, µs) of the process the side runs in. */
  cpuUs(): Promise<number>;
  /** Forgets the spans kept by the in-memory exporter (rounds mode only). */
  reset(): void;
  close(): Promise<void>;
}

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Starts the services of one side; `endpoint` undefined → in-memory exporter (no peer possible). */
export function startSide(side: Side, db: Db, endpoint: string | undefined): Promise<RunningServices> {
  const common = { ports: { gateway: 0, user: 0, order: 0 }, db, logger: 'error' as const };
  if (side === 'on')
    return startServices({
      ...common,
      tracing: endpoint
        ? { exporter: 'otlp', endpoint, sampleRate: 1 }
        : { exporter: 'memory', sampleRate: 1 },
      metrics: true,
    });
  if (side === 'off') return startServices({ ...common, tracing: { exporter: 'off' }, metrics: false });
  if (!endpoint) throw new Error('the raw-SDK peer exports over OTLP: it needs a network exporter');
  return startServices({
    ...common,
    tracing: { exporter: 'off' }, // ignored: the instrumentation below replaces it
    instrumentation: peerInstrumentation({ endpoint, serviceVersion: VERSION }),
  });
}

const processCpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** A side running in this process. */
export function inProcess(r: RunningServices): Stack {
  return {
    gateway: r.gateway.url,
    services: r.all.map((s) => s.url),
    cpuUs: async () => processCpu(),
    reset: () => {
      for (const s of r.all) s.tracer?.resetFinishedSpans();
    },
    close: () => r.close(),
  };
}

/** Body of a side's child process: starts the side on its own embedded database, then serves CPU readings over IPC. */
export async function runSideChild(spec: { side: Side; endpoint: string }): Promise<never> {
  const db = await createPgliteDb();
  const r = await startSide(spec.side, db, spec.endpoint);
  process.on('message', async (m: string) => {
    if (m === 'cpu') process.send?.(processCpu());
    else if (m === 'stop') {
      await r.close().catch(() => {});
      await db.close().catch(() => {});
      process.exit(0);
    }
  });
  process.stdout.write(`${JSON.stringify({ gateway: r.gateway.url, services: r.all.map((s) => s.url) })}\n`);
  return new Promise<never>(() => {});
}

/** Starts a side in a child process running `script --side-child` (see `runSideChild`). */
export async function sideChild(script: string, side: Side, endpoint: string): Promise<Stack> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, '--side-child', JSON.stringify({ side, endpoint })],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  );
  const stdout = child.stdout!; // piped above
  const urls = await new Promise<{ gateway: string; services: string[] }>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      stdout.off('data', onData);
      resolve(JSON.parse(out.slice(0, nl)) as { gateway: string; services: string[] });
    };
    stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`side ${side} exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    ...urls,
    // One reading at a time per child: the parent awaits each before asking again.
    cpuUs: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m) => resolve(m as number));
        child.send('cpu');
      }),
    reset: () => {},
    async close() {
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
