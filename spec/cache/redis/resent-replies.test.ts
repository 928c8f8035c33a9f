/**
 * A guarded write or delete whose reply is lost with its connection (a reset mid-reply) is sent
 * again by iovalkey on the next connection. When the first copy had been applied, the second one
 * answers about that copy's effect: `set(k, v, ttl, { ifAbsent: true })` resolved `false` although
 * its own value was stored, `ifEquals` `false` although it swapped the value, `delete` `false` and
 * `deleteMany` 0 although they removed the keys. Such an answer is now `unavailable`, saying the
 * command was sent twice; an answer that cannot be about the first copy (stored, or every key
 * removed) is kept. Likewise a loader lease acquire whose `SET NX` took the lease before its reply
 * was lost resolved "held by another"; it now holds the lease.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, createRedisLease, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis guarded commands resent after a lost reply', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  let cache: RedisCache;

  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: redis.port } });
    cache = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'rr:',
      commandTimeout: 5000,
    });
    await cache.get('warm-up');
  });
  after(async () => {
    await cache?.close();
    await proxy?.close();
    await redis?.stop();
  });

  /** Runs `op` with its reply lost: the server applies it, the proxy drops the reply and cuts the connection. */
  async function replyLost<T>(op: () => Promise<T>, applied: () => Promise<boolean>): Promise<T> {
    await waitFor(() => cache.client.status === 'ready', {
      timeoutMs: 10_000,
      what: 'the client to be ready',
    });
    proxy.droppingReplies = true;
    const dropped = proxy.stats.droppedReplies;
    const result = op().then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    try {
      // The command reached the server and ran there (its reply is being dropped).
      await waitFor(async () => proxy.stats.droppedReplies > dropped && (await applied()), {
        timeoutMs: 10_000,
        what: 'the command to be applied and its reply dropped',
      });
    } finally {
      proxy.droppingReplies = false; // cuts the connection that lost the reply
    }
    const settled = await result;
    if ('error' in settled) throw settled.error;
    return settled.value;
  }

  const isUnknown = (err: unknown) =>
    err instanceof CacheError && err.code === 'unavailable' && /sent again/.test(err.message);
  const value = async (key: string) => {
    const got = await redisCommand(redis.port, ['GET', `rr:${key}`]);
    return got === null ? undefined : String(got);
  };

  it('set ifAbsent whose value was stored does not resolve false', async () => {
    await assert.rejects(
      replyLost(
        () => cache.set('absent', Buffer.from('mine'), 60_000, { ifAbsent: true }),
        async () => (await value('absent')) === 'mine',
      ),
      isUnknown,
    );
    assert.equal(await value('absent'), 'mine');
  });

  it('set ifEquals that swapped the value does not resolve false', async () => {
    await cache.set('cas', Buffer.from('old'));
    await assert.rejects(
      replyLost(
        () => cache.set('cas', Buffer.from('new'), undefined, { ifEquals: Buffer.from('old') }),
        async () => (await value('cas')) === 'new',
      ),
      isUnknown,
    );
  });

  it('delete and deleteMany that removed their keys do not report nothing removed', async () => {
    await cache.set('d', Buffer.from('x'));
    await assert.rejects(
      replyLost(
        () => cache.delete('d'),
        async () => (await value('d')) === undefined,
      ),
      isUnknown,
    );
    await cache.setMany([
      { key: 'm1', value: Buffer.from('x') },
      { key: 'm2', value: Buffer.from('x') },
    ]);
    await assert.rejects(
      replyLost(
        () => cache.deleteMany(['m1', 'm2']),
        async () => (await value('m1')) === undefined && (await value('m2')) === undefined,
      ),
      isUnknown,
    );
  });

  it('a lease acquire resent after its SET took the lease holds it', async () => {
    // The SET NX of the acquire ran, its reply was lost, and the resend found the lease taken —
    // by its own token. It resolved undefined ("held by another"): the lease stayed held by nobody
    // for its ttl, and every instance missing the key waited out leaseWait.
    const lease = createRedisLease({ client: cache.client, ttl: 60_000, prefix: 'rr:lease:' });
    const release = await replyLost(
      () => lease.acquire('k'),
      async () => (await redisCommand(redis.port, ['EXISTS', 'rr:lease:k'])) === 1,
    );
    assert.equal(typeof release, 'function');
    await release?.();
    assert.equal(await redisCommand(redis.port, ['EXISTS', 'rr:lease:k']), 0);
    // Held by another: still undefined.
    await redisCommand(redis.port, ['SET', 'rr:lease:k', 'someone-else']);
    assert.equal(await lease.acquire('k'), undefined);
  });

  it('a resent plain set still resolves true', async () => {
    assert.equal(
      await replyLost(
        () => cache.set('plain', Buffer.from('v')),
        async () => (await value('plain')) === 'v',
      ),
      true,
    );
  });
});
