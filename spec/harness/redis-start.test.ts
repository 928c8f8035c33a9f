/**
 * Starting Redis clusters and sentinel sets side by side with other test files.
 *
 * A cluster node also listens on its port + 10000 (the cluster bus). With node ports from
 * 20000–29999 that was 30000–39999, mostly inside the kernel's ephemeral range, where any outgoing
 * connection may hold it: a node then exited at once ("Failed listening on port 33444 (cluster),
 * aborting"). Node ports are now picked so that the bus port is free and below the range too.
 *
 * When one node of a cluster failed to start that way (seen in a stress run of the cluster tests),
 * the cluster's start stopped the nodes started so far while the five others were still starting:
 * those were left running, and their child processes kept the test file's process alive — the run
 * hung.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { describeWithServers, findBinary, freePort, listensOn, tempDir } from './process.js';
import { skipRedis, startRedisCluster, startRedisSentinel } from './redis.js';

const ephemeralLow = async () =>
  Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0]);

/** Live redis-server processes whose parent is this process (from /proc). */
async function redisChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …
    const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
    if (m && m[1] === 'redis-server' && m[2] !== 'Z' && Number(m[3]) === process.pid)
      pids.push(Number(entry));
  }
  return pids;
}

/**
 * Puts first on PATH a `redis-server` that fails to start on its `failAt`-th run (counted over the
 * whole test) and runs the real one otherwise. Undone by `t.after`.
 */
async function failingNth(t: { after(fn: () => unknown): void }, failAt: number): Promise<void> {
  const real = findBinary('redis-server');
  assert.ok(real, 'redis-server');
  const dir = await tempDir('redis-wrapper');
  const script = join(dir.path, 'redis-server');
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'i=1',
      `while ! mkdir "${dir.path}/run$i" 2>/dev/null; do i=$((i+1)); done`,
      `if [ "$i" = "${failAt}" ]; then echo "wrapper: run $i fails to start" >&2; exit 1; fi`,
      `exec "${real}" "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(script, 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir.path}:${path ?? ''}`;
  t.after(async () => {
    process.env.PATH = path;
    await dir.remove();
  });
}

/** Asserts (bounded wait for their stop) that no redis-server child is left; kills any that is. */
async function noneLeft(): Promise<void> {
  let left: number[] = [];
  for (let i = 0; i < 50; i++) {
    left = await redisChildren();
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pid of left) process.kill(pid, 'SIGKILL');
  assert.deepEqual(left, [], 'redis-server processes left running after the failed start');
}

describeWithServers('redis harness: starts beside other test files', skipRedis(), () => {
  it('freePort({ alsoFree }) gives a port whose port + alsoFree is free too and below the ephemeral range', async () => {
    const lo = await ephemeralLow();
    for (let i = 0; i < 20; i++) {
      const port = await freePort({ alsoFree: 10_000 });
      if (lo >= 31_000) assert.ok(port >= 20_000 && port + 10_000 < lo, `port ${port}, ephemeral from ${lo}`);
    }
  });

  it("a cluster's nodes have their bus port (port + 10000) below the ephemeral range, and listen there", async (t) => {
    const lo = await ephemeralLow();
    const cluster = await startRedisCluster();
    t.after(() => cluster.stop());
    for (const n of cluster.nodes) {
      if (lo >= 31_000)
        assert.ok(n.port + 10_000 < lo, `node ${n.port}: bus ${n.port + 10_000}, ephemeral from ${lo}`);
      assert.equal(await listensOn(n.server.child.pid as number, n.port + 10_000), true, `bus of ${n.port}`);
    }
  });

  it('a cluster one of whose nodes fails to start: the start rejects and no node is left running', async (t) => {
    await failingNth(t, 1);
    await assert.rejects(startRedisCluster(), /did not start/);
    await noneLeft();
  });

  it('a sentinel set one of whose sentinels fails to start: the start rejects and nothing is left running', async (t) => {
    // Runs 1 and 2 are the master and the replica; 3–5 the sentinels, started together.
    await failingNth(t, 3);
    await assert.rejects(startRedisSentinel(), /did not start/);
    await noneLeft();
  });
});
