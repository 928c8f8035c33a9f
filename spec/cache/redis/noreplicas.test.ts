/**
 * A master configured with `min-replicas-to-write` refuses writes with `NOREPLICAS` while too few
 * replicas are connected: a passing outage (the write was not applied), like `MASTERDOWN`. It
 * used to be `backend`, the code of a refusal that retrying does not fix (an ACL rule).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('a master refusing writes for lack of replicas (NOREPLICAS)', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis({ extraConfig: ['min-replicas-to-write 1', 'min-replicas-max-lag 10'] });
  });
  after(() => redis?.stop());

  it('writes reject unavailable naming the reply, nothing is applied, reads still work', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'nr:' });
    try {
      const refused = (e: unknown) =>
        e instanceof CacheError && e.code === 'unavailable' && /NOREPLICAS/.test(e.message);
      await assert.rejects(cache.set('k', Buffer.from('v')), refused);
      await assert.rejects(cache.setMany([{ key: 'm', value: Buffer.from('v') }]), refused);
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'nr:k']), 0);
      assert.equal(await redisCommand(redis.port, ['EXISTS', 'nr:m']), 0);
      assert.equal(await cache.get('k'), undefined);
    } finally {
      await cache.close();
    }
  });
});
