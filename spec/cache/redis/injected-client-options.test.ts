/**
 * Connection options beside an injected `client`. The client connects with its own options, so
 * `db`, `password`, `username`, `tls` and `sentinel.masterName` build only the cache's own client:
 * given with `client` and different from the client's own they were ignored without a word. Found
 * from outside: `createRedisCache({ client, db: 3 })` over a client in db 0 wrote its keys to db 0,
 * and its `clear()` (no keyPrefix: the whole db) removed another program's keys there; `tls: true`
 * over a plain client went on in clear text. Each is now a ConfigError naming the option; the
 * client's own value (options shared with the cache that built it) is still taken.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { dec, enc, replicaGets, watchUnhandled } from './helpers.js';

describeWithServers('connection options beside an injected client', skipRedis(), () => {
  let redis: RedisStandalone;
  let client: Redis;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
    client = new Redis({ host: redis.host, port: redis.port, commandTimeout: 1000 });
    client.on('error', () => {});
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('refuses db beside a client: another db would be written and cleared', async () => {
    await client.set('other-program', 'kept');
    let made: ReturnType<typeof createRedisCache> | undefined;
    let refused: unknown;
    try {
      made = createRedisCache({ client, db: 3 });
    } catch (e) {
      refused = e;
    }
    if (made) {
      // What a user of the cache it made would do: its own keyspace is db 3, whole.
      await made.set('mine', enc('v'));
      await made.clear();
      await made.close();
    }
    assert.equal(await client.get('other-program'), 'kept', 'a key of db 0 was removed');
    assert.ok(refused instanceof ConfigError, `not refused: ${String(refused)}`);
    assert.deepEqual(
      refused.issues.map((i) => i.path),
      ['db'],
    );
    assert.match(refused.issues[0]!.message, /differs from the injected client/);
  });

  it('refuses each connection option that differs from the client, naming it', async () => {
    const cases: Record<string, unknown>[] = [
      { password: 'secret-beside-client' },
      { username: 'app' },
      { tls: true },
      { sentinel: { masterName: 'mymaster' } },
      // The sentinels' own credentials and TLS, and auto-pipelining, are the client's too.
      { sentinel: { password: 'secret-beside-client' } },
      { sentinel: { username: 'app' } },
      { sentinel: { tls: true } },
      { autoPipelining: true },
    ];
    for (const extra of cases) {
      let refused: unknown;
      try {
        await createRedisCache({ client, ...extra } as never).close();
      } catch (e) {
        refused = e;
      }
      const key = extra.sentinel
        ? `sentinel.${Object.keys(extra.sentinel as object)[0]}`
        : Object.keys(extra)[0]!;
      assert.ok(refused instanceof ConfigError, `${key} beside client was taken`);
      assert.deepEqual(
        refused.issues.map((i) => i.path),
        [key],
      );
      assert.ok(!refused.message.includes('secret-beside-client'), refused.message);
    }
  });

  it("still takes the options a cache over a client uses, and the client's own connection options", async () => {
    const c = createRedisCache({
      client,
      keyPrefix: 'inj:',
      commandTimeout: 1000,
      defaultTtl: 60_000,
      // What the client has: options shared with the cache that built a client are the same.
      addresses: [`${redis.host}:${redis.port}`],
      db: 0,
      password: '',
      tls: false,
    });
    assert.equal(await c.set('k', enc('v')), true);
    assert.equal(dec(await c.get('k')), 'v');
    assert.ok((await client.pttl('inj:k')) > 0);
    await c.close();
    assert.equal(client.status, 'ready');
  });
});

/**
 * The cluster options beside an injected Cluster. Found from outside: `createRedisCache({ client,
 * cluster: { readOnly: true } })` over a Cluster reading from its masters (iovalkey's default) was
 * taken, and every read still went to the masters; `cluster.maxRedirects` was the client's own.
 */
describeWithServers('cluster options beside an injected Cluster', skipRedis(), () => {
  let cluster: RedisCluster;
  let client: Cluster;
  const unhandled = watchUnhandled();
  before(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(
      cluster.nodes.map((n) => ({ host: n.host, port: n.port })),
      { redisOptions: { commandTimeout: 2000 } },
    );
    client.on('error', () => {});
  });
  after(async () => {
    client?.disconnect();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('refuses cluster.readOnly beside a Cluster that reads from its masters', async () => {
    let made: ReturnType<typeof createRedisCache> | undefined;
    let refused: unknown;
    try {
      made = createRedisCache({ client, cluster: { readOnly: true } });
    } catch (e) {
      refused = e;
    }
    if (made) {
      // What its user expects: the replicas serve the reads.
      const keys = Array.from({ length: 30 }, (_, i) => `ro${i}`);
      for (const k of keys) await made.set(k, enc('v'));
      const before = await Promise.all(cluster.replicas.map(replicaGets));
      for (const k of keys) assert.equal(dec(await made.get(k)), 'v');
      const after = await Promise.all(cluster.replicas.map(replicaGets));
      await made.close();
      assert.ok(
        after.some((n, i) => n > before[i]!),
        'cluster.readOnly was taken, and no read went to a replica',
      );
    }
    assert.ok(refused instanceof ConfigError, `not refused: ${String(refused)}`);
    assert.deepEqual(
      refused.issues.map((i) => i.path),
      ['cluster.readOnly'],
    );
    assert.match(refused.issues[0]!.expected, /scaleReads/);
  });

  it("refuses a cluster.maxRedirects other than the client's own", async () => {
    let refused: unknown;
    try {
      await createRedisCache({ client, cluster: { maxRedirects: 0 } }).close();
    } catch (e) {
      refused = e;
    }
    assert.ok(refused instanceof ConfigError, 'cluster.maxRedirects beside client was taken');
    assert.deepEqual(
      refused.issues.map((i) => i.path),
      ['cluster.maxRedirects'],
    );
  });

  it('takes the cluster options of the cache that built the client', async () => {
    const options = {
      mode: 'cluster' as const,
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      commandTimeout: 2000,
      cluster: { readOnly: true, maxRedirects: 5 },
    };
    const first = createRedisCache({ ...options, keyPrefix: 'a:' });
    const second = createRedisCache({ ...options, client: first.client as Cluster, keyPrefix: 'b:' });
    assert.equal(await second.set('k', enc('v')), true);
    // Read from a master: its reads go to replicas, which may not have the write yet.
    assert.equal(await client.get('b:k'), 'v');
    // The same client reading from masters: readOnly false is its own value.
    const third = createRedisCache({ client, cluster: { readOnly: false, maxRedirects: 16 } });
    assert.equal(await third.set('k3', enc('v')), true);
    await Promise.all([second.close(), third.close()]);
    await first.close();
  });
});
