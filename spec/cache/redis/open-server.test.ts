/**
 * A password given to a server that requires none (found from outside, /tmp probe): the server
 * is open to anyone who reaches it, and iovalkey said so only with `console.warn` ("[WARN] This
 * Redis server's `default` user does not require a password, but a password was supplied") on
 * every connection — the cache's, its health probe's, its transactions' and the bus's — past the
 * cache's logger. Now the cache says it once, through its logger (a process warning without one),
 * and prints nothing to the console; the cache works as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const PASSWORD = 'open-server-unneeded-password';

/** Runs `fn` with console.warn captured; returns what it printed. */
async function printedDuring(fn: () => Promise<void>): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  const consoleWarn = console.warn;
  console.warn = (...args: unknown[]) => {
    printed.push(args);
  };
  try {
    await fn();
  } finally {
    console.warn = consoleWarn;
  }
  return printed;
}

describe('a password given to a server that requires none', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    unhandled.dispose();
    await redis?.stop();
  });

  it('is logged once through the logger, never printed to the console, and the cache works', async () => {
    const warned: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(message: string) {
        warned.push(message);
      },
      error() {},
      child: () => logger,
    };
    const printed = await printedDuring(async () => {
      const cache = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        password: PASSWORD,
        logger,
      });
      const bus = createRedisInvalidationBus({ client: cache.client });
      try {
        await cache.set('k', enc('v'));
        assert.equal(dec(await cache.get('k')), 'v');
        assert.equal((await cache.health()).ok, true);
        const tx = await cache.transaction((t) => {
          t.set('t', enc('1'));
        });
        assert.equal(tx.ok, true);
        const unsubscribe = await bus.subscribe(
          () => {},
          () => {},
        );
        unsubscribe();
      } finally {
        await bus.close();
        await cache.close();
      }
    });
    assert.deepEqual(printed, [], 'printed to the console');
    const open = warned.filter((m) => /a password was given but the server requires none/.test(m));
    assert.equal(open.length, 1, JSON.stringify(warned));
    assert.ok(!warned.join('\n').includes(PASSWORD));
    unhandled.check();
  });

  it('without a logger: one process warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const printed = await printedDuring(async () => {
        const cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], password: PASSWORD });
        try {
          await cache.get('k');
          await cache.health();
        } finally {
          await cache.close();
        }
      });
      assert.deepEqual(printed, [], 'printed to the console');
      // Process warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
      const open = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_REDIS_OPEN_SERVER');
      assert.equal(open.length, 1, warnings.map((w) => w.message).join('\n'));
    } finally {
      process.off('warning', onWarning);
    }
    unhandled.check();
  });
});
