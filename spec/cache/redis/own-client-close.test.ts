/**
 * `ownClient: true` on one of several caches over one injected client, the server stalled
 * (SIGSTOP). Found from outside (/tmp/readonly/own-client.mts): the owner's `close()` resolved
 * (after QUIT's 1 s and the 1 s wait for the socket's end) with the client still 'ready' on a
 * half-closed socket — iovalkey waits for the server's side up to the client's own
 * `disconnectTimeout` (2 s by default) — and for that second every other cache over the client
 * waited its command timeout to fail with "not connected within 500 ms", before "connection
 * ended". The owner's close now cuts the sockets the server never closed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('ownClient: the owner closed while the server is stalled', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    redis?.server.child.kill('SIGCONT');
    await redis?.stop();
  });

  it('close() ends the client; the other caches fail at once with "connection ended"', async () => {
    const client = new Redis({ host: redis.host, port: redis.port, password: redis.password });
    client.on('error', () => {});
    const owner = createRedisCache({ client, ownClient: true, keyPrefix: 'a:', commandTimeout: 500 });
    const other = createRedisCache({ client, keyPrefix: 'b:', commandTimeout: 500 });
    try {
      await owner.set('k', Buffer.from('v'));
      await other.set('k', Buffer.from('v'));
      redis.server.child.kill('SIGSTOP');
      try {
        await owner.close();
        assert.equal(client.status, 'end', 'the owned client is closed once close() resolved');
        // Before: "not connected within 500 ms" (after waiting that long).
        await assert.rejects(other.get('k'), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'unavailable');
          assert.match(err.message, /connection ended/);
          return true;
        });
      } finally {
        redis.server.child.kill('SIGCONT');
      }
    } finally {
      await other.close();
      await owner.close();
      client.disconnect();
    }
  });
});
