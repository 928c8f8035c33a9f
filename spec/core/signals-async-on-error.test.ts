/**
 * `closeOnSignals(app, { onError })` with an async `onError` — a reporter that awaits (Sentry's
 * flush, an HTTP call) — whose promise rejects: `onError` is typed `(err) => void`, so an async
 * function compiles there. Its rejection was unhandled, which under Node's default ends the
 * process at once: in the middle of the close of another app wired to the same signal, or despite
 * `exit: false`. It is now dropped like a throw of `onError`; the exit code is 1 as for any close
 * that failed. Real signals, in a child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/async-on-error-child.ts', import.meta.url));

async function run(
  t: { after(fn: () => void): void },
  mode: string,
): Promise<{ code: number | null; out: string; err: string }> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, mode], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
  t.after(() => {
    clearTimeout(kill);
    p.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  p.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const ready = new Promise<void>((resolve) =>
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  await Promise.race([ready, exited]);
  assert.ok(out.includes('ready\n'), `child did not start: ${err}`);
  p.kill('SIGTERM');
  const code = await exited;
  return { code, out, err };
}

it("an async onError that rejects does not end the process in the middle of another app's close", async (t) => {
  const { code, out, err } = await run(t, 'two-apps');
  assert.deepEqual(out.trim().split('\n'), ['ready', 'b closed', 'exit 1'], err);
  assert.equal(code, 1);
  assert.doesNotMatch(err, /the reporter is down/);
});

it('with exit: false, an async onError that rejects leaves the process running; it ends by itself with code 1', async (t) => {
  const { code, out, err } = await run(t, 'no-exit');
  assert.deepEqual(out.trim().split('\n'), ['ready', 'still running', 'exit 1'], err);
  assert.equal(code, 1);
  assert.doesNotMatch(err, /the reporter is down/);
});
