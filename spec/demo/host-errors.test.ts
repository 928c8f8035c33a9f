/**
 * A standalone service whose HOST cannot be listened on stopped with Node's own words only
 * (`gateway failed to start: getaddrinfo ENOTFOUND no.such.host.invalid`, `listen EADDRNOTAVAIL …`),
 * without naming the variable to fix. The line now names HOST; exit code 1 as before. `npm run demo`
 * (demo/run.ts) reads HOST too, and printed Node's error with its stack trace: it says the same line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function runGateway(
  host: string,
  program = 'demo/gateway.ts',
): Promise<{ code: number | null; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: host, PORT: String(await freePort()) };
  const child = spawn(process.execPath, ['--import', 'tsx', program], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  // A service that started would run until stopped: this bound ends it.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    }),
  );
}

describe('demo standalone: a HOST that cannot be listened on', () => {
  it('an address of no interface here (192.0.2.1, TEST-NET-1): exit 1, one line naming HOST', async () => {
    const r = await runGateway('192.0.2.1');
    assert.equal(r.code, 1, r.err);
    assert.equal(
      r.err.trim(),
      'gateway failed to start: HOST "192.0.2.1" is not an address of this machine (EADDRNOTAVAIL)',
    );
  });

  it('a name that does not resolve: exit 1, one line naming HOST', async () => {
    const r = await runGateway('no.such.host.invalid');
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err.trim(),
      /^gateway failed to start: HOST "no\.such\.host\.invalid" is not a name this machine can resolve to listen on \(E[A-Z_]+\)$/,
    );
  });
});

describe('npm run demo (demo/run.ts): a HOST that cannot be listened on', () => {
  it('an address of no interface here: exit 1, one line naming HOST, no stack trace', async () => {
    const r = await runGateway('192.0.2.1', 'demo/run.ts');
    assert.equal(r.code, 1, r.err);
    assert.equal(
      r.err.trim(),
      'demo failed: HOST "192.0.2.1" is not an address of this machine (EADDRNOTAVAIL)',
    );
  });

  it('a name that does not resolve: exit 1, one line naming HOST, no stack trace', async () => {
    const r = await runGateway('no.such.host.invalid', 'demo/run.ts');
    assert.equal(r.code, 1, r.err);
    assert.match(
      r.err.trim(),
      /^demo failed: HOST "no\.such\.host\.invalid" is not a name this machine can resolve to listen on \(E[A-Z_]+\)$/,
    );
  });
});
