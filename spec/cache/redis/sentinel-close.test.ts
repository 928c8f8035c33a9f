/**
 * Sentinel mode: close() leaves nothing that keeps the process alive while one sentinel is down.
 * iovalkey's failover detector subscribes on every sentinel; its client for a sentinel that is
 * down sits between reconnect attempts with the SUBSCRIBE queued, and iovalkey's disconnect()
 * of such a client only cleared the reconnect timer: the SUBSCRIBE's ref'd command timer (the
 * command timeout) kept the closed cache's process alive — about 1 s at `commandTimeout: 1000`.
 * And each health() probe client of a sentinel that refused was disconnected with iovalkey's
 * default ref'd 2 s wait for a socket that never opened: 2 s more.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeWithServers } from '../../harness/process.js';
import { type RedisSentinelSet, skipRedis, startRedisSentinel } from '../../harness/redis.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/sentinel-close-child.ts', import.meta.url));

/** Runs the child (killed after 30 s at most); resolves with its output and exit code. */
function runChild(env: Record<string, string>): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const hard = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(hard);
      resolve({ out, code });
    });
  });
}

describeWithServers('redis sentinel: close() with one sentinel down', skipRedis(), () => {
  let set: RedisSentinelSet;
  before(async () => {
    set = await startRedisSentinel();
    await set.sentinelServers[1]!.kill();
  });
  after(() => set?.stop());

  for (const health of [false, true])
    it(`no timer keeps the process alive 500 ms after close()${health ? ' (after a health())' : ''}`, async () => {
      const { out, code } = await runChild({
        SENTINELS: set.sentinels.map((s) => s.port).join(','),
        MASTER: set.masterName,
        HEALTH: health ? '1' : '0',
      });
      assert.equal(code, 0, out);
      assert.match(out, /get 1\n/, out);
      if (health) assert.match(out, /health 2 sentinels answered\n/, out);
      assert.match(
        out,
        /closed\ntimers 0\n/,
        `timers still keeping the process alive 500 ms after close: ${out}`,
      );
    });
});
