/**
 * One time budget per transaction call: connecting a dedicated connection, WATCH, reads, TIME and
 * EXEC together take at most the command timeout (plus the time `fn` itself runs). Before, each
 * step had its own timeout: through a link that delays every command 400 ms, a transaction that
 * had to connect first took 1.2 s (no WATCH) and 1.6 s (WATCH) at a 1 s command timeout.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, sleep, watchUnhandled } from './helpers.js';

const TIMEOUT = 1000;
const DELAY = 400;
/** Timer and scheduling slack on a loaded CI machine. */
const SLACK = 250;

describeWithServers('redis transaction: one time budget per call', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();

  /** A cache through the proxy whose own connection is up; its transactions must connect anew. */
  async function freshCache(): Promise<RedisCache> {
    proxy.delay = 0;
    const cache = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      commandTimeout: TIMEOUT,
      keyPrefix: 'txb:',
    });
    caches.push(cache);
    await cache.set('a', enc('1'));
    return cache;
  }

  before(async () => {
    redis = await startRedis({});
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    proxy.delay = 0;
    for (const c of caches) await c.close();
    await proxy?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  for (const watch of [[], ['a']]) {
    it(`a transaction that must connect first (watch: [${watch}]) settles within one command timeout, and nothing lands later`, async () => {
      const cache = await freshCache();
      proxy.delay = DELAY;
      const t0 = performance.now();
      await rejectsWith(
        cache.transaction(
          (tx) => {
            tx.set('a', enc('2'));
          },
          { watch },
        ),
        'timeout',
      );
      const took = performance.now() - t0;
      assert.ok(took < TIMEOUT + SLACK, `took ${Math.round(took)} ms, budget ${TIMEOUT} ms`);
      // Whatever was on its way arrives, and is refused by its server-side deadline.
      await sleep(3 * DELAY);
      proxy.delay = 0;
      assert.equal(dec(await cache.get('a')), '1', 'a transaction reported as timed out never lands later');
    });
  }

  it('the time fn itself runs is not taken from the budget', async () => {
    const cache = await freshCache();
    const result = await cache.transaction(
      async (tx) => {
        assert.equal(dec(await tx.read('a')), '1');
        await sleep(TIMEOUT + 200);
        tx.set('a', enc('3'));
      },
      { watch: ['a'] },
    );
    assert.deepEqual(result, { ok: true, results: [true] });
    assert.equal(dec(await cache.get('a')), '3');
  });

  it('a read made after fn has run longer than the command timeout still gets its budget', async () => {
    // fn's own time used to be credited only once fn returned: a tx.read made after fn waited on
    // something else for more than the command timeout found the budget spent and failed with
    // `timeout` at once (through a 5 ms link: 'the transaction's 1000 ms budget was spent').
    const cache = await freshCache();
    proxy.delay = 20;
    const result = await cache.transaction(
      async (tx) => {
        await sleep(TIMEOUT + 200);
        const first = dec(await tx.read('a'));
        await sleep(TIMEOUT / 2);
        assert.equal(dec(await tx.read('a')), first);
        tx.set('a', enc(`${Number(first) + 1}`));
      },
      { watch: ['a'] },
    );
    proxy.delay = 0;
    assert.deepEqual(result, { ok: true, results: [true] });
    assert.equal(dec(await cache.get('a')), '2');
  });
});
