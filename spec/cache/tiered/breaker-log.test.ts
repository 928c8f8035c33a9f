/**
 * What the L2 circuit breaker logs over an outage. Found from outside (/tmp/D14/down.mts, Redis
 * killed for 15 s under a request every 50 ms at `breaker: { cooldown: 500 }`): every failed
 * half-open probe re-opened the breaker and wrote "L2 circuit breaker opened" again — 13 warnings
 * in 15 s, one per cool-down for as long as Redis stayed down. Now the opening from closed is the
 * one "opened" record; the failed probes are counted in the "closed" record (`failedProbes`).
 * The "opened" record carries the failure that opened it (`error`, `code`): it said only that it
 * opened, so with an L2 that logs nothing of its own the log never said why.
 * A probe that Redis answers with a caller error (a `get` of a key another program made a hash:
 * WRONGTYPE) closes the breaker as any answer does, and now logs "closed" too: it closed it
 * without a record, so the log read "opened" twice for two outages, never "closed" between.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { manualClock } from '../../harness/clock.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describe('tiered cache: the breaker over an outage', { skip: skipRedis() }, () => {
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

  it('one "opened" record however many probes fail; "closed" counts them', async () => {
    const records: { level: string; msg: string; fields: Record<string, unknown> | undefined }[] = [];
    const log =
      (level: string) =>
      (msg: string, fields?: Record<string, unknown>): void => {
        records.push({ level, msg, fields });
      };
    const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const clock = manualClock();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'brk:',
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: 150,
      breaker: { failures: 2, cooldown: 1000 },
      now: clock.now,
      logger,
    });
    try {
      await cache.get('warm');
      proxy.dropping = true;
      // 2 failures open it; then each read after a cool-down is a probe, which fails.
      for (let i = 0; i < 8; i++) {
        await cache.get(`down${i}`);
        clock.advance(1000);
      }
      assert.ok(
        cache.stats().breakerOpens >= 4,
        `breaker re-opened by failed probes (${cache.stats().breakerOpens})`,
      );
      proxy.dropping = false;
      const closed = () => records.find((r) => r.msg === 'tiered cache: L2 circuit breaker closed');
      for (let i = 0; i < 100 && !closed(); i++) {
        await cache.get(`up${i}`);
        clock.advance(1000);
        if (!closed()) await new Promise((r) => setTimeout(r, 20));
      }
      const opened = records.filter((r) => r.msg === 'tiered cache: L2 circuit breaker opened');
      assert.equal(opened.length, 1, JSON.stringify(records));
      assert.equal(opened[0]?.level, 'warn');
      // With the failure that opened it (the record used to say only that it opened).
      assert.equal(opened[0]?.fields?.code, 'timeout', JSON.stringify(opened[0]));
      assert.match(String(opened[0]?.fields?.error), /did not answer within 150 ms/);
      const close = closed();
      assert.ok(close, 'the breaker closed once Redis answered');
      assert.equal(close.level, 'info');
      assert.equal(close.fields?.failedProbes, cache.stats().breakerOpens - 1);
    } finally {
      await cache.close();
    }
  });
  it('a probe answered with WRONGTYPE closes the breaker and logs "closed"', async () => {
    const records: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
    const log = (msg: string, fields?: Record<string, unknown>): void => {
      records.push({ msg, fields });
    };
    const logger = { debug: log, info: log, warn: log, error: log };
    const clock = manualClock();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'brk2:',
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: 150,
      breaker: { failures: 1, cooldown: 1000 },
      now: clock.now,
      logger,
    });
    try {
      await redisCommand(redis.port, ['HSET', 'brk2:h', 'f', 'v']);
      assert.equal(await cache.get('h'), undefined); // WRONGTYPE reads as a miss, breaker closed
      assert.equal(cache.breakerState(), 'closed');
      proxy.dropping = true;
      await cache.get('down');
      assert.equal(cache.breakerState(), 'open');
      proxy.dropping = false;
      // Every probe reads the hash key: once Redis answers it, the answer is WRONGTYPE.
      for (let i = 0; i < 100 && cache.breakerState() !== 'closed'; i++) {
        clock.advance(1000);
        assert.equal(await cache.get('h'), undefined);
        if (cache.breakerState() !== 'closed') await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(cache.breakerState(), 'closed');
      const msgs = records.map((r) => r.msg);
      assert.deepEqual(
        msgs.filter((m) => m.includes('circuit breaker')),
        ['tiered cache: L2 circuit breaker opened', 'tiered cache: L2 circuit breaker closed'],
        JSON.stringify(records),
      );
    } finally {
      await cache.close();
    }
  });
});
