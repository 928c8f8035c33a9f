/**
 * A server that closes every connection right after accepting it (a proxy with no backend, a
 * server at its limits): found from outside (/tmp probe, a loopback listener that destroys each
 * socket). iovalkey's ready check then fails with "Reached the max retries per request limit
 * (which is 1). Refer to "maxRetriesPerRequest" option for details", and both the callers' "not
 * connected within … ms: …" and `health()` printed that advice, naming an option the cache does
 * not take (a command's own error already said it in words, ./lost-connection-message.test.ts).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { rejectsWith } from './helpers.js';

describe('a server that closes each connection at once', () => {
  let server: Server | undefined;
  let port = 0;
  before(async () => {
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('says the connection was lost, not an iovalkey option, in errors and health()', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${port}`], commandTimeout: 1000 });
    try {
      const err = await rejectsWith(cache.get('k'), 'unavailable');
      assert.match(err.message, /^redis get failed \(127\.0\.0\.1:\d+\): not connected within 1000 ms/);
      assert.doesNotMatch(err.message, /maxRetriesPerRequest/);
      const health = await cache.health();
      assert.equal(health.ok, false);
      assert.doesNotMatch(String(health.error), /maxRetriesPerRequest/);
    } finally {
      await cache.close();
    }
  });
});
