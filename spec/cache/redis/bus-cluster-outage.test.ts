/**
 * An invalidation bus on a cluster whose every node goes away. iovalkey's cluster subscriber
 * connection, when it ends, picks another node and connects at once, with no retry delay of its
 * own; with every node down that was a tight loop — found from outside: thousands of connection
 * attempts a second for as long as the outage lasted, and a MaxListenersExceededWarning (each
 * attempt added a 'close' listener to the last live subscriber's dead socket). The attempts now
 * back off (lib/cache/redis/cluster-subscriber.ts).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { enc, sleep, watchUnhandled } from './helpers.js';

describeWithServers('an invalidation bus on a cluster whose nodes are all down', skipRedis(), () => {
  let cluster: RedisCluster;
  const unhandled = watchUnhandled();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  before(async () => {
    cluster = await startRedisCluster();
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('redials the nodes with a backoff, not in a tight loop, and warns of no listener leak', async () => {
    const cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 2000,
    });
    const bus = createRedisInvalidationBus({ client: cache.client, channel: 'outage:inv' });
    await bus.subscribe(
      () => {},
      () => {},
    );
    assert.equal(await cache.set('k', enc('v')), true);
    const ports = cluster.nodes.map((n) => n.port);
    await cluster.stop();
    // The nodes' ports now take a connection and drop it at once (a node that refuses): every
    // attempt of the cache's and the bus's connections is counted.
    let attempts = 0;
    const sockets = new Set<Socket>();
    const servers: Server[] = await Promise.all(
      ports.map(
        (port) =>
          new Promise<Server>((resolve, reject) => {
            const server = createServer((socket) => {
              attempts++;
              socket.destroy();
            });
            server.on('connection', (s) => sockets.add(s));
            server.once('error', reject);
            server.listen(port, '127.0.0.1', () => resolve(server));
          }),
      ),
    );
    try {
      attempts = 0;
      await sleep(2000);
      const seen = attempts;
      console.log(`# ${seen} connection attempts in 2 s of outage`);
      // With a backoff (1 s at most between the subscriber's picks, the cache's own redials
      // slower still) a few dozen at most; the tight loop made thousands.
      assert.ok(seen < 100, `${seen} connection attempts in 2 s of outage`);
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
      );
    } finally {
      await bus.close();
      await cache.close();
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });
});
