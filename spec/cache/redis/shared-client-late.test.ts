/**
 * A cache made over another cache's client (`createRedisCache({ client: first.client })`, as the
 * README's `cache.client` allows) while that client is faulted must name the fault at once, as
 * the first cache does.
 *
 * Found from outside (/tmp/sharedclient/late.mts): with a wrong password, the first cache's get
 * failed at once with "authentication failed …", while the second cache's waited its whole
 * command timeout and failed with a bare "not connected within 2000 ms", and its health() said
 * only "(reconnecting)": its fault watch knew only faults met from its creation on, and the client
 * (faulted) redials only every FAULT_RETRY_MS (5 s). A new watch now learns the fault from the
 * other watches over the client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisCache, createRedisLease, type RedisCache } from '../../../lib/cache/redis/index.js';
import { FAULT_RETRY_MS } from '../../../lib/cache/redis/tls.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { watchUnhandled } from './helpers.js';

/** Below FAULT_RETRY_MS: a cache that was not told of the fault waits all of it. */
const COMMAND_TIMEOUT = 2000;

async function getError(cache: RedisCache): Promise<CacheError> {
  try {
    await cache.get('k');
  } catch (err) {
    assert.ok(err instanceof CacheError, String(err));
    return err;
  }
  assert.fail(`${cache.keyPrefix}: get succeeded`);
}

describe('a cache made over a faulted shared client', { skip: skipRedis() }, () => {
  let server: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    server = await startRedis({ password: 'the-right-password' });
  });
  after(async () => {
    await server?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('names the fault the other cache knows, at once and in health()', async () => {
    assert.ok(COMMAND_TIMEOUT < FAULT_RETRY_MS);
    const first = createRedisCache({
      addresses: [`${server.host}:${server.port}`],
      password: 'not-the-password',
      commandTimeout: COMMAND_TIMEOUT,
    });
    let second: RedisCache | undefined;
    try {
      assert.match((await getError(first)).message, /authentication failed/);
      second = createRedisCache({ client: first.client, keyPrefix: 'b:', commandTimeout: COMMAND_TIMEOUT });
      const err = await getError(second);
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /authentication failed/);
      const health = await second.health();
      assert.equal(health.ok, false);
      assert.match(health.error ?? '', /authentication failed/);
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('a lease over the faulted client names the fault, also while the first connection is tried', async () => {
    // Found from outside (/tmp/sharedclient/leasefault.mts): the lease (which keeps no fault watch)
    // waited the command timeout for "the client did not connect within 2000 ms", then said only
    // "the client is not connected", where the cache over the same client named the fault.
    const cache = createRedisCache({
      addresses: [`${server.host}:${server.port}`],
      password: 'not-the-password',
      commandTimeout: COMMAND_TIMEOUT,
    });
    const lease = createRedisLease({ client: cache.client });
    try {
      for (let i = 0; i < 2; i++) {
        const err = await lease.acquire('k').then(
          () => assert.fail('acquired'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof CacheError, String(err));
        assert.equal(err.code, 'unavailable');
        assert.match(err.message, /^redis lease acquire failed: authentication failed/);
      }
    } finally {
      await cache.close();
    }
  });
});
