/**
 * `commandTimeout` beside an injected client, as the README ("Injected clients") says: it bounds
 * the cache's own waits (health(), transactions), not the commands, which the client's own
 * command timeout bounds. A client without one is warned of at creation — read from where iovalkey
 * reads it: a Cluster with `redisOptions.commandTimeout` was warned of as having none (the check
 * read the top of its options), and one with a timeout only at the top (which iovalkey ignores)
 * was not.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, freePort, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

/** What a cache made over `client` warns of at creation. */
async function warningsFor(client: Redis | Cluster): Promise<string[]> {
  const warned: string[] = [];
  const logger = {
    warn: (message: string) => warned.push(message),
    info() {},
    error() {},
    debug() {},
  };
  const cache = createRedisCache({ client, logger, minIdleConns: 0 });
  await cache.close();
  return warned.filter((m) => m.includes('commandTimeout'));
}

it('warns of an injected client without a command timeout, read where iovalkey reads it', async () => {
  // Lazy clients of a port kept closed: nothing connects.
  const port = await freePort();
  const nodes = [{ host: '127.0.0.1', port }];
  const clients = {
    clusterWith: new Cluster(nodes, { lazyConnect: true, redisOptions: { commandTimeout: 2000 } }),
    clusterTopOnly: new Cluster(nodes, { lazyConnect: true, commandTimeout: 2000 } as never),
    redisWith: new Redis({ port, lazyConnect: true, commandTimeout: 2000 }),
    redisWithout: new Redis({ port, lazyConnect: true }),
  };
  try {
    assert.deepEqual(await warningsFor(clients.clusterWith), []);
    assert.deepEqual(await warningsFor(clients.redisWith), []);
    const [cluster] = await warningsFor(clients.clusterTopOnly);
    assert.match(cluster ?? '', /no commandTimeout.*set redisOptions\.commandTimeout on the client/);
    const [redis] = await warningsFor(clients.redisWithout);
    assert.match(redis ?? '', /no commandTimeout.*set commandTimeout on the client/);
  } finally {
    for (const c of Object.values(clients)) c.disconnect();
  }
});

describeWithServers(
  "commandTimeout beside an injected client: the cache's waits, not the commands",
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    let client: Redis;
    const unhandled = watchUnhandled();
    before(async () => {
      redis = await startRedis();
      // The client's own bound, far beyond the cache's: what bounds the commands.
      client = new Redis({ host: redis.host, port: redis.port, commandTimeout: 60_000 });
      client.on('error', () => {});
    });
    after(async () => {
      if (redis && !redis.server.exited) redis.server.child.kill('SIGCONT');
      client?.disconnect();
      await redis?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it("health() and a transaction end at the cache's commandTimeout while a get waits on the client's", async () => {
      const cache = createRedisCache({ client, keyPrefix: 'ct:', commandTimeout: 300 });
      try {
        assert.equal(await cache.set('k', enc('v')), true);
        redis.server.child.kill('SIGSTOP');
        let got: string | undefined | Error = 'pending';
        const get = cache.get('k').then(
          (v) => {
            got = dec(v);
          },
          (e: Error) => {
            got = e;
          },
        );
        const health = await cache.health();
        assert.equal(health.ok, false);
        assert.match(health.error ?? '', /timed out/i);
        await rejectsWith(
          cache.transaction((tx) => void tx.get('k')),
          'timeout',
        );
        assert.equal(got, 'pending', 'the get was bounded by the cache, not by the client');
        redis.server.child.kill('SIGCONT');
        await get;
        assert.equal(got, 'v');
        // The server answers again: so does health().
        await waitFor(async () => (await cache.health()).ok, { what: 'health ok again', timeoutMs: 10_000 });
      } finally {
        redis.server.child.kill('SIGCONT');
        await cache.close();
      }
    });
  },
);
