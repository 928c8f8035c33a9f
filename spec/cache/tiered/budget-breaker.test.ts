/**
 * A write or delete given its caller's own budget (`{ timeout }` shorter than `l2Timeout`) that
 * runs out of it says nothing about L2's health. Found from outside (real, healthy Redis): five
 * `set(…, { timeout: 1 })` calls (a budget of 5 ms or less always times out on a Redis L2: its
 * deadline margin) opened the circuit breaker, and every other caller then had L2 skipped — a
 * plain `set` rejected `unavailable`, reads missed — for the whole cool-down; once it ended, the
 * next tiny-budget call took the half-open probe, timed out and opened it again. Now such a
 * timeout counts in `l2Errors` and `budgetTimeouts` but not toward the breaker, and a probe that
 * ends so hands the probe to the next call. A stalled Redis (SIGSTOP) still opens the breaker
 * through the calls bounded by `l2Timeout`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { fakeCache } from './fakes.js';

const FAILURES = 3;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const code = (e: unknown) => (e as { code?: string } | null)?.code ?? String(e);

describeWithServers('tiered cache: timeouts of the caller’s own budget and the breaker', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  const resume = () => {
    const pid = redis?.server.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    }
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    resume();
    for (const c of closers) await c().catch(() => {});
    await redis?.stop();
  });

  const instance = (ns: string, l2Timeout: number, cooldown: number) => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${ns}:` });
    const cache: TieredCache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      l2Timeout,
      breaker: { failures: FAILURES, cooldown },
    });
    closers.push(() => cache.close());
    return { cache, l2 };
  };

  /** Every tiny-budget write and delete, `rounds` times each; resolves the codes they rejected with. */
  const tinyCalls = async (cache: TieredCache, rounds: number, budget: number) => {
    const outcomes: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const calls = [
        () => cache.set(`k${i}`, Buffer.from('v'), 60_000, { timeout: budget }),
        () => cache.delete(`k${i}`, { timeout: budget }),
        () => cache.setMany([{ key: `k${i}`, value: Buffer.from('v') }], { timeout: budget }),
        () => cache.deleteMany([`k${i}`], { timeout: budget }),
      ];
      for (const call of calls) outcomes.push(await call().then(() => 'ok', code));
    }
    return outcomes;
  };

  it('tiny-budget writes and deletes on a healthy Redis leave the breaker closed', async () => {
    const { cache, l2 } = instance('bb1', 1000, 60_000);
    await cache.set('other', Buffer.from('kept'), 60_000);
    const outcomes = await tinyCalls(cache, 5, 1);
    const timedOut = outcomes.filter((o) => o === 'timeout').length;
    assert.ok(timedOut >= FAILURES, `enough of them timed out to matter: ${outcomes.join(',')}`);
    // The L2 calls behind them settle after their callers were answered: wait for every outcome.
    await waitFor(() => l2.stats().inflight === 0, { timeoutMs: 10_000, intervalMs: 10, what: 'L2 calls' });
    assert.equal(cache.breakerState(), 'closed');
    assert.equal(cache.stats().breakerOpens, 0);
    assert.equal(cache.stats().l2Skipped, 0);
    assert.equal(cache.stats().budgetTimeouts, cache.stats().l2Errors);
    assert.ok(cache.stats().budgetTimeouts >= timedOut, JSON.stringify(cache.stats()));
    // Every other caller still has L2: a plain write lands, a read of another instance's view is L2's.
    assert.equal(await cache.set('plain', Buffer.from('p'), 60_000), true);
    assert.notEqual(await redisCommand(redis.port, ['GET', 'bb1:plain']), null);
    const { cache: reader } = instance('bb1', 1000, 60_000);
    const read = await reader.getWithMeta('other');
    assert.equal(read?.source, 'l2');
    assert.equal(text(read?.value), 'kept');
  });

  it('a stalled Redis still opens it, and a tiny-budget probe does not keep it open', async () => {
    // Room for a loaded machine: a plain write's timeout reported more than l2Timeout / 2 after
    // its deadline is taken for an event-loop stall and not counted (l2.ts `stalled`), and the
    // breaker must still be open when checked after it tripped. At 200 ms and 300 ms, one stall of
    // ~100 ms at a deadline left the breaker closed (seen with 350 ms stalls injected at random).
    const cooldown = 2000;
    const { cache, l2 } = instance('bb2', 1000, cooldown);
    await cache.set('k', Buffer.from('v'), 60_000);
    const pid = redis.server.child.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    try {
      // Tiny-budget calls during the stall count for nothing; the plain ones (bounded by l2Timeout) do.
      await tinyCalls(cache, 2, 2);
      assert.equal(cache.breakerState(), 'closed', 'tiny-budget timeouts alone do not open it');
      for (let i = 0; i < FAILURES; i++)
        assert.equal(await cache.set(`s${i}`, Buffer.from('v'), 60_000).then(() => 'ok', code), 'timeout');
      assert.equal(cache.breakerState(), 'open');
      assert.equal(cache.stats().breakerOpens, 1);
      assert.equal(
        await cache.set('skipped', Buffer.from('v'), 60_000).then(() => 'ok', code),
        'unavailable',
      );
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(() => l2.stats().inflight === 0, { timeoutMs: 10_000, intervalMs: 10, what: 'L2 calls' });
    await waitFor(() => cache.breakerState() === 'half-open', {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the cool-down',
    });
    // The next call is the probe: a tiny budget times out, which is no verdict on Redis.
    const before = cache.stats().budgetTimeouts;
    assert.equal(
      await cache.set('probe', Buffer.from('v'), 60_000, { timeout: 1 }).then(() => 'ok', code),
      'timeout',
    );
    await waitFor(() => l2.stats().inflight === 0, { timeoutMs: 10_000, intervalMs: 10, what: 'the probe' });
    assert.equal(cache.stats().budgetTimeouts, before + 1);
    assert.equal(cache.stats().breakerOpens, 1, 'the tiny-budget probe did not open it again');
    assert.equal(cache.breakerState(), 'half-open');
    // A plain call probes next, and Redis answers it.
    assert.equal(await cache.set('after', Buffer.from('v'), 60_000), true);
    assert.equal(cache.breakerState(), 'closed');
    assert.equal(text(await cache.get('k')), 'v');
  });
});

