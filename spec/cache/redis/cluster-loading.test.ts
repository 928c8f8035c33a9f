/**
 * One master of a 3-master cluster still loading its data (a restart with a large dataset; here
 * `DEBUG RELOAD`): found from outside (/tmp probe). A single `get`/`set`/`delete` of its keys
 * failed with `unavailable` `LOADING`, but every batch of them — `getMany`, `getManyWithTtl`,
 * `setMany`, `deleteMany`, `pipeline()` — hung for good, past the command timeout: iovalkey's
 * cluster pipeline whose every reply is `LOADING` was never settled (./client.ts
 * `loadingFailsAtOnce`). They now fail like the single commands, and serve again once it loaded.
 * A transaction, whose dedicated connection waits for the load, failed with `timeout` "connecting
 * took longer than …" alone; it is now `unavailable` and says the server is loading.
 * A master restarted with its data: its node connection waits for the load, and every command of
 * its keys (and its `health()` entry) failed after the command timeout with `timeout` "Command
 * timed out"; they now fail `unavailable` saying it is loading, as a standalone cache does.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { after, before, it } from 'node:test';
import { type Cluster, Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { dec, enc, sleep, watchUnhandled } from './helpers.js';

/** How `p` settled, or `'hung'` when it had not within `ms` (a bound, not a timing check). */
async function settle(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  try {
    return await Promise.race([
      p.then(
        (v) => ({ resolved: v }),
        (err: unknown) => err,
      ),
      hung,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describeWithServers('a cluster master still loading its data', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const restarted: ChildProcess[] = [];
  const unhandled = watchUnhandled();
  before(async () => {
    cluster = await startRedisCluster({
      // No failover is voted while the master loads.
      nodeTimeoutMs: 30_000,
      // The load is slowed (40 µs a key) and answers other clients meanwhile, as a large one does.
      extraConfig: [
        'enable-debug-command yes',
        'key-load-delay 40',
        'loading-process-events-interval-bytes 1024',
      ],
    });
  });
  after(async () => {
    unhandled.dispose();
    await cache?.close();
    for (const child of restarted) child.kill('SIGKILL');
    for (const n of cluster?.nodes ?? []) await n.server.kill(); // no waiting for the load to end
    await cluster?.stop();
  });

  it('batches of its keys fail unavailable (LOADING) at once, and serve again after the load', async () => {
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 1000,
    });
    await cache.set('warm', enc('w'));
    const slots = (cache.client as Cluster).slots;
    const master = cluster.masters[0]!;
    const ownerOf = (k: string) => slots[keySlot(k)]?.[0];
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const mine = keys.filter((k) => ownerOf(k) === `${master.host}:${master.port}`).slice(0, 2);
    const other = keys.find((k) => ownerOf(k) !== `${master.host}:${master.port}`)!;
    assert.equal(mine.length, 2);
    for (const k of [...mine, other]) await cache.set(k, enc('old'));

    await redisCommand(master.port, ['DEBUG', 'POPULATE', 50_000, 'pop', 10], {});
    const reloader = new Redis({
      host: master.host,
      port: master.port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    reloader.on('error', () => {});
    try {
      await reloader.connect();
      const reloaded = reloader.debug('RELOAD').catch(() => undefined);
      let loading = false;
      for (let i = 0; i < 100 && !loading; i++) {
        const info = await redisCommand(master.port, ['INFO', 'persistence'], {}).catch(() => '');
        loading = /^loading:1/m.test(String(info));
        if (!loading) await sleep(10);
      }
      assert.ok(loading, 'the master did not start loading');

      const [a, b] = mine as [string, string];
      const calls: [string, Promise<unknown>][] = [
        ['get', cache.get(a)],
        ['getMany', cache.getMany([a, b, other])],
        ['getManyWithTtl', cache.getManyWithTtl([a, b])],
        [
          'setMany',
          cache.setMany([
            { key: a, value: enc('new') },
            { key: b, value: enc('new') },
          ]),
        ],
        ['deleteMany', cache.deleteMany([a, b])],
        ['pipeline', cache.pipeline().get(a).set(b, enc('new')).exec()],
        [
          'transaction',
          cache.transaction((t) => {
            t.set(a, enc('tx'));
          }),
        ],
      ];
      // Before the fix every batch was still pending here (commandTimeout is 1 s).
      const outcomes = await Promise.all(calls.map(([, p]) => settle(p, 5000)));
      calls.forEach(([op], i) => {
        const err = outcomes[i];
        assert.ok(
          err instanceof CacheError,
          `${op}: ${err === 'hung' ? 'still pending after 5 s' : String(err)}`,
        );
        assert.equal(err.code, 'unavailable', `${op}: ${err.message}`);
        assert.match(err.message, /LOADING/, op);
      });
      // Its dedicated connection waited for the load: the reason, not only "connecting took longer".
      assert.match(
        (outcomes[6] as Error).message,
        /connecting took longer than \d+ ms: LOADING the server is up but still loading its data/,
      );
      // The other master's key was answered.
      const partial = (outcomes[1] as { partial?: { values: unknown[] } }).partial;
      assert.equal(dec(partial?.values[2] as Uint8Array | undefined), 'old');

      assert.notEqual(await settle(reloaded, 30_000), 'hung', 'the load did not end');
      assert.deepEqual((await cache.getMany([a, b, other])).map(dec), ['old', 'old', 'old']);
      unhandled.check();
    } finally {
      reloader.disconnect();
    }
  });

  it('restarted with its data: its commands and health() say it is loading (unavailable), then it serves', async () => {
    const slots = (cache.client as Cluster).slots;
    const master = cluster.masters[0]!;
    const at = `${master.host}:${master.port}`;
    const keys = Array.from({ length: 200 }, (_, i) => `r${i}`);
    const [a, b] = keys.filter((k) => slots[keySlot(k)]?.[0] === at) as [string, string];
    for (const k of [a, b]) await cache.set(k, enc('old'));
    await redisCommand(master.port, ['DEBUG', 'POPULATE', 50_000, 'pop', 10], {});
    await redisCommand(master.port, ['SAVE'], {});
    // Killed and started again on its port with its own config (no failover: node timeout 30 s).
    const args = master.server.child.spawnargs.slice(1);
    await master.server.kill();
    const child = spawn(master.server.child.spawnfile, args, { cwd: dirname(args[0]!), stdio: 'ignore' });
    restarted.push(child);
    let loading = false;
    for (let i = 0; i < 200 && !loading; i++) {
      const info = await redisCommand(master.port, ['INFO', 'persistence'], {}).catch(() => '');
      loading = /^loading:1/m.test(String(info));
      if (!loading) await sleep(10);
    }
    assert.ok(loading, 'the restarted master did not load');
    // Before: `timeout` "Command timed out", naming no load.
    const calls: [string, Promise<unknown>][] = [
      ['get', cache.get(a)],
      ['set', cache.set(a, enc('new'))],
      ['getMany', cache.getMany([a, b])],
      ['delete', cache.delete(b)],
    ];
    const outcomes = await Promise.all(calls.map(([, p]) => settle(p, 5000)));
    calls.forEach(([op], i) => {
      const err = outcomes[i];
      assert.ok(err instanceof CacheError, `${op}: ${String(err)}`);
      assert.equal(err.code, 'unavailable', `${op}: ${err.message}`);
      assert.match(err.message, /still loading its data into memory/, op);
    });
    const health = await cache.health();
    assert.equal(health.ok, false);
    const node = health.nodes?.find((n) => n.address === at);
    assert.match(String(node?.error), /still loading its data into memory/);
    // Served again once it loaded (and rejoined the cluster).
    let value: string | undefined;
    for (let i = 0; i < 300 && value === undefined; i++) {
      value = await cache.get(a).then(dec, () => undefined);
      if (value === undefined) await sleep(100);
    }
    assert.equal(value, 'old');
    unhandled.check();
  });
});
