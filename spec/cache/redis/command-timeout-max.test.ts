/**
 * The longest command timeout accepted (2^31 − 1 ms): the silent-connection drop is armed at three
 * command timeouts, and iovalkey arms it with `setTimeout` as it is. Above 2^31 − 1 ms Node fires
 * a timer after 1 ms (with a `TimeoutOverflowWarning`), so from a command timeout of ~8.3 days a
 * reply that took over 1 ms dropped the connection ("Socket timeout … 6442450941ms") and every
 * command printed the warning. Now the drop waits at most 2^31 − 1 ms. Asserts events, no timing.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { enc } from './helpers.js';

describeWithServers('redis cache: the longest command timeout', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis({ extraConfig: ['enable-debug-command yes'] });
  });
  after(() => redis?.stop());

  it('a reply delayed by a busy server arrives on the same connection, without a timer warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const errors: unknown[] = [];
    const record = (...args: unknown[]) => void errors.push(args);
    const logger = { debug() {}, info() {}, warn: record, error: record };
    const cache = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      commandTimeout: 2 ** 31 - 1,
      logger,
    });
    let closes = 0;
    cache.client.on('close', () => closes++);
    try {
      assert.equal(await cache.set('k', enc('v')), true);
      for (let round = 0; round < 3; round++) {
        // Another client holds the server 200 ms; the get written meanwhile waits for its reply.
        const busy = redisCommand(redis.port, ['DEBUG', 'SLEEP', '0.2']);
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual(await cache.get('k'), enc('v'));
        await busy;
      }
      assert.equal(closes, 0, 'the connection was never dropped');
      assert.deepEqual(errors, []);
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('TimeoutOverflowWarning')),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      await cache.close();
    }
  });
});
