/**
 * One iovalkey client serving several caches (one per key prefix) and their invalidation buses,
 * as the README allows. Found from outside (/tmp/me/cache11.mts): from the 4th cache on one
 * client Node printed `MaxListenersExceededWarning: Possible EventEmitter memory leak` for
 * 'error', 'ready', 'connect' and four internal events (the 11th bus likewise for 'error'), though
 * nothing leaked while they were open; and each closed cache left three listeners on the client
 * (its "no INFO", "open server" and "open sentinel" warnings), which kept the cache's logger, for
 * the client's life. Now each cache or bus makes room for what it adds and takes it back on
 * close, and a closed cache leaves the client's listeners as it found them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const COUNT = 12;

function listenerCounts(client: Redis): Record<string, number> {
  return Object.fromEntries(client.eventNames().map((e) => [String(e), client.listenerCount(e)]));
}

describe('one Redis client shared by many caches and buses', { skip: skipRedis() }, () => {
  let server: RedisStandalone;
  before(async () => {
    server = await startRedis();
  });
  after(() => server?.stop());

  it(`${COUNT} caches and ${COUNT} buses: no listener-leak warning; closed, the client is as it was`, async () => {
    const client = new Redis({ host: server.host, port: server.port, commandTimeout: 2000 });
    client.on('error', () => {});
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      await client.ping();
      // The first cache over a client guards it once for good (two 'error' listeners of the TLS
      // and SELECT guard, ../../../lib/cache/redis/tls.ts guardNode): the baseline is after it.
      const first = createRedisCache({ client, keyPrefix: 'first:' });
      await first.set('k', Buffer.from('v'));
      await first.close();
      const before = listenerCounts(client);
      const limit = client.getMaxListeners();
      const caches = Array.from({ length: COUNT }, (_, i) =>
        createRedisCache({ client, keyPrefix: `p${i}:` }),
      );
      const buses = Array.from({ length: COUNT }, (_, i) =>
        createRedisInvalidationBus({ client, channel: `inv${i}` }),
      );
      // Every cache works over the shared client; every bus publishes through it.
      await Promise.all(caches.map((c, i) => c.set('k', Buffer.from(String(i)))));
      assert.deepEqual(
        (await Promise.all(caches.map((c) => c.get('k')))).map((v) => v?.toString()),
        caches.map((_, i) => String(i)),
      );
      await Promise.all(buses.map((b) => b.publish({ origin: 'test', keys: ['k'] })));
      // The checks above must have seen the listeners: more than one per event name is there.
      assert.ok((listenerCounts(client).error ?? 0) > COUNT, JSON.stringify(listenerCounts(client)));
      await Promise.all([...caches.map((c) => c.close()), ...buses.map((b) => b.close())]);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
        'no listener-leak warning',
      );
      assert.deepEqual(listenerCounts(client), before, 'listeners left on the client after close');
      assert.equal(client.getMaxListeners(), limit, 'the listener limit is restored');
      // The client itself is untouched by the closes.
      assert.equal(await client.ping(), 'PONG');
    } finally {
      process.off('warning', onWarning);
      client.disconnect();
    }
  });

  it("many concurrent publishes, on a shared client or the bus's own connection: no listener-leak warning", async () => {
    // Each publish on a client that queues offline waits for a connection fault as well (a TLS
    // fault would hold it for good): that wait was one 'error' listener per publish, so the 11th
    // concurrent publish printed MaxListenersExceededWarning (found on review).
    const client = new Redis({ host: server.host, port: server.port, commandTimeout: 2000 });
    client.on('error', () => {});
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      await client.ping();
      const before = listenerCounts(client);
      const shared = createRedisInvalidationBus({ client, channel: 'many' });
      const own = createRedisInvalidationBus({
        redis: { host: server.host, port: server.port },
        channel: 'many',
      });
      for (const bus of [shared, own])
        for (let round = 0; round < 2; round++)
          await Promise.all(
            Array.from({ length: 40 }, (_, i) => bus.publish({ origin: 'test', keys: [`k${i}`] })),
          );
      await Promise.all([shared.close(), own.close()]);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
        'no listener-leak warning',
      );
      assert.deepEqual(listenerCounts(client), before, 'listeners left on the client after close');
    } finally {
      process.off('warning', onWarning);
      client.disconnect();
    }
  });

  it('a client without a listener limit (setMaxListeners(0)) keeps it', async () => {
    const client = new Redis({ host: server.host, port: server.port, commandTimeout: 2000 });
    client.on('error', () => {});
    client.setMaxListeners(0);
    try {
      const cache = createRedisCache({ client, keyPrefix: 'z:' });
      const bus = createRedisInvalidationBus({ client, channel: 'z' });
      assert.equal(client.getMaxListeners(), 0);
      await cache.set('k', Buffer.from('v'));
      await Promise.all([cache.close(), bus.close()]);
      assert.equal(client.getMaxListeners(), 0);
    } finally {
      client.disconnect();
    }
  });

  it('close() of a cache over a shared client waits for its commands in flight (the app may then end the client)', async () => {
    // README: close() "waits for in-flight ones". A cache that does not own its client does not
    // QUIT it, so nothing else orders its close after them: were close() not to wait, an app
    // ending the shared client once it resolved would cut a write still in flight. (Mutation
    // pass: close() not waiting survived every test.)
    const client = new Redis({ host: server.host, port: server.port, commandTimeout: 5000 });
    client.on('error', () => {});
    try {
      await client.ping();
      const cache = createRedisCache({ client, keyPrefix: 'drain:' });
      await cache.set('warm', Buffer.from('v'));
      // A blocking command first on the shared connection holds the cache's SET behind it.
      const blocking = client.blpop('drain:nothing', 0.5);
      let settled = 'pending';
      const writing = cache.set('k', Buffer.from('v')).then(
        (r) => {
          settled = String(r);
        },
        (e: Error) => {
          settled = e.message;
        },
      );
      await cache.close();
      assert.equal(settled, 'true', 'the write in flight had its answer when close() resolved');
      await writing;
      await blocking;
      assert.equal((await client.get('drain:k'))?.toString(), 'v');
    } finally {
      client.disconnect();
    }
  });
});
