/**
 * A tiered cache (tracking and bus, as config `mode: both` builds it) started while its sentinel
 * set or cluster cannot be reached, reached later (tiered audit 2: replayed from outside, only a
 * standalone Redis had been). The seeds the cache is given (sentinel addresses, cluster seed nodes)
 * are loopback relays that refuse connections at first, then forward to the real servers. While
 * down: every read is answered by the loader within `l2Timeout`, nothing rejects unhandled. Once
 * up: `ready` resolves, another instance's write and an outside `redis-cli` write both reach L1.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, freePort, waitFor } from '../../harness/process.js';
import { skipRedis, startRedisCluster, startRedisSentinel } from '../../harness/redis.js';
import { holdInL1, outsideOnce, text } from './tracking-helpers.js';

const PASSWORD = 'down-pass';
const PREFIX = 'das:';

describeWithServers('tiered cache whose sentinel set or cluster is down at start', skipRedis(), () => {
  const sockets = new Set<Socket>();
  const relays: Server[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    for (const c of closers.reverse()) await c().catch(() => {});
    for (const s of sockets) s.destroy();
    for (const r of relays) r.close();
  });

  /** Starts forwarding `port` (nothing listened there so far) to `target`. */
  const relay = (port: number, target: number) =>
    new Promise<void>((resolve) => {
      const server = createServer((client) => {
        const upstream = connect(target, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      relays.push(server);
      server.listen(port, '127.0.0.1', () => resolve());
    });

  const tiered = (l2: RedisCache): TieredCache => {
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 200 }),
      bus: createRedisInvalidationBus({ client: l2.client, channel: `${PREFIX}inv` }),
      l1Ttl: 60_000,
      l2Timeout: 300,
      breaker: false,
    });
    closers.push(() => cache.close());
    return cache;
  };

  /** The scenario for one topology; `make(ports)` builds an L2 seeded with `ports`. */
  async function replay(
    targets: readonly number[],
    make: (ports: readonly number[]) => RedisCache,
    outsidePort: number,
    outsideArgs: (args: string[]) => string[],
  ) {
    const ports = await Promise.all(targets.map(() => freePort()));
    const a = tiered(make(ports));
    let ready = false;
    a.ready.then(
      () => {
        ready = true;
      },
      () => {},
    );
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const r = await a.getOrSetWithMeta('k', async () => Buffer.from('loaded'));
      const took = performance.now() - started;
      assert.equal(r.source, 'loader');
      assert.ok(took < 1_500, `a read while down took ${took.toFixed(0)} ms (l2Timeout 300)`);
    }
    assert.equal(ready, false);
    assert.equal(a.stats().l1Hits, 0, 'no L1 answer before the cache could hear invalidations');

    await Promise.all(ports.map((p, i) => relay(p, targets[i]!)));
    const up = performance.now();
    await waitFor(() => ready, { timeoutMs: 15_000, what: 'ready once the servers answer' });
    const readyAfter = performance.now() - up;

    const b = tiered(make(targets));
    await b.ready;
    await b.set('x', Buffer.from('1'), 60_000);
    assert.equal(await holdInL1(a, 'x'), '1');
    await b.set('x', Buffer.from('2'), 60_000);
    await waitFor(async () => text(await a.get('x')) === '2', {
      timeoutMs: 2000,
      what: "b's write to reach a",
    });
    assert.equal(await holdInL1(a, 'x'), '2');
    assert.equal(await outsideOnce(outsidePort, outsideArgs(['SET', `${PREFIX}x`, '3'])), 'OK');
    await waitFor(async () => text(await a.get('x')) === '3', {
      timeoutMs: 2000,
      what: 'the outside write to reach a',
    });
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
    return readyAfter;
  }

  it('sentinel: loader answers while down; once up, ready, and writes of both kinds reach L1', async () => {
    const set = await startRedisSentinel({ password: PASSWORD });
    closers.unshift(() => set.stop());
    const readyAfter = await replay(
      set.sentinels.map((s) => s.port),
      (ports) =>
        createRedisCache({
          mode: 'sentinel',
          sentinel: { masterName: set.masterName, sentinelAddresses: ports.map((p) => `127.0.0.1:${p}`) },
          password: PASSWORD,
          keyPrefix: PREFIX,
          commandTimeout: 300,
        }),
      set.master.port,
      (args) => ['--no-auth-warning', '-a', PASSWORD, ...args],
    );
    console.log(`# sentinel down at start: ready ${readyAfter.toFixed(0)} ms after the sentinels answered`);
  });

  it('cluster: loader answers while down; once up, ready, and writes of both kinds reach L1', async () => {
    const cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
    closers.unshift(() => cluster.stop());
    const readyAfter = await replay(
      cluster.nodes.map((n) => n.port),
      (ports) =>
        createRedisCache({
          mode: 'cluster',
          addresses: ports.map((p) => `127.0.0.1:${p}`),
          keyPrefix: PREFIX,
          commandTimeout: 300,
        }),
      cluster.masters[0]!.port,
      (args) => ['-c', ...args],
    );
    console.log(`# cluster down at start: ready ${readyAfter.toFixed(0)} ms after the seeds answered`);
  });
});
