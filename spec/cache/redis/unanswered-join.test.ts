/**
 * getOrSet after a read Redis did not answer (network fault): the cache cannot see a write another
 * client made meanwhile, so such a caller must never be handed a load of the key that began before
 * it. Found by the faulted model test in CI (seed 1023330078 path 22): a getOrSet whose GET timed
 * out joined the load of another caller that had begun before a direct client's acknowledged set,
 * and returned that older value ("superseded by write v8"). Loads for such callers still run one
 * at a time per key: those who arrive while one runs share the next.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { deferred } from '../../harness/clock.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

describeWithServers('redis getOrSet after an unanswered read', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  let n = 0;
  const pair = () => {
    const keyPrefix = `unanswered-${++n}:`;
    const faulted = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      commandTimeout: 150,
      keyPrefix,
    });
    const direct = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], keyPrefix });
    caches.push(faulted, direct);
    return { faulted, direct };
  };
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    proxy.dropping = false;
    await Promise.allSettled(caches.map((c) => c.close()));
    await proxy?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('does not join a load begun before another client acknowledged a write', async () => {
    const { faulted, direct } = pair();
    await faulted.get('warm-up'); // connected through the proxy
    const started = deferred();
    const release = deferred();
    const first = faulted.getOrSet('k', async () => {
      started.resolve();
      await release.promise;
      return enc('old');
    });
    await started.promise; // its GET was answered (a miss) and its load runs
    assert.equal(await direct.set('k', enc('new')), true);
    proxy.dropping = true; // from now on the faulted client's commands get no answer
    try {
      const errors = faulted.stats().errors;
      let loads = 0;
      const second = faulted.getOrSet('k', async () => {
        loads++;
        return enc('fresh');
      });
      await waitFor(() => faulted.stats().errors > errors, {
        timeoutMs: 5000,
        what: 'the second GET to time out',
      });
      release.resolve();
      // 'old' was loaded from before the acknowledged 'new': this caller began after both.
      assert.equal(dec(await second), 'fresh');
      assert.equal(loads, 1);
      assert.equal(dec(await first), 'old', "the first load's caller still gets its value");
    } finally {
      release.resolve();
      proxy.dropping = false;
    }
    await waitFor(async () => dec(await faulted.get('k').catch(() => undefined)) === 'new', {
      timeoutMs: 5000,
      what: 'reconnect',
    });
    assert.equal(dec(await direct.get('k')), 'new', 'neither load overwrote the write');
  });

  it('callers that arrive while such a load runs share the next one, which begins after them', async () => {
    const { faulted } = pair();
    await faulted.get('warm-up');
    proxy.dropping = true;
    try {
      const gates = [deferred(), deferred(), deferred()];
      let loads = 0;
      const loader = async () => {
        const i = loads++;
        await gates[i]!.promise;
        return enc(`L${i}`);
      };
      const c1 = faulted.getOrSet('j', loader);
      await waitFor(() => loads === 1, { timeoutMs: 5000, what: 'the first load to begin' });
      // Both begin after L0 began: neither may get it. They share one load, begun after both.
      const c2 = faulted.getOrSet('j', loader);
      const c3 = faulted.getOrSet('j', loader);
      const errors = faulted.stats().errors;
      await waitFor(() => faulted.stats().errors >= errors + 2 || loads > 1, {
        timeoutMs: 5000,
        what: 'both GETs to time out',
      });
      assert.equal(loads, 1, 'no second load while the first runs');
      gates[0]!.resolve();
      assert.equal(dec(await c1), 'L0');
      await waitFor(() => loads === 2, { timeoutMs: 5000, what: 'the next load to begin' });
      gates[1]!.resolve();
      assert.deepEqual([dec(await c2), dec(await c3)], ['L1', 'L1']);
      assert.equal(loads, 2);
      // Nothing left queued: a later caller loads at once.
      gates[2]!.resolve();
      assert.equal(dec(await faulted.getOrSet('j', loader)), 'L2');
    } finally {
      proxy.dropping = false;
    }
  });

  it('a failed load is not handed to the callers queued behind it', async () => {
    const { faulted } = pair();
    await faulted.get('warm-up');
    proxy.dropping = true;
    try {
      const gate = deferred();
      let loads = 0;
      const c1 = faulted.getOrSet('f', async () => {
        loads++;
        await gate.promise;
        throw new Error('db down');
      });
      await waitFor(() => loads === 1, { timeoutMs: 5000, what: 'the first load to begin' });
      const errors = faulted.stats().errors;
      const c2 = faulted.getOrSet('f', async () => {
        loads++;
        return enc('ok');
      });
      await waitFor(() => faulted.stats().errors > errors, {
        timeoutMs: 5000,
        what: 'the second GET to time out',
      });
      gate.resolve();
      await assert.rejects(c1, /db down/);
      assert.equal(dec(await c2), 'ok');
      assert.equal(loads, 2);
    } finally {
      proxy.dropping = false;
    }
  });
});
