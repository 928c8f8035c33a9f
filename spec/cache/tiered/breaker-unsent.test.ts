/**
 * The breaker hears only what L2 answered. Found from outside (Redis behind a proxy that drops
 * every command): with the breaker open, the half-open probe was a `set` of a 512 MiB value, which
 * the Redis cache refuses before sending (`too_large`: with its 26-byte envelope it is over Redis's
 * bulk limit). That refusal closed the breaker and logged "L2 circuit breaker closed" while Redis
 * was still down, so the next calls waited out `l2Timeout` again. Likewise, when closed, such a
 * refusal reset the count of failures in a row. A caller error made from a Redis reply (WRONGTYPE,
 * breaker-log.test.ts) still closes it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { manualClock } from '../../harness/clock.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

/** A value Redis's limit refuses once the tiered cache wraps it (512 MiB + 26 bytes). */
const HUGE = 512 * 1024 * 1024;

describe('tiered cache: a refusal raised before L2 is reached', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    await proxy?.close();
    await redis?.stop();
  });

  function setup(prefix: string, failures: number) {
    const records: string[] = [];
    const log = (msg: string): void => {
      records.push(msg);
    };
    const clock = manualClock();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: prefix,
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: 150,
      breaker: { failures, cooldown: 1000 },
      now: clock.now,
      logger: { debug: log, info: log, warn: log, error: log },
    });
    return { records, clock, cache };
  }

  it('does not close a half-open breaker; the next call is the probe', async () => {
    const { records, clock, cache } = setup('bu1:', 1);
    try {
      await cache.get('warm');
      proxy.dropping = true;
      await cache.get('down');
      assert.equal(cache.breakerState(), 'open');
      clock.advance(1000);
      await assert.rejects(cache.set('huge', Buffer.allocUnsafe(HUGE)), { code: 'too_large' });
      assert.notEqual(cache.breakerState(), 'closed');
      assert.ok(!records.includes('tiered cache: L2 circuit breaker closed'), JSON.stringify(records));
      // The next call probes (no new cool-down) and, Redis still down, re-opens it.
      await cache.get('down2');
      assert.equal(cache.breakerState(), 'open');
      assert.equal(cache.stats().l2Skipped, 0);
      proxy.dropping = false;
      clock.advance(1000);
      for (let i = 0; i < 100 && cache.breakerState() !== 'closed'; i++) {
        await cache.get(`up${i}`);
        if (cache.breakerState() !== 'closed') {
          clock.advance(1000);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.equal(cache.breakerState(), 'closed');
      assert.deepEqual(
        records.filter((m) => m.includes('circuit breaker')),
        ['tiered cache: L2 circuit breaker opened', 'tiered cache: L2 circuit breaker closed'],
      );
    } finally {
      proxy.dropping = false;
      await cache.close();
    }
  });

  it('does not reset the failures in a row of a closed breaker', async () => {
    const { cache } = setup('bu2:', 2);
    try {
      await cache.get('warm');
      proxy.dropping = true;
      await cache.get('down1');
      assert.equal(cache.breakerState(), 'closed');
      await assert.rejects(cache.set('huge', Buffer.allocUnsafe(HUGE)), { code: 'too_large' });
      await cache.get('down2');
      assert.equal(cache.breakerState(), 'open', 'two timeouts in a row, the refusal between them no answer');
    } finally {
      proxy.dropping = false;
      await cache.close();
    }
  });
});
