/**
 * An `onInvalidation` handler given to the Redis bus's `subscribe()` that throws: the bus called
 * the handlers straight from the client's 'message' event, so the error was an uncaught
 * exception (the process ended) and the handlers after it — another tiered cache sharing the bus —
 * never heard the invalidation. A handler that is not a function was taken and failed the same
 * way at the first message. Now each handler is called on its own (a throw is warned about once)
 * and subscribe() refuses handlers that are not functions with a ConfigError.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Invalidation, LogFields } from '../../../lib/core/contracts.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('redis invalidation bus: handlers that throw or are not functions', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });

  it('a throwing handler neither escapes nor keeps a tiered cache on the same bus uninformed', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const warnings: { message: string; fields?: LogFields }[] = [];
      const logger = {
        debug() {},
        info() {},
        error() {},
        warn: (message: string, fields?: LogFields) => {
          warnings.push({ message, fields });
        },
      };
      const bus = createRedisInvalidationBus({ redis: { host: redis.host, port: redis.port }, logger });
      closers.push(() => bus.close());
      await bus.subscribe(
        () => {
          throw new Error('handler bug');
        },
        () => {},
      );
      const l2 = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], keyPrefix: 'bht:' });
      closers.push(() => l2.close());
      const l1 = createMemoryCache({ maxCost: 1 << 16 });
      const tiered = createTieredCache({ l1, l2, bus, ttl: 60_000 });
      closers.push(() => tiered.close());
      await tiered.ready;
      await tiered.set('k', new Uint8Array([1]));
      assert.equal(l1.sync.has('k'), true);
      // Only the other instance's messages: the tiered cache's own invalidation of its set() above
      // is often received after this handler joined (the PUBLISH reply reached the publisher
      // before the message reached the subscriber), and counting it made `=== 2` pass or time out
      // by timing alone.
      const heard: Invalidation[] = [];
      await bus.subscribe(
        (m) => {
          if (m.origin === 'another-instance') heard.push(m);
        },
        () => {},
      );
      // Another instance's write, as its tiered cache publishes it.
      for (let i = 0; i < 2; i++) await bus.publish({ origin: 'another-instance', keys: ['k'] });
      await waitFor(() => heard.length >= 2, { timeoutMs: 5000, what: 'both invalidations heard' });
      assert.equal(heard.length, 2);
      assert.equal(l1.sync.has('k'), false, 'the tiered cache dropped its L1 copy');
      assert.deepEqual(uncaught, []);
      assert.equal(warnings.filter((w) => /onInvalidation handler threw/.test(w.message)).length, 1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('subscribe() refuses handlers that are not functions', async () => {
    const bus = createRedisInvalidationBus({ redis: { host: redis.host, port: redis.port } });
    closers.push(() => bus.close());
    await assert.rejects(
      bus.subscribe(5 as never, () => {}),
      (e) => e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === 'onInvalidation',
    );
    await assert.rejects(
      bus.subscribe(() => {}, undefined as never, 'x' as never),
      (e) => e instanceof ConfigError && e.issues.map((i) => i.path).join() === 'onReconnect,onClosed',
    );
    const unsubscribe = await bus.subscribe(
      () => {},
      () => {},
    );
    unsubscribe();
  });
});
