/**
 * The loader lease while its client is not connected. An acquire that failed may still land its
 * SET later, so the lease releases its token behind it — and when the client is not connected, once
 * it is ready again. Each such release used to wait in a `ready` listener of its own on the
 * client, kept until the client was ready again however long that took: with Redis away every
 * failed acquire added one (1,000 failed acquires: 999 listeners, and Node's
 * MaxListenersExceededWarning on the user's client), without bound for a lasting outage. They now
 * share one listener; a release still reaches Redis once the client is back.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, createRedisLease, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis loader lease while the client is not connected', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  let cache: RedisCache;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: redis.port } });
    cache = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'lo:',
      commandTimeout: 200,
    });
    await cache.get('warm-up');
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await cache?.close();
    await proxy?.close();
    await redis?.stop();
  });

  const backOnline = async () => {
    proxy.dropping = false;
    proxy.droppingReplies = false;
    proxy.cut();
    await waitFor(async () => cache.client.status === 'ready', {
      timeoutMs: 10_000,
      what: 'the client to reconnect',
    });
  };

  it('failed acquires during an outage add one ready listener, not one each', async () => {
    const lease = createRedisLease({ client: cache.client, ttl: 20_000 });
    const initial = cache.client.listenerCount('ready');
    // Redis unreachable: nothing reaches it, and the client cannot become ready.
    proxy.dropping = true;
    proxy.cut();
    await waitFor(() => cache.client.status !== 'ready', {
      timeoutMs: 5000,
      what: 'the client to lose Redis',
    });
    try {
      // The client's own (the cache's readiness gate) come and go with the outage: counted from here.
      const base = cache.client.listenerCount('ready');
      let failed = 0;
      for (let i = 0; i < 200; i++) await lease.acquire(`k${i}`).catch(() => failed++);
      assert.equal(failed, 200);
      // Let the releases behind the failed acquires settle (each is bounded by the command timeout).
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(
        // One of the lease's, one of iovalkey's own while a connection attempt is under way.
        cache.client.listenerCount('ready') - base <= 2,
        `ready listeners added: ${cache.client.listenerCount('ready') - base}`,
      );
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
        [],
      );
    } finally {
      await backOnline();
    }
    assert.equal(cache.client.listenerCount('ready'), initial);
  });

  it('a lease that landed while its acquire failed is released once the client is back', async () => {
    const lease = createRedisLease({ client: cache.client, ttl: 20_000 });
    const leaseKey = 'hyperion:lease:lo:y';
    // The SET reaches Redis, its reply is lost: acquire() times out with the lease taken.
    proxy.droppingReplies = true;
    const acquired = lease.acquire('y').then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    await waitFor(async () => (await redisCommand(redis.port, ['EXISTS', leaseKey])) === 1, {
      timeoutMs: 5000,
      what: 'the lease SET to land',
    });
    // Nothing more reaches Redis, and the connection drops: the release cannot be sent now.
    proxy.dropping = true;
    assert.match(await acquired, /timed out/);
    proxy.cut();
    await waitFor(() => cache.client.status !== 'ready', {
      timeoutMs: 5000,
      what: 'the client to lose Redis',
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await redisCommand(redis.port, ['EXISTS', leaseKey]), 1, 'still held while Redis is away');
    await backOnline();
    await waitFor(async () => (await redisCommand(redis.port, ['EXISTS', leaseKey])) === 0, {
      timeoutMs: 5000,
      what: 'the orphan lease to be released',
    });
  });
  // The client's offline queue is off: an acquire sent while it was still connecting (just created,
  // or reconnecting) failed at once with iovalkey's bare "Stream isn't writeable and
  // enableOfflineQueue options is false". It waits for the connection as the cache's commands do.
  it('an acquire while the client is still connecting waits for it and takes the lease', async () => {
    const fresh = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'cn:' });
    try {
      assert.notEqual(fresh.client.status, 'ready');
      const release = await createRedisLease({ client: fresh.client }).acquire('c');
      assert.equal(typeof release, 'function');
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:cn:c']), 1);
      await release!();
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:cn:c']), 0);
    } finally {
      await fresh.close();
    }
  });

  it('with Redis unreachable, acquire and release fail as CacheError unavailable; the release is sent once back', async () => {
    const lease = createRedisLease({ client: cache.client, ttl: 20_000 });
    const release = await lease.acquire('held');
    assert.equal(typeof release, 'function');
    proxy.dropping = true;
    proxy.cut();
    await waitFor(() => cache.client.status !== 'ready', {
      timeoutMs: 5000,
      what: 'the client to lose Redis',
    });
    try {
      const failures = await Promise.all([
        lease.acquire('other').then(
          () => undefined,
          (err: unknown) => err,
        ),
        release!().then(
          () => undefined,
          (err: unknown) => err,
        ),
      ]);
      for (const err of failures) {
        assert.ok(err instanceof CacheError, `a CacheError, got ${String(err)}`);
        assert.equal(err.code, 'unavailable');
      }
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:lo:held']), 1);
    } finally {
      await backOnline();
    }
    // The lease its holder released during the outage does not stay held by nobody for its ttl.
    await waitFor(async () => (await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:lo:held'])) === 0, {
      timeoutMs: 5000,
      what: 'the lease released during the outage to be released',
    });
  });
});
