/**
 * The real-server test harness: free loopback ports, temp dirs, child processes with readiness
 * checks, and cleanup that runs even when a test fails (or the test process dies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
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

/** Whether 127.0.0.1:port can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral range (where `listen(0)` and every outgoing connection take ports). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi)) return [lo, hi];
  } catch {}
  return [32768, 60999];
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago, picked at random from 20000–29999 (or up to
 * where the kernel's ephemeral range starts, when that is below 30000). Test files run side by side (spec/run.mjs), and a port the
 * kernel handed out by `listen(0)` goes back to its pool: before the server it is meant for binds
 * it, any other process's `listen(0)` or outgoing connection may take it (a demo service then met
 * another test's server on "its" port). Ports below the range are never handed out that way, and
 * a port picked here is reserved for the rest of this process (see `reserve`), so no other file
 * picks it. Elsewhere, the kernel picks.
 *
 * With `alsoFree`, `port + alsoFree` was free too, and is below the ephemeral range as well where
 * the range allows: a Redis cluster node also listens on its port + 10000 (the cluster bus). From
 * 20000–29999 that was 30000–39999, mostly inside the range (32768–60999 here), where an outgoing
 * connection of any process may hold it: the node then exits at once ("Failed listening on port
 * 33444 (cluster), aborting"), and ~4 % of those ports were held at a time on a busy machine.
 */
export async function freePort(options: { alsoFree?: number } = {}): Promise<number> {
  const [lo] = ephemeralRange();
  const extra = options.alsoFree ?? 0;
  const top = Math.min(30_000, lo - extra);
  const free = async (port: number) =>
    (extra === 0 || (port + extra <= 65_535 && reserve(port + extra))) &&
    reserve(port) &&
    (await canListen(port)) &&
    (extra === 0 || (await canListen(port + extra)));
  if (top - 20_000 >= 1000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * (top - 20_000));
      if (await free(port)) return port;
    }
  }
  for (let attempt = 0; ; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    if (attempt >= 49 || (await free(port))) return port;
  }
}

/**
 * Ports handed out by `freePort()` in any test process, held until that process exits: a port a
 * test keeps closed on purpose (a master that is down, a collector that is not there) must stay
 * closed, and a pick of another file's that found it free would start a server there (seen in
 * CI: a sentinel's dead master answered by another file's Redis). One file per port under the
 * temp dir, created exclusively, with the owner's pid; a file whose process is gone is stale.
 */
const reservations = join(tmpdir(), 'hyperion-ports');
const reserved = new Set<number>();
process.once('exit', () => {
  for (const port of reserved) {
    try {
      unlinkSync(join(reservations, String(port)));
    } catch {}
  }
});

function reserve(port: number): boolean {
  const file = join(reservations, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(reservations, { recursive: true });
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      reserved.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true; // no temp dir: pick as before
      if (!ownerGone(file)) return false;
      try {
        unlinkSync(file);
      } catch {}
    }
  }
  return false;
}

function ownerGone(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false; // just removed: try another port
  }
  if (text === '') return false; // being written
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
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
  /**
   * Ports the process itself is to listen on. Ready then also needs the listening socket on each
   * to be the child's own: a port from `freePort()` is free only until something else takes it
   * (test files run side by side), and a probe answered by that other server would be taken for
   * this one. The child then fails to bind and exits, which ends the wait with its output.
   */
  ports?: readonly number[];
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
    const owned = async () =>
      child.pid === undefined ||
      (await Promise.all((opts.ports ?? []).map((p) => listensOn(child.pid as number, p)))).every(Boolean);
    const outcome = await waitFor(
      async () => (exited ? 'exited' : (await opts.ready()) && (await owned()) && 'ready'),
      {
        timeoutMs: opts.readyTimeoutMs ?? 20_000,
        what: `${opts.name} to be ready`,
      },
    );
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

/**
 * Whether process `pid` holds a listening TCP socket on `port` (any address): the socket inodes in
 * LISTEN state on that port (/proc/net/tcp, tcp6) matched against the process's open files. True
 * where /proc cannot tell (not Linux), so the check only ever adds certainty.
 */
export async function listensOn(pid: number, port: number): Promise<boolean> {
  const inodes = new Set<string>();
  let tables = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    tables++;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (Number.parseInt(f[1]?.split(':')[1] ?? '', 16) === port) inodes.add(`socket:[${f[9]}]`);
    }
  }
  if (tables === 0) return true;
  if (inodes.size === 0) return false;
  // A child between fork and exec still holds every descriptor of this process (they close at
  // exec): a socket this process holds too is not the child's own. Without this, a child probed in
  // that window "owned" the port of a server this very process listened on (ports.test.ts failed
  // 3 runs in 4 on a loaded machine: the probe saw the squatter's socket in the child's fds).
  if (pid !== process.pid) for (const own of (await socketsOf(process.pid)) ?? []) inodes.delete(own);
  if (inodes.size === 0) return false;
  const sockets = await socketsOf(pid);
  if (sockets === undefined) return true;
  return sockets.some((target) => inodes.has(target));
}

/** The `socket:[inode]` targets of the open descriptors of `pid`, or `undefined` when unreadable. */
async function socketsOf(pid: number): Promise<string[] | undefined> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => undefined);
  if (fds === undefined) return undefined;
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith('socket:'));
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
