/**
 * What `publish()` of the Redis invalidation bus rejects with when the server refuses it for a
 * reason other than the ACL (NOPERM, bus-credentials.test.ts). Found from outside
 * (/tmp/clocks2/c-bus.mts): with another client's script past `busy-reply-threshold` it rejected
 * with iovalkey's raw ReplyError ("BUSY Redis is busy running a script …"), and with Redis down
 * with a raw Error ("Stream isn't writeable …"): a caller catching CacheError, as for every other
 * failure of the cache, missed both. Now a CacheError worded and coded as the cache words the same
 * reply (`unavailable`, what holds the server and how to stop it), naming the bus, channel and node.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { rejectsWith, sleep } from './helpers.js';

// Busy for about 1.5 s of the server's clock, then done by itself.
const SLOW = `local t = redis.call('TIME'); local s = t[1] * 1000000 + t[2]
while true do local n = redis.call('TIME'); if n[1] * 1000000 + n[2] - s > 1500000 then break end end
return 1`;

describe('redis invalidation bus: publish refused', { skip: skipRedis() }, () => {
  const servers: RedisStandalone[] = [];
  after(async () => {
    for (const s of servers) await s.stop();
  });

  it('BUSY and a server down reject with CacheError unavailable, worded as the cache words them', async () => {
    const server = await startRedis({ extraConfig: ['busy-reply-threshold 100'] });
    servers.push(server);
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 3000 });
    const bus = createRedisInvalidationBus({ client: cache.client, channel: 'inv' });
    const slow = new Redis({ host: server.host, port: server.port, lazyConnect: true });
    try {
      await cache.set('k', Buffer.from('v'));
      await bus.publish({ origin: 'me', keys: ['k'] });
      await slow.connect();
      const running = slow.eval(SLOW, 0).catch(() => undefined);
      let busy = false;
      for (let i = 0; i < 40 && !busy; i++) {
        await sleep(25);
        busy = await redisCommand(server.port, ['PING'], {}).then(
          () => false,
          (e: Error) => /^BUSY/.test(e.message),
        );
      }
      assert.ok(busy, 'the server never answered BUSY');
      const err = await rejectsWith(bus.publish({ origin: 'me', keys: ['k'] }), 'unavailable');
      assert.match(
        err.message,
        /^redis invalidation bus: PUBLISH inv failed \(127\.0\.0\.1:\d+\): the server is busy running a script/,
      );
      assert.match(err.message, /SCRIPT KILL/);
      await running;
      await bus.publish({ origin: 'me', keys: ['k'] }); // the script ended: published again

      await server.stop();
      // The client notices the closed connection on its next event-loop turns (bounded).
      for (let i = 0; i < 40 && cache.client.status === 'ready'; i++) await sleep(25);
      const down = await rejectsWith(bus.publish({ origin: 'me', keys: ['k'] }), 'unavailable');
      assert.match(down.message, /^redis invalidation bus: PUBLISH inv failed/);
    } finally {
      slow.disconnect();
      await bus.close();
      await cache.close();
    }
  });

  it('publish() after close() rejects with closed, as subscribe() does (it resolved as if sent)', async () => {
    const server = await startRedis();
    servers.push(server);
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 3000 });
    const bus = createRedisInvalidationBus({ client: cache.client, channel: 'inv-closed' });
    try {
      await cache.set('k', Buffer.from('v'));
      await bus.publish({ origin: 'me', keys: ['k'] });
      await bus.close();
      const err = await rejectsWith(bus.publish({ origin: 'me', keys: ['k'] }), 'closed');
      assert.match(err.message, /invalidation bus is closed: nothing was published/);
      await rejectsWith(
        bus.subscribe(
          () => {},
          () => {},
        ),
        'closed',
      );
    } finally {
      await bus.close();
      await cache.close();
    }
  });

  // Found from outside (/tmp/D10/s1.mts): a bus made over a cache's client that was still
  // connecting (its offline queue is off) rejected publish() at once with "Stream isn't writeable
  // and enableOfflineQueue options is false", while a lease over the same client waited for it;
  // with a wrong password, it said the same instead of naming the fault as the lease does.
  it('publish over a client still connecting waits for it, as the lease does; a known fault is named', async () => {
    const server = await startRedis({ password: 'bus-secret' });
    servers.push(server);
    const at = [`${server.host}:${server.port}`];
    const heard: string[] = [];
    const listener = createRedisCache({ addresses: at, password: 'bus-secret' });
    const other = createRedisInvalidationBus({ client: listener.client, channel: 'inv-early' });
    const wrong = createRedisCache({ addresses: at, password: 'not-it', commandTimeout: 5000 });
    const wrongBus = createRedisInvalidationBus({ client: wrong.client, channel: 'inv-early' });
    await other.subscribe(
      (m) => heard.push(...(m.keys ?? [])),
      () => {},
    );
    // Made once the listener is subscribed: its client is still connecting at the publish.
    const cache = createRedisCache({ addresses: at, password: 'bus-secret', commandTimeout: 5000 });
    const bus = createRedisInvalidationBus({ client: cache.client, channel: 'inv-early' });
    try {
      assert.notEqual(cache.client.status, 'ready');
      await bus.publish({ origin: 'me', keys: ['k1'] });
      for (let i = 0; i < 80 && heard.length === 0; i++) await sleep(25);
      assert.deepEqual(heard, ['k1']);

      const err = await rejectsWith(wrongBus.publish({ origin: 'me', keys: ['k'] }), 'unavailable');
      assert.match(err.message, /^redis invalidation bus: PUBLISH inv-early failed: authentication failed/);
      assert.doesNotMatch(err.message, /not-it|Stream isn't writeable/);
    } finally {
      for (const b of [bus, other, wrongBus]) await b.close();
      for (const c of [cache, listener, wrong]) await c.close();
    }
  });

  // Found from outside (/tmp/D10/s13.mts): a message no receiver decodes (a key that is not a
  // string, an origin that is not one, keys given as a string) resolved as published, and every
  // instance ignored it: the invalidation was lost without a word. Now refused, nothing sent.
  it('publish refuses a message no receiver would decode with CacheError invalid_value', async () => {
    const server = await startRedis();
    servers.push(server);
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`] });
    const bus = createRedisInvalidationBus({ client: cache.client, channel: 'inv-shape' });
    const other = createRedisInvalidationBus({ client: cache.client, channel: 'inv-shape' });
    const heard: unknown[] = [];
    try {
      await other.subscribe(
        (m) => heard.push(m),
        () => {},
      );
      const bad = [
        { origin: 'svc', keys: [42] },
        { origin: 7, keys: ['k'] },
        { origin: 'svc', keys: 'k' },
      ];
      for (const message of bad) {
        const err = await rejectsWith(bus.publish(message as never), 'invalid_value');
        assert.match(err.message, /^redis invalidation bus: publish: (origin|keys) must be/);
      }
      await bus.publish({ origin: 'svc', keys: ['ok'] });
      for (let i = 0; i < 80 && heard.length === 0; i++) await sleep(25);
      assert.deepEqual(heard, [{ origin: 'svc', keys: ['ok'] }]);
    } finally {
      await bus.close();
      await other.close();
      await cache.close();
    }
  });
});