describe('tiered cache: an L2 that ignores the caller’s budget', () => {
  it('its calls left unanswered until l2Timeout count toward the breaker as usual', async () => {
    // README (`breaker`): the rule is the budget given, but a call L2 leaves unanswered until the
    // cache's own l2Timeout (an L2 that ignores the budget) counts. Removing that exception (the
    // guard's `!own`) survived every other test: such an L2 hung forever and the breaker never opened.
    // l2Timeout leaves room for a loaded machine: a timeout reported more than l2Timeout / 2 after
    // its deadline is taken for an event-loop stall and not counted (README `breaker`), so at
    // 100 ms a timer 50 ms late (seen on a CI machine running five test runs beside it, and with
    // 30–90 ms stalls injected: 8 of 10 runs) left the breaker closed for good.
    const l2 = fakeCache('l2');
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      l2Timeout: 2000,
      breaker: { failures: FAILURES, cooldown: 60_000 },
    });
    try {
      l2.mode = 'hang';
      for (let i = 0; i < FAILURES; i++)
        assert.equal(
          await cache.set(`k${i}`, Buffer.from('v'), 60_000, { timeout: 20 }).then(() => 'ok', code),
          'timeout',
        );
      await waitFor(() => cache.breakerState() === 'open', {
        timeoutMs: 15_000,
        what: 'the breaker opened by the calls L2 left unanswered until l2Timeout',
      });
      assert.equal(cache.stats().breakerOpens, 1);
      assert.equal(
        await cache.set('skipped', Buffer.from('v'), 60_000).then(() => 'ok', code),
        'unavailable',
      );
    } finally {
      l2.mode = 'ok';
      await cache.close();
    }
  });
});
