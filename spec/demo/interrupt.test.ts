/**
 * Stopping `npm run demo` other than by Ctrl+C after the summary (found by driving it from outside
 * with REDIS_URL pointing at a port where nothing listens, as the sessions' helpers did):
 *
 * - npm runs the demo as `sh -c "node … demo/run.ts"`, and that shell (dash on Debian) passes no
 *   signal on. A SIGTERM sent to npm's pid (a supervisor, `timeout`, `kill <pid of npm>`) ended npm
 *   (exit 143) and the shell and left the demo running, orphaned, holding ports 8080–8082. The
 *   demo now takes the loss of its parent as a SIGTERM: it closes the services and exits.
 * - A Ctrl+C during the traffic burst closed the services but let the burst go on against them
 *   (hundreds of 503s) and printed a summary of that, "kept running: open them now" included,
 *   over the close. The burst now stops, no summary is printed, and the exit code is 130.
 *
 * Embedded database, in-memory L2, spans in memory: needs no server.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../harness/process.js';
import { holdDemoPorts } from './default-ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function demoEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'HYPERION_TRACING_ENDPOINT',
    'HYPERION_SAMPLE_RATE',
    'LOG_LEVEL',
  ])
    delete env[k];
  return { ...env, ...extra };
}

describe('npm run demo: stopped from outside', () => {
  it('--keep: when its parent shell is killed (SIGTERM to npm), the demo closes the services and exits', async (t) => {
    // The demo on free ports of its own: the last check must meet no other file's demo on 8080.
    const ports = await holdDemoPorts();
    t.after(() => ports.release());
    // The shell stands for npm's `sh -c`: it starts the demo and waits; it forwards no signal.
    const sh = spawn('sh', ['-c', `"${process.execPath}" --import tsx demo/run.ts --keep & wait`], {
      cwd: root,
      env: demoEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    sh.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    sh.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    // The pipe ends when its last writer, the demo itself, has exited (the shell is gone by then).
    const ended = new Promise<void>((resolve) => sh.stdout.once('close', () => resolve()));
    let demoPid: number | undefined;
    t.after(() => {
      if (demoPid) {
        try {
          process.kill(demoPid, 'SIGKILL');
        } catch {}
      }
      sh.kill('SIGKILL');
    });

    await waitFor(() => out.includes('Kept running (--keep)'), {
      timeoutMs: 200_000,
      intervalMs: 200,
      what: `the --keep line\n${out.slice(-3000)}`,
    });
    const gateway = /Kept running \(--keep\): gateway (http:\/\/\S+);/.exec(out)?.[1];
    assert.ok(gateway, out);
    assert.equal((await fetch(`${gateway}/healthz`)).status, 200);
    // Found through the shell's pid: the demo is its only child.
    const shellPid = sh.pid!;
    demoPid = Number(
      execFileSync('pgrep', ['-P', String(shellPid)])
        .toString()
        .trim()
        .split('\n')[0],
    );
    assert.ok(demoPid > 0);

    sh.kill('SIGTERM'); // what npm does with a SIGTERM: forwards it to the shell, which dies of it
    const result = await Promise.race([
      ended.then(() => 'exited' as const),
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000).unref()),
    ]);
    assert.equal(result, 'exited', `the orphaned demo kept running\n${out.slice(-2000)}`);
    assert.match(out, /the parent process exited \(npm stopped\?\): closing the services/);
    assert.match(out, /All services closed/);
    await assert.rejects(fetch(`${gateway}/healthz`, { signal: AbortSignal.timeout(2000) }));
  });

  it('a Ctrl+C during the traffic burst stops it: no summary, exit code 130', async (t) => {
    // LOG_LEVEL=info: each answered request is a log line, so the burst is seen to have begun.
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts'], {
      cwd: root,
      env: demoEnv({ LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const kill = setTimeout(() => child.kill('SIGKILL'), 200_000);
    t.after(() => {
      clearTimeout(kill);
      child.kill('SIGKILL');
    });

    // (The log lines go to stderr.)
    await waitFor(() => /"msg":"request".*"route":"\/users\/:id/.test(err), {
      timeoutMs: 180_000,
      intervalMs: 20,
      what: `the first request of the burst\n${out}\n${err.slice(-2000)}`,
    });
    child.kill('SIGINT');
    const code = await exited;
    const summary = out;
    assert.equal(code, 130, `exit code\n${summary}\n${err.slice(-2000)}`);
    assert.match(summary, /interrupted: closing the services/);
    assert.doesNotMatch(summary, /^Traffic /m, 'no summary of a burst cut short');
    assert.doesNotMatch(summary, /open them now/);
    assert.doesNotMatch(err, /demo failed/);
  });

  it('a SIGTERM while the services start closes them once started: no summary, exit code 130', async (t) => {
    // No handler was installed until the services were up (a few seconds with the embedded
    // database): the signal killed the process at once, not the documented 130. And a signal that
    // arrived while the start blocked the event loop was lost when the listener was swapped.
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts'], {
      cwd: root,
      env: demoEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    const kill = setTimeout(() => child.kill('SIGKILL'), 200_000);
    t.after(() => {
      clearTimeout(kill);
      child.kill('SIGKILL');
    });
    await waitFor(() => out.includes('starting gateway'), {
      timeoutMs: 180_000,
      intervalMs: 20,
      what: `the first line\n${out}\n${err.slice(-2000)}`,
    });
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [130, null], `exit\n${out}\n${err.slice(-2000)}`);
    assert.match(out, /interrupted: closing the services/);
    assert.doesNotMatch(out, /^Traffic /m, 'no summary');
    assert.doesNotMatch(err, /demo failed/);
  });

  it('--keep whose output reader goes away (`npm run demo | head -2`) stops quietly, exit 0, no EPIPE stack trace', async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts', '--keep'], {
      cwd: root,
      env: demoEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const kill = setTimeout(() => child.kill('SIGKILL'), 200_000);
    t.after(() => {
      clearTimeout(kill);
      child.kill('SIGKILL');
    });
    // Like `head`: read the first lines, then close the pipe.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await exited;
    assert.equal(code, 0, err.slice(-2000));
    assert.doesNotMatch(err, /EPIPE|^\s+at /m);
  });
});
