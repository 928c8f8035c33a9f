/**
 * Two copies of the package in one process (two versions installed side by side: the
 * application's and a library's nested one), each with an app wired by `closeOnSignals`. Each
 * copy kept its own list of closes in progress, so on SIGTERM the copy whose app closed first
 * exited the process in the middle of the other copy's close (a drain, the final span export):
 * the fix for two apps of one copy did not hold across copies. The list is now process-wide.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type SecondCopy, secondCopy } from '../harness/second-copy.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let copy: SecondCopy;
before(async () => {
  copy = await secondCopy();
});
after(() => copy.remove());

it('two apps of two copies wired to one signal: the process exits only once both have closed', async (t) => {
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./fixtures/two-copies-child.ts', import.meta.url))],
    { cwd: root, env: { ...process.env, SECOND_COPY: copy.lib }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
  // The old code exited as soon as app "a" had closed, in the middle of app "b"'s close.
  assert.deepEqual(out.trim().split('\n'), ['ready', 'a closed', 'b closed', 'exit 0'], err);
  assert.equal(code, 0);
});
