/**
 * One injected TLS client shared by caches with different command timeouts, connecting to a
 * plain-text port that never answers the TLS ClientHello: each cache's first command must name the
 * TLS fault, not run out its own command timeout first.
 *
 * Found from outside (/tmp/sharedclient/bounds.mts): the TLS handshake bound of the client's
 * connections was the first cache's (2 s for its 8 s command timeout), so a second cache over the
 * same client with `commandTimeout: 1500` (its own bound 1.2 s, README: "never later than a fifth
 * before the command timeout") failed with a bare "not connected within 1500 ms". The bound is now
 * the shortest of the caches open over the client.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { watchUnhandled } from './helpers.js';

describe('a shared TLS client bounds its handshakes by the shortest cache timeout', {
  skip: skipOpenssl(),
}, () => {
  let pki: TestPki;
  const sockets = new Set<Socket>();
  // A plain-text port that never answers a TLS ClientHello (as Redis does).
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  const unhandled = watchUnhandled();
  before(async () => {
    pki = await createTestPki();
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  it('the cache with the shorter commandTimeout gets the TLS fault', async () => {
    const { port } = silent.address() as AddressInfo;
    const client = new Redis({ host: '127.0.0.1', port, tls: { ca: pki.ca.certPem }, commandTimeout: 8000 });
    client.on('error', () => {});
    const slow = createRedisCache({ client, keyPrefix: 'slow:', commandTimeout: 8000 });
    const fast = createRedisCache({ client, keyPrefix: 'fast:', commandTimeout: 1500 });
    try {
      const err = await fast.get('k').then(
        () => assert.fail('get succeeded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CacheError, String(err));
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /did not answer with TLS/);
    } finally {
      await Promise.all([slow.close(), fast.close()]);
      client.disconnect();
    }
  });
});
