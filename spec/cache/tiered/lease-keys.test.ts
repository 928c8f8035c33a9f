/**
 * Cache keys that would be the loader lease's own keys in L2, on real Redis. The Redis lease keeps
 * its locks at `hyperion:lease:` + the L2's key prefix + the key; with no key prefix (the default)
 * that is inside the L2's key space, so the cache key `hyperion:lease:user:1` was the lease of
 * `user:1`: while another instance loaded `user:1`, `getOrSet('hyperion:lease:user:1')` answered the
 * lease's token (a UUID) as a hit, and a `set` of that key replaced the lease. Such keys are now
 * `invalid_key` on every call of the tiered cache; the lease is left alone.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const isInvalidKey = (err: unknown) => err instanceof CacheError && err.code === 'invalid_key';

describeWithServers('tiered lease: cache keys in the lease key space', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await redis?.stop();
  });

  const instance = (redisOptions: { keyPrefix?: string } = {}, leasePrefix?: string): TieredCache => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], ...redisOptions });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      lease: createRedisLease({
        client: l2.client,
        ...(leasePrefix === undefined ? {} : { prefix: leasePrefix }),
      }),
    });
    closers.push(() => cache.close());
    return cache;
  };

  it('no key prefix: a key that is the lease of another key is refused, and the lease kept', async () => {
    await redisCommand(redis.port, ['FLUSHALL']);
    const a = instance();
    const b = instance();
    let finish!: () => void;
    const held = new Promise<void>((r) => {
      finish = r;
    });
    const loading = a.getOrSet('user:1', async () => {
      await held;
      return Buffer.from('ada');
    });
    await waitFor(
      async () => Number(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:user:1'])) === 1,
      {
        timeoutMs: 3000,
        what: 'a to hold the lease of user:1',
      },
    );
    const token = await redisCommand(redis.port, ['GET', 'hyperion:lease:user:1']);
    const leaseKey = 'hyperion:lease:user:1';
    // Before: the token of a's lease, served as the value of this key.
    await assert.rejects(
      b.getOrSet(leaseKey, async () => Buffer.from('mine')),
      isInvalidKey,
    );
    await assert.rejects(b.get(leaseKey), isInvalidKey);
    await assert.rejects(b.getWithMeta(leaseKey), isInvalidKey);
    await assert.rejects(
      b.getOrSetWithMeta(leaseKey, async () => Buffer.from('mine')),
      isInvalidKey,
    );
    await assert.rejects(b.has(leaseKey), isInvalidKey);
    await assert.rejects(b.getMany(['user:2', leaseKey]), isInvalidKey);
    await assert.rejects(
      b.getOrSetMany(['user:2', leaseKey], async (keys) => keys.map(() => Buffer.from('mine'))),
      isInvalidKey,
    );
    // Before: this write replaced a's lease with an envelope.
    await assert.rejects(b.set(leaseKey, Buffer.from('mine')), isInvalidKey);
    await assert.rejects(b.setMany([{ key: leaseKey, value: Buffer.from('mine') }]), isInvalidKey);
    await assert.rejects(b.delete(leaseKey), isInvalidKey);
    await assert.rejects(b.deleteMany([leaseKey]), isInvalidKey);
    assert.equal(await redisCommand(redis.port, ['GET', leaseKey]), token, "a's lease is untouched");
    finish();
    assert.equal(text(await loading), 'ada');
    assert.equal(text(await b.get('user:1')), 'ada');
    // Other keys that merely start like it are ordinary keys.
    await b.set('hyperion:leases', Buffer.from('fine'));
    assert.equal(text(await a.get('hyperion:leases')), 'fine');
  });

  it('with a key prefix the default lease keys are outside the cache keys: no key is refused', async () => {
    const a = instance({ keyPrefix: 'app:' });
    await a.set('hyperion:lease:x', Buffer.from('v'));
    assert.equal(text(await a.getOrSet('hyperion:lease:x', async () => Buffer.from('loaded'))), 'v');
    assert.equal(text(await a.getOrSet('x', async () => Buffer.from('x loaded'))), 'x loaded');
  });

  it('a lease prefix inside the key prefix reserves the rest of it', async () => {
    const a = instance({ keyPrefix: 'ns:' }, 'ns:lease:');
    await assert.rejects(a.set('lease:x', Buffer.from('v')), isInvalidKey);
    await a.set('leasex', Buffer.from('v'));
    assert.equal(text(await a.get('leasex')), 'v');
  });

  it("a lease prefix that is the cache's key prefix is a ConfigError", () => {
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'same:',
    });
    closers.push(() => l2.close());
    assert.throws(
      () => createRedisLease({ client: l2.client, prefix: 'same:' }),
      (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path === 'prefix'),
    );
  });
});
