/**
 * A `logger` that throws (a closed destination, a full pipe) given to the caches and metrics.
 * They log from connection events, promise callbacks and scrapes, where a throw was:
 * - createRedisCache / createRedisInvalidationBus: an uncaught exception at the first connection
 *   error (the process ends when nothing handles it);
 * - createTieredCache: the "L2 circuit breaker opened" record threw out of the L2 failure path,
 *   so the read meant to fail open rejected with the logger's error; the "closed" record threw
 *   inside the L2 callback, so the read that closed the breaker never answered;
 * - createMetrics: a collect callback's warning threw, and the whole scrape failed.
 * Found from outside (/tmp/logging/throwing.mts). The records are now dropped instead.
 *
 * Fails on the old code: the uncaught exceptions are seen, the tiered read rejects with the
 * logger's error, render rejects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedisCache, createRedisInvalidationBus } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { ConfigError } from '../../lib/core/index.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { fakeCache, fakeClock } from './tiered/fakes.js';

function throwingLogger() {
  const seen: string[] = [];
  const at = (message: string) => {
    seen.push(message);
    throw new Error('log destination closed');
  };
  const logger = { debug: at, info: at, warn: at, error: at, child: () => logger };
  return { logger, seen };
}

/** Runs `body` with the uncaught exceptions it causes collected (the listener removed after). */
async function uncaughtDuring(body: () => Promise<void>): Promise<unknown[]> {
  const errors: unknown[] = [];
  const listener = (err: unknown) => errors.push(err);
  process.on('uncaughtException', listener);
  try {
    await body();
  } finally {
    process.off('uncaughtException', listener);
  }
  return errors;
}

const until = async (done: () => boolean) => {
  for (let i = 0; i < 150 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('a logger that throws', () => {
  it('createRedisCache: the connection error is not an uncaught exception', async () => {
    const { logger, seen } = throwingLogger();
    const errors = await uncaughtDuring(async () => {
      // Nothing listens on port 1.
      const cache = createRedisCache({ addresses: ['127.0.0.1:1'], commandTimeout: 100, logger });
      try {
        await assert.rejects(cache.get('k'));
        await until(() => seen.includes('redis connection error'));
      } finally {
        await cache.close();
      }
    });
    assert.ok(seen.includes('redis connection error'), JSON.stringify(seen));
    assert.deepEqual(errors, []);
  });

  it('createRedisInvalidationBus: the connection error is not an uncaught exception', async () => {
    const { logger, seen } = throwingLogger();
    const errors = await uncaughtDuring(async () => {
      const bus = createRedisInvalidationBus({
        redis: { host: '127.0.0.1', port: 1, retryStrategy: () => null },
        logger,
      });
      try {
        await until(() => seen.includes('invalidation bus: connection error'));
      } finally {
        await bus.close();
      }
    });
    assert.ok(seen.includes('invalidation bus: connection error'), JSON.stringify(seen));
    assert.deepEqual(errors, []);
  });

  it('createTieredCache: the read that closes the breaker still answers', async () => {
    const { logger, seen } = throwingLogger();
    const clock = fakeClock();
    const l2 = fakeCache('l2', clock.now);
    const cache = createTieredCache({
      l1: fakeCache('l1', clock.now),
      l2,
      breaker: { failures: 1, cooldown: 50 },
      now: clock.now,
      logger,
    });
    try {
      l2.mode = 'error';
      assert.equal(await cache.get('a'), undefined);
      assert.equal(cache.breakerState(), 'open');
      l2.mode = 'ok';
      clock.advance(100);
      // The probe: L2 answers, the breaker closes and says so (the logger throws).
      const answer = await Promise.race([
        cache.get('b').then(() => 'answered'),
        new Promise((r) => setTimeout(() => r('never answered'), 2000).unref()),
      ]);
      assert.equal(answer, 'answered');
      assert.equal(cache.breakerState(), 'closed');
      assert.ok(seen.includes('tiered cache: L2 circuit breaker closed'), JSON.stringify(seen));
    } finally {
      await cache.close();
    }
  });

  it('createTieredCache: a logger without info and warn is a ConfigError, not a silent or late failure', () => {
    for (const logger of [{}, { warn() {} }, 'pino']) {
      assert.throws(
        () =>
          createTieredCache({
            l1: fakeCache('l1'),
            l2: fakeCache('l2'),
            logger: logger as never,
          }),
        (err: unknown) => err instanceof ConfigError && err.issues.some((issue) => issue.path === 'logger'),
      );
    }
  });

  it('createMetrics: a failing collect callback does not fail the scrape', async () => {
    const { logger, seen } = throwingLogger();
    const metrics = createMetrics({ logger });
    try {
      metrics.onCollect(() => {
        throw new Error('queue depth unreadable');
      });
      const { body } = await metrics.render();
      assert.match(body, /# TYPE /);
      assert.ok(seen.includes('a metrics collect callback failed'), JSON.stringify(seen));
    } finally {
      await metrics.close?.();
    }
  });
});
