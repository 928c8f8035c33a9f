import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisSentinelSet,
  redisCommand,
  sentinelMaster,
  skipRedis,
  startRedisSentinel,
} from '../../harness/redis.js';
import { dec, enc, sleep, watchUnhandled } from './helpers.js';

const PASSWORD = 'sentinel-pass';

describeWithServers('redis cache through sentinel', skipRedis(), () => {
  let set: RedisSentinelSet;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    set = await startRedisSentinel({ password: PASSWORD });
    cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      password: PASSWORD,
      commandTimeout: 500,
      keyPrefix: 'sn:',
    });
  });
  after(async () => {
    await cache?.close();
    await set?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('finds the master through the sentinels', async () => {
    await cache.set('k', enc('v'), 60_000);
    assert.equal(dec(await cache.get('k')), 'v');
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    assert.equal(h.mode, 'sentinel');
    assert.equal(h.role, 'master');
    assert.equal(h.nodes[0]?.address, `127.0.0.1:${set.master.port}`);
  });

  // Each health() PINGs every sentinel on a short connection of its own: 100 readiness checks at
  // once opened 300 sentinel connections. Concurrent calls now share one probe and its result.
  it('concurrent health() calls share one probe: one connection per sentinel, not per call', async () => {
    const received = async () => {
      let n = 0;
      for (const s of set.sentinels) {
        const info = String(await redisCommand(s.port, ['INFO', 'stats']));
        n += Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
      }
      return n;
    };
    await cache.health();
    const before = await received();
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.health()));
    // Less the three INFO connections of `received` itself. The sentinels also link to each other
    // and reconnect those links on their own (a busy machine made one more once), so a few extra
    // are tolerated: what is checked is one probe connection per sentinel, not 100.
    const opened = (await received()) - before - set.sentinels.length;
    assert.ok(
      opened >= set.sentinels.length && opened <= set.sentinels.length + 3,
      `sentinel connections opened by 100 concurrent health() calls: ${opened}`,
    );
    assert.ok(
      results.every((h) => h.ok && h.sentinels?.every((s) => s.connected)),
      JSON.stringify(results[0]),
    );
    assert.ok(
      results.every((h) => h === results[0]),
      'every concurrent caller gets the same result',
    );
    // A call after they settled probes anew.
    const later = await cache.health();
    assert.notEqual(later, results[0]);
    assert.equal(later.ok, true, later.error);
  });

  // One hung sentinel (accepts nothing, answers nothing) held every health() for the whole command
  // timeout (3,001 ms at 3,000 ms) while get() took 3 ms: a readiness probe with a 1 s timeout
  // marked a serving instance unready. Once one sentinel answered and the master's checks are
  // done, the silent ones are reported as not answering.
  it('a hung sentinel does not hold health() for the command timeout once another answered', async () => {
    const slow = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      password: PASSWORD,
      commandTimeout: 3000,
      keyPrefix: 'sn-hung:',
    });
    const hung = set.sentinelServers[2]!;
    try {
      await slow.set('ready', enc('1'));
      const first = await slow.health();
      assert.equal(first.ok, true, first.error);
      hung.child.kill('SIGSTOP');
      const started = performance.now();
      const h = await slow.health();
      const took = performance.now() - started;
      assert.equal(h.ok, true, h.error);
      assert.ok(took < 1500, `health() took ${Math.round(took)} ms with one sentinel stopped`);
      const silent = h.sentinels?.filter((s) => !s.connected) ?? [];
      assert.deepEqual(
        silent.map((s) => s.address),
        [`${hung.host}:${hung.port}`],
      );
      assert.match(silent[0]?.error ?? '', /no answer within \d+ ms, while another sentinel answered/);
    } finally {
      hung.child.kill('SIGCONT');
      await slow.close();
    }
  });

  // iovalkey asks the sentinels one after another, each command bounded by sentinelCommandTimeout,
  // which was the whole command timeout: with the first listed sentinel hung (accepts, never
  // answers), a new cache's first command always failed with "not connected within 1000 ms",
  // though two sentinels would have answered.
  it('a hung first sentinel does not fail the first command of a new cache', async () => {
    const hung = set.sentinelServers[0]!;
    hung.child.kill('SIGSTOP');
    try {
      for (let i = 0; i < 2; i++) {
        const fresh = createRedisCache({
          mode: 'sentinel',
          sentinel: {
            masterName: set.masterName,
            sentinelAddresses: [hung, ...set.sentinelServers.slice(1)].map((s) => `${s.host}:${s.port}`),
          },
          password: PASSWORD,
          commandTimeout: 1000,
          keyPrefix: 'sn-hung-first:',
        });
        try {
          assert.equal(await fresh.set('k', enc(`v${i}`)), true);
          assert.equal(dec(await fresh.get('k')), `v${i}`);
        } finally {
          await fresh.close();
        }
      }
    } finally {
      hung.child.kill('SIGCONT');
    }
  });

  it('keeps answering getOrSet correctly while the master is killed, and writes again after promotion', async () => {
    const KEYS = 20;
    const expected = (i: number) => `value-${i}`;
    for (let i = 0; i < KEYS; i++) await cache.set(`f${i}`, enc(expected(i)));

    const killedAt = performance.now();
    await set.master.kill();
    let promotedAt: number | undefined;
    let writableAt: number | undefined;
    let calls = 0;
    let loaderCalls = 0;
    const deadline = killedAt + 30_000;
    // Bounded: at most 30 s and 20,000 calls.
    while (performance.now() < deadline && calls < 20_000) {
      const i = calls % KEYS;
      const value = await cache.getOrSet(`f${i}`, () => {
        loaderCalls++;
        return enc(expected(i));
      });
      assert.equal(dec(value), expected(i), `call ${calls} returned a wrong value`);
      calls++;
      if (promotedAt === undefined && calls % 20 === 0) {
        const m = await sentinelMaster(set.sentinels[0]!.port, set.masterName);
        if (m?.port === set.replica.port) promotedAt = performance.now();
      }
      if (promotedAt !== undefined && writableAt === undefined) {
        const ok = await cache.set('probe', enc('w')).then(
          () => true,
          () => false,
        );
        if (ok) writableAt = performance.now();
      }
      if (writableAt !== undefined) break;
      await sleep(5);
    }
    assert.ok(promotedAt !== undefined, 'the sentinels promoted the replica');
    assert.ok(writableAt !== undefined, 'writes succeeded after the promotion');
    console.log(
      `# failover: replica promoted ${(promotedAt - killedAt).toFixed(0)} ms after the kill; ` +
        `writes succeeded ${(writableAt - promotedAt).toFixed(0)} ms after the promotion ` +
        `(${(writableAt - killedAt).toFixed(0)} ms after the kill); ${calls} getOrSet calls, ` +
        `${loaderCalls} answered by the loader, all correct`,
    );
    const h = await waitFor(
      async () => {
        const x = await cache.health();
        return x.ok ? x : undefined;
      },
      { timeoutMs: 5000, what: 'healthy after failover' },
    );
    assert.equal(h.role, 'master');
    assert.equal(h.nodes[0]?.address, `127.0.0.1:${set.replica.port}`);
    // data written before the kill was replicated, so the new master still has it
    assert.equal(dec(await cache.get('f1')), expected(1));
    assert.equal(dec(await cache.get('probe')), 'w');
    assert.ok(cache.stats().errors > 0, 'the outage was counted');
    // health()'s write probe follows the failover too: writes paused on the new master show.
    await redisCommand(set.replica.port, ['CLIENT', 'PAUSE', '20000', 'WRITE'], { password: PASSWORD });
    try {
      const paused = await cache.health();
      assert.equal(paused.degraded, true, paused.error);
      assert.match(
        paused.error ?? '',
        new RegExp(`writes are held back on 127\\.0\\.0\\.1:${set.replica.port}\\b`),
      );
    } finally {
      await redisCommand(set.replica.port, ['CLIENT', 'UNPAUSE'], { password: PASSWORD });
    }
  });
});
