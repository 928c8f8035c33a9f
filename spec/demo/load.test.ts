/**
 * `demo/load.ts` (the README's walk-through step 2) with bad arguments or no gateway behind the
 * URL: exit 1 with a line saying what is wrong, never "0 requests" or "N failed" and exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runLoad(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/load.ts', ...args], {
    cwd: root,
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}

describe('demo/load.ts', () => {
  const cases: [string[], RegExp][] = [
    [['http://127.0.0.1:8080', 'abc'], /^REQUESTS must be a whole number 1\.\.1000000, got "abc"$/m],
    [['http://127.0.0.1:8080', '-5'], /^REQUESTS must be a whole number/m],
    [['http://127.0.0.1:8080', '10', '0'], /^CONCURRENCY must be a whole number 1\.\.1000, got "0"$/m],
    [['localhost:8080', '10'], /^BASE_URL must be an http:\/\/ or https:\/\/ URL, got "localhost:8080"$/m],
  ];
  for (const [args, expected] of cases)
    it(`refuses ${JSON.stringify(args)} with exit 1 and the usage`, async () => {
      const r = await runLoad(args);
      assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
      assert.match(r.err, expected);
      assert.match(r.err, /^usage: node --import tsx demo\/load\.ts/m);
    });

  it('no gateway at BASE_URL: exit 1, says nothing answered', async () => {
    const port = await freePort();
    const r = await runLoad([`http://127.0.0.1:${port}`, '5']);
    assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
    assert.match(r.err, new RegExp(`^nothing at http://127\\.0\\.0\\.1:${port} answered a request`, 'm'));
  });
});
