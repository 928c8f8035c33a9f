/**
 * One iovalkey client shared by several caches (one per key prefix, as the README allows) meets a
 * connection fault that waiting cannot fix: every cache over it must name the fault as a cache of
 * its own client would — also once the first cache over the client is closed.
 *
 * Found from outside (/tmp/sharedclient/clus.mts): the first cache guards the client once for good
 * (lib/cache/redis/tls.ts guardNode), and the guard sent what only it sees — a cluster's slot-map
 * connections refused for a wrong CA, its nodes' resets by TLS-only ports — to that first cache
 * alone. The second cache waited the whole command timeout and failed with "not connected within
 * … ms: no cluster node answered (…: Connection is closed.)", as did a cache made after the first
 * was closed, while the client kept the closed cache's fault watch alive (and one more ready-check
 * wrapper per cache ever made over it).
 *
 * A cluster client against a TLS-only standalone server is enough: the connections fail before
 * any cluster command is answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { watchUnhandled } from './helpers.js';

/** Far above the time a diagnosed fault takes: a cache that was not told waits all of it. */
const COMMAND_TIMEOUT = 6000;

async function getError(cache: RedisCache): Promise<CacheError> {
  try {
    await cache.get('k');
  } catch (err) {
    assert.ok(err instanceof CacheError, String(err));
    return err;
  }
  assert.fail(`${cache.keyPrefix}: get succeeded`);
}

describe('caches sharing one client all diagnose its connection faults', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let server: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    pki = await createTestPki();
    server = await startRedis({ tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key } });
  });
  after(async () => {
    await server?.stop();
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  const scenario = async (redisOptions: object, diagnosis: RegExp) => {
    const client = new Cluster([{ host: server.host, port: server.port }], {
      redisOptions: { ...redisOptions, commandTimeout: COMMAND_TIMEOUT },
    });
    client.on('error', () => {});
    const make = (prefix: string) =>
      createRedisCache({ client, keyPrefix: prefix, commandTimeout: COMMAND_TIMEOUT });
    const readyCheck = () => (client as unknown as { readyCheck?: unknown }).readyCheck;
    try {
      const first = make('a:');
      const wrapped = readyCheck();
      const second = make('b:');
      const [e1, e2] = await Promise.all([getError(first), getError(second)]);
      assert.match(e1.message, diagnosis, 'the first cache');
      assert.match(e2.message, diagnosis, 'the second cache over the same client');
      assert.equal(e2.code, 'unavailable');
      await first.close();
      const third = make('c:');
      const [e3, e4] = await Promise.all([getError(second), getError(third)]);
      assert.match(e3.message, diagnosis, 'the second cache, the first closed');
      assert.match(e4.message, diagnosis, 'a cache made after the first was closed');
      // The client's ready check is wrapped once, not once more per cache.
      assert.equal(readyCheck(), wrapped);
      await Promise.all([second.close(), third.close()]);
    } finally {
      client.disconnect();
    }
  };

  it('wrong CA: every cache says so, the first one closed or not', () =>
    scenario({ tls: { ca: pki.otherCa.certPem } }, /not signed by a trusted CA/));

  it('plain text to a TLS-only node: every cache suggests `tls`', () =>
    scenario({}, /reset \d+ plain-text connections in a row before any reply: TLS-only nodes\?/));
});
