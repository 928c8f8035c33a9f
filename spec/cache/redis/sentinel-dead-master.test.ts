/**
 * Every sentinel up, only the master they name down (killed, not failed over yet): found from
 * outside (/tmp probe, then a bounded kill-the-master run) that the cache said, every other
 * reconnect attempt with one sentinel, "All sentinels are unreachable. Retrying from scratch…" —
 * as an 'error' event (logged) and as the message of the commands waiting then — pointing the
 * operator at the sentinels, which were fine. iovalkey kept its place in the sentinel list after
 * the last sentinel answered, so the next attempt found the list used up and asked none. Now
 * every attempt asks the sentinels and every failure names the master's address.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, freePort } from '../../harness/process.js';
import { type RedisLoneSentinel, skipRedis, startLoneSentinel } from '../../harness/redis.js';
import { sleep, watchUnhandled } from './helpers.js';

describeWithServers('sentinels up, the master they name down', skipRedis(), () => {
  let sentinel: RedisLoneSentinel;
  let deadPort: number;
  const unhandled = watchUnhandled();
  before(async () => {
    deadPort = await freePort();
    sentinel = await startLoneSentinel({ masters: { mymaster: deadPort } });
  });
  after(async () => {
    unhandled.dispose();
    await sentinel?.stop();
  });

  it('every failure names the master, none says the sentinels are unreachable', async () => {
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: { masterName: 'mymaster', sentinelAddresses: [`${sentinel.host}:${sentinel.port}`] },
      commandTimeout: 300,
    });
    const events: string[] = [];
    cache.client.on('error', (err: Error) => events.push(err.message));
    const messages: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const err = await cache.get('k').then(
          () => assert.fail('get succeeded with the master down'),
          (e: unknown) => e as Error & { code?: string },
        );
        assert.equal(err.code, 'unavailable');
        messages.push(err.message);
      }
    } finally {
      await cache.close();
    }
    const all = [...messages, ...events];
    assert.ok(!all.some((m) => /All sentinels are unreachable/.test(m)), all.join('\n'));
    // A wait that ran out before the first attempt failed (a loaded machine) has no reason yet.
    const refused = new RegExp(
      `not connected within 300 ms(: connect ECONNREFUSED 127\\.0\\.0\\.1:${deadPort})?$`,
    );
    for (const m of messages) assert.match(m, refused);
    assert.ok(
      messages.some((m) => m.includes('ECONNREFUSED')),
      messages.join('\n'),
    );
    assert.ok(events.length > 0, 'no connection attempt was made');
    unhandled.check();
  });
});

/**
 * Every sentinel down (found from outside, /tmp probe): the message ended `All sentinels are
 * unreachable … Last error: Connection is closed.` — the lookup connection's flushed command, not
 * why it closed. Now the last error is the connection's own (`connect ECONNREFUSED host:port`).
 */
describeWithServers('every sentinel down', skipRedis(), () => {
  it("the message gives the last sentinel connection's own error", async () => {
    const ports = [await freePort(), await freePort()];
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: { masterName: 'mymaster', sentinelAddresses: ports.map((p) => `127.0.0.1:${p}`) },
      commandTimeout: 300,
    });
    try {
      // Bounded: a wait that ran out before the first round over the sentinels ended (a loaded
      // machine) has no reason yet; the next ones have.
      let message = '';
      for (let i = 0; i < 5 && !message.includes('Last error'); i++) {
        const err = await cache.get('k').then(
          () => assert.fail('get succeeded with no sentinel'),
          (e: unknown) => e as Error & { code?: string },
        );
        assert.equal(err.code, 'unavailable');
        message = err.message;
        await sleep(100);
      }
      assert.match(
        message,
        /All sentinels are unreachable.*Last error: connect ECONNREFUSED 127\.0\.0\.1:\d+/,
      );
      const h = await cache.health();
      assert.match(h.error ?? '', /Last error: connect ECONNREFUSED/);
    } finally {
      await cache.close();
    }
  });
});

/**
 * The last of three sentinels down and the master they name down too (a failover with one
 * sentinel lost): found from outside (/tmp probe, kill the last sentinel, then the master, of a
 * 1+1+3 set: 4 "All sentinels are unreachable" errors in every failover). iovalkey carried its
 * place in the list from one attempt to the next, so the attempt after the second sentinel's
 * answer asked only the third (down), reached the end and said all were unreachable, although
 * the two before it had just answered. An attempt now asks every sentinel before saying so.
 */
describeWithServers('the last sentinel down, the master down', skipRedis(), () => {
  let sentinels: RedisLoneSentinel[] = [];
  let deadPort: number;
  let downSentinelPort: number;
  const unhandled = watchUnhandled();
  before(async () => {
    deadPort = await freePort();
    downSentinelPort = await freePort();
    sentinels = [
      await startLoneSentinel({ masters: { mymaster: deadPort } }),
      await startLoneSentinel({ masters: { mymaster: deadPort } }),
    ];
  });
  after(async () => {
    unhandled.dispose();
    for (const s of sentinels) await s.stop();
  });

  it('no attempt says the sentinels are unreachable while two of them answer', async () => {
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: 'mymaster',
        sentinelAddresses: [...sentinels.map((s) => `${s.host}:${s.port}`), `127.0.0.1:${downSentinelPort}`],
      },
      commandTimeout: 300,
    });
    const events: string[] = [];
    cache.client.on('error', (err: Error) => events.push(err.message));
    const messages: string[] = [];
    try {
      // Bounded: 8 waits of at most 300 ms, each over several reconnect attempts.
      for (let i = 0; i < 8; i++) {
        const err = await cache.get('k').then(
          () => assert.fail('get succeeded with the master down'),
          (e: unknown) => e as Error & { code?: string },
        );
        assert.equal(err.code, 'unavailable');
        messages.push(err.message);
      }
    } finally {
      await cache.close();
    }
    const all = [...messages, ...events];
    assert.ok(!all.some((m) => /All sentinels are unreachable/.test(m)), all.join('\n'));
    assert.ok(
      events.filter((m) => m === `connect ECONNREFUSED 127.0.0.1:${deadPort}`).length >= 3,
      `the master was not tried again and again:\n${events.join('\n')}`,
    );
    unhandled.check();
  });
});
