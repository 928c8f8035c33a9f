/**
 * `sentinel.password` given to sentinels that require none (found from outside, /tmp probe): the
 * sentinels are open to anyone who reaches them (who may reconfigure them or fail the master
 * over), and iovalkey said so only with `console.warn` ("[WARN] This Redis server's `default` user
 * does not require a password, but a password was supplied") on every connection to a sentinel —
 * each master lookup, each failover-detector subscription, each health() probe, again after a
 * failover: 9 prints for a set, a get, a health() and a transaction. Now the cache says it once,
 * through its logger (a process warning `HYPERION_REDIS_OPEN_SENTINEL` without one), naming the
 * sentinel, and prints nothing; the cache works as before, also across a failover.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisSentinelSet,
  redisCommand,
  sentinelMaster,
  skipRedis,
  startRedisSentinel,
} from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const SENTINEL_PASSWORD = 'open-sentinel-unneeded-password';

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

describeWithServers('a sentinel password given to sentinels that require none', skipRedis(), () => {
  let set: RedisSentinelSet;
  const unhandled = watchUnhandled();
  const options = () => ({
    mode: 'sentinel' as const,
    sentinel: {
      masterName: set.masterName,
      sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      password: SENTINEL_PASSWORD,
    },
    commandTimeout: 1000,
  });
  before(async () => {
    set = await startRedisSentinel();
  });
  after(async () => {
    unhandled.dispose();
    await set?.stop();
  });

  it('is logged once through the logger, never printed, also across a failover', async () => {
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
      const cache = createRedisCache({ ...options(), logger });
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
        // A failover: new master lookups and failover-detector connections to every sentinel.
        const before = await sentinelMaster(set.sentinels[0]!.port, set.masterName);
        assert.equal(
          await redisCommand(set.sentinels[0]!.port, ['SENTINEL', 'FAILOVER', set.masterName]),
          'OK',
        );
        await waitFor(
          async () => {
            const now = await sentinelMaster(set.sentinels[0]!.port, set.masterName);
            if (now?.port === before?.port) return false;
            try {
              await cache.set('after', enc('2'));
              return dec(await cache.get('after')) === '2';
            } catch {
              return false;
            }
          },
          { timeoutMs: 20_000, intervalMs: 100, what: 'writes on the promoted master' },
        );
        assert.equal((await cache.health()).ok, true);
      } finally {
        await bus.close();
        await cache.close();
      }
    });
    assert.deepEqual(printed, [], 'printed to the console');
    const open = warned.filter((m) =>
      /a sentinel password was given but the sentinel \S+ requires none/.test(m),
    );
    assert.equal(open.length, 1, JSON.stringify(warned));
    assert.ok(
      set.sentinels.some((s) => open[0]!.includes(`${s.host}:${s.port}`)),
      `names a sentinel: ${open[0]}`,
    );
    assert.ok(!warned.join('\n').includes(SENTINEL_PASSWORD));
    // Only the sentinels were given a password: nothing said about the data nodes.
    assert.ok(!warned.some((m) => /the server requires none/.test(m)), JSON.stringify(warned));
    unhandled.check();
  });

  it('without a logger: one process warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const printed = await printedDuring(async () => {
        const cache = createRedisCache(options());
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
      const open = warnings.filter((w) => (w as { code?: string }).code === 'HYPERION_REDIS_OPEN_SENTINEL');
      assert.equal(open.length, 1, warnings.map((w) => w.message).join('\n'));
    } finally {
      process.off('warning', onWarning);
    }
    unhandled.check();
  });
});
