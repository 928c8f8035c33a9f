/**
 * The real-server test harness: free loopback ports, temp dirs, child processes with readiness
 * checks, and cleanup that runs even when a test fails (or the test process dies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/**
 * `env` for a child that runs no code of lib/ (npm, tsc, the benchmark scripts): under
 * `--coverage` Node copies NODE_V8_COVERAGE into every child's environment unless the key is
 * there, and V8's precise coverage makes such children 2-4× slower for nothing we count. An empty
 * value turns it off.
 */
export function withoutCoverage(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, NODE_V8_COVERAGE: '' };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A new temp dir; remove it with the returned `remove()`. */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `hyperion-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Where Go-built servers land (`go install` / `go build -o`), searched after PATH. */
function extraBinDirs(): string[] {
  const dirs = [];
  if (process.env.GOBIN) dirs.push(process.env.GOBIN);
  dirs.push(join(process.env.GOPATH ?? join(process.env.HOME ?? '/root', 'go'), 'bin'));
  dirs.push('/usr/lib/postgresql/15/bin', '/usr/sbin');
  return dirs;
}

/** Absolute path of an executable, or `undefined` when it is not installed. */
export function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...extraBinDirs()]) {
    if (!dir) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const announced = new Set<string>();

/**
 * Skip reason for tests that need `binaries`, or `false` when all are installed. A missing binary
 * prints one loud line; with HYPERION_REQUIRE_SERVICES=1 it throws instead, so CI cannot pass by
 * skipping.
 */
export function skipUnless(binaries: readonly string[], installHint: string): string | false {
  const missing = binaries.filter((b) => !findBinary(b));
  if (missing.length === 0) return false;
  const reason = `missing ${missing.join(', ')} — install: ${installHint}`;
  if (process.env.HYPERION_REQUIRE_SERVICES === '1') {
    throw new Error(`HYPERION_REQUIRE_SERVICES=1 but ${reason}`);
  }
  if (!announced.has(reason)) {
    announced.add(reason);
    console.error(`\n!!! SKIPPING real-server tests: ${reason}\n`);
  }
  return reason;
}

/**
 * `describe` for a suite that needs real servers; `skip` is a reason from `skipUnless` (or the
 * `skip*()` helpers built on it), or `false`. A skipped suite is declared with one skipped test in
 * place of its body, so the run's summary counts it under `skipped`: node:test counts a
 * `describe(name, { skip }, …)` only under `suites` and never runs its body, which hid a missing
 * server behind `skipped 0`.
 */
export function describeWithServers(
  name: string,
  skip: string | false,
  fn: () => void,
  options: { concurrency?: boolean } = {},
): void {
  if (skip === false) {
    describe(name, options, fn);
    return;
  }
  describe(name, () => {
    it('runs against real servers', { skip }, () => {});
  });
}

/**
 * Starts servers (or makes temp dirs) in parallel, like `Promise.all`; but when one start fails,
 * the ones that succeeded are stopped (or removed) before the first error is rethrown. With a
 * bare `Promise.all` their results were lost, nothing stopped them, and their child processes
 * kept the test file's process alive after its tests were cancelled.
 */
export async function startAll<T extends readonly unknown[]>(
  starts: {
    readonly [K in keyof T]: PromiseLike<T[K]>;
  },
): Promise<T> {
  const settled = await Promise.allSettled(starts as readonly PromiseLike<unknown>[]);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
  await Promise.allSettled(
    settled.map((s) => {
      if (s.status !== 'fulfilled') return undefined;
      const v = s.value as { stop?: () => Promise<unknown>; remove?: () => Promise<unknown> } | undefined;
      return v?.stop?.() ?? v?.remove?.();
    }),
  );
  throw failed.reason;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  {
    timeoutMs = 15_000,
    intervalMs = 50,
    what = 'condition',
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

export interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Output so far (stdout + stderr), for failure messages. */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after `graceMs`). Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Kills at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  readonly exited: boolean;
}

/** Spawns a server and waits until `ready()` is true. Kills it if readiness times out. */
export async function startProcess(opts: {
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  ready: () => boolean | Promise<boolean>;
  readyTimeoutMs?: number;
  uid?: number;
  gid?: number;
}): Promise<ServerProcess> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  live.add(child);
  let out = '';
  const append = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      out += `\nspawn error: ${err.message}`;
      exited = true;
      live.delete(child);
      resolve();
    });
  });
  const stop = async (graceMs = 3000) => {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(t);
  };
  const server: ServerProcess = {
    name: opts.name,
    child,
    output: () => out,
    stop,
    kill: async () => {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
    get exited() {
      return exited;
    },
  };
  try {
    // An exit ends the wait at once (waitFor retries a check that throws until its timeout, so
    // a server that failed to bind cost the whole ready timeout before its retry could start).
    const outcome = await waitFor(async () => (exited ? 'exited' : (await opts.ready()) && 'ready'), {
      timeoutMs: opts.readyTimeoutMs ?? 20_000,
      what: `${opts.name} to be ready`,
    });
    if (outcome === 'exited') throw new Error(`${opts.name} exited early`);
  } catch (err) {
    await server.kill();
    throw new Error(
      `${opts.name} did not start: ${(err as Error).message}\n--- output ---\n${out.slice(-4000)}`,
      {
        cause: err,
      },
    );
  }
  return server;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ connect }) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  });
}

/** Runs a command to completion (bounded by `timeoutMs`), resolving its output or rejecting with it. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: options.uid,
      gid: options.gid,
      env: options.env ?? process.env,
    });
    let out = '';
    const append = (b: Buffer) => {
      out += b.toString();
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${out.slice(-4000)}`));
    });
  });
}
