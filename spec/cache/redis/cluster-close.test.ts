/**
 * Cluster mode: close() leaves nothing that keeps the process alive when the cluster did not
 * answer yet. iovalkey reads CLUSTER SLOTS on a connection of its own (a duplicate of a node's),
 * which the cluster's disconnect() does not close: against a seed node that accepts and answers
 * nothing (stopped, SIGSTOP, a blackholed host), that connection and its command timer kept the
 * closed cache's process alive for the command timeout (3 s here), then the slots-refresh timeout
 * of the next seed. The invalidation bus's subscriber, a duplicate of the cluster client, did the
 * same.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeWithServers } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/cluster-close-child.ts', import.meta.url));

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

describeWithServers('redis cluster: close() while the seed node answers nothing', skipRedis(), () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    cluster?.nodes[0]?.server.child.kill('SIGCONT');
    await cluster?.stop();
  });

  for (const bus of [false, true])
    it(`no connection or timer of the cache${bus ? ' or of its invalidation bus' : ''} is left 500 ms after close()`, async () => {
      const stopped = cluster.nodes[0]!;
      stopped.server.child.kill('SIGSTOP');
      try {
        const { out, code } = await runChild({ SEEDS: String(stopped.port), BUS: bus ? '1' : '0' });
        assert.equal(code, 0, out);
        assert.match(out, /get closed\n/, out);
        assert.match(out, /left 0\n/, `still keeping the process alive 500 ms after close: ${out}`);
      } finally {
        stopped.server.child.kill('SIGCONT');
      }
    });
});
