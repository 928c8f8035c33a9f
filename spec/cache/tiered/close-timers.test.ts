/**
 * close() leaves nothing that keeps the process alive. The L2 deadlines of a tiered cache share
 * one timer; a call that settled cancelled its deadline but left that timer armed (ref'd) for it,
 * so a process that closed its cache stayed alive for up to `l2Timeout` after its last L2 call —
 * a minute with `l2Timeout: 60_000` (a script, a job, a test run waiting for nothing). And a
 * tracking or bus subscriber connection that had dropped (killed by the server) was disconnected
 * by iovalkey with a ref'd 2 s timer waiting for a socket that had closed already: 2 s more.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeWithServers, freePort } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/close-child.ts', import.meta.url));

/** Runs the child; resolves with its output and whether it exited by itself (not killed at `capMs`). */
function runChild(env: Record<string, string>, capMs: number): Promise<{ out: string; exited: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    // Armed once the child reports it closed the cache: from then on it must exit by itself.
    let cap: NodeJS.Timeout | undefined;
    const watch = setInterval(() => {
      if (cap === undefined && out.includes('closed'))
        cap = setTimeout(() => {
          killed = true;
          p.kill('SIGKILL');
        }, capMs);
    }, 10);
    const hard = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearInterval(watch);
      clearTimeout(cap);
      clearTimeout(hard);
      if (!out.includes('closed')) return reject(new Error(`child did not close (code ${code}): ${err}`));
      resolve({ out, exited: !killed && code === 0 });
    });
  });
}

describeWithServers('tiered close() leaves no timer behind', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  for (const level of ['redis', 'memory'] as const)
    it(`L2 ${level}, l2Timeout 60 s: the process exits on its own once the cache is closed`, async () => {
      const env: Record<string, string> = level === 'redis' ? { REDIS_PORT: String(redis.port) } : {};
      // Far below the 60 s the old code kept the process alive, far above a normal exit.
      const { exited } = await runChild(env, 15_000);
      assert.ok(exited, 'the child was still alive 15 s after close() resolved');
    });

  it('tracking and bus subscribers killed by the server just before close(): no timer left 500 ms after', async () => {
    const { out, exited } = await runChild({ REDIS_PORT: String(redis.port), COHERENCE: '1' }, 15_000);
    assert.ok(exited, 'the child was still alive 15 s after close() resolved');
    assert.match(out, /timers 0\n/, `timers still keeping the process alive 500 ms after close: ${out}`);
  });

  it('loads in flight at close() (loadTimeout 60 s, loaders that never settle): no timer left 300 ms after', async () => {
    // Audit: each load's loadTimeout timer stayed ref'd after close(), so a process that closed
    // its cache with a hung load in flight lived on until the bound ran out (a minute here).
    const { out, exited } = await runChild({ HUNG_LOAD: '1' }, 15_000);
    assert.ok(exited, 'the child was still alive 15 s after close() resolved');
    assert.match(out, /timers 0\n/, `timers still keeping the process alive 300 ms after close: ${out}`);
  });

  it('Redis never reached (cache and bus): no timer left 500 ms after close()', async () => {
    // The cache's client, between reconnect attempts at close(), was disconnected with iovalkey's
    // ref'd 2 s wait for a socket that had closed already: 2 s more of a process with nothing to do.
    const { out, exited } = await runChild({ DOWN_PORT: String(await freePort()) }, 15_000);
    assert.ok(exited, 'the child was still alive 15 s after close() resolved');
    assert.match(out, /timers 0\n/, `timers still keeping the process alive 500 ms after close: ${out}`);
  });

  it('sentinel mode, no sentinel ever answered (cache, tracking, bus): no timer left 1.7 s after close()', async () => {
    // Tiered audit 2: each master lookup opens a short-lived client to a sentinel and disconnects
    // it, and iovalkey's disconnect of that client armed its default 2 s ref'd wait for the socket:
    // the process stayed alive ~2 s after close(). What is left is iovalkey's own wait between two
    // rounds over the sentinels (our backoff, at most 1 s), then one last refused lookup.
    const ports = [await freePort(), await freePort(), await freePort()];
    const { out, exited } = await runChild(
      { DOWN_SENTINELS: ports.join(','), COUNT_AFTER_MS: '1700' },
      15_000,
    );
    assert.ok(exited, 'the child was still alive 15 s after close() resolved');
    assert.match(out, /timers 0\n/, `timers still keeping the process alive 1.7 s after close: ${out}`);
  });
});
