/**
 * health()'s write probe (./write-probe.ts) runs on a connection of its own per master, opened by
 * the first health() and kept. After a sentinel failover to a new master while the old master is
 * still alive (`SENTINEL FAILOVER`: the old master stays up, and keeps calling itself master until
 * the sentinels reconfigure it, ~10 s later), that connection would still be open and ready on the
 * old master: it must be replaced, so that health() probes the master the cache now writes to — a
 * pause of the new master's writes shows, one of the old master's does not — and no probe
 * connection is left on the old master.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisSentinelSet, redisCommand, skipRedis, startRedisSentinel } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

/** The health() probe connections (named `<connection name>:health`) open on the server at `port`. */
async function probeLinks(port: number): Promise<number> {
  const list = String(await redisCommand(port, ['CLIENT', 'LIST']));
  return list.split('\n').filter((l) => /\bname=hyperion:hf:health\b/.test(l)).length;
}

describeWithServers('redis health: sentinel failover with the old master alive', skipRedis(), () => {
  let set: RedisSentinelSet;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    set = await startRedisSentinel();
    cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      commandTimeout: 500,
      keyPrefix: 'hf:',
      name: 'hf',
    });
  });
  after(async () => {
    for (const s of [set?.master, set?.replica])
      if (s) await redisCommand(s.port, ['CLIENT', 'UNPAUSE']).catch(() => {});
    await cache?.close();
    await set?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('reports the new master, probes its writes, and leaves no probe connection on the old one', async () => {
    const oldPort = set.master.port;
    const newPort = set.replica.port;
    await cache.set('k', enc('v'));
    const first = await cache.health();
    assert.equal(first.ok, true, first.error);
    assert.equal(first.nodes[0]?.address, `127.0.0.1:${oldPort}`);
    assert.equal(await probeLinks(oldPort), 1, 'the first health() opened its write probe on the master');

    // A failover the sentinels agree on, the old master staying up (bounded retries: a sentinel
    // may answer INPROG/NOGOODSLAVE for a moment).
    await waitFor(
      async () =>
        (await redisCommand(set.sentinels[0]!.port, ['SENTINEL', 'FAILOVER', set.masterName])) === 'OK',
      { timeoutMs: 10_000, intervalMs: 200, what: 'SENTINEL FAILOVER to be accepted' },
    );
    const h = await waitFor(
      async () => {
        const x = await cache.health();
        return x.ok && x.nodes[0]?.address === `127.0.0.1:${newPort}` ? x : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'health() to report the new master' },
    );
    assert.equal(h.role, 'master');
    assert.equal(h.nodes[0]?.role, 'master');
    assert.equal(
      h.sentinels?.every((s) => s.connected),
      true,
    );
    // The old master is alive (and may still call itself master for a while).
    assert.equal(await redisCommand(oldPort, ['PING']), 'PONG');

    // The probe's connection moved with the cache: one on the new master, none left on the old.
    // A probe whose connect passes its budget (an event-loop stall of a loaded machine) tells
    // nothing and drops its link, by design (PING decides): the next health() opens it again.
    await waitFor(async () => (await cache.health()).ok && (await probeLinks(newPort)) === 1, {
      timeoutMs: 10_000,
      what: 'a write probe connection on the new master',
    });
    assert.equal(await probeLinks(oldPort), 0, 'no write probe connection left on the old master');

    // Writes held back on the new master show …
    await redisCommand(newPort, ['CLIENT', 'PAUSE', '20000', 'WRITE']);
    try {
      const paused = await cache.health();
      assert.equal(paused.ok, false);
      assert.equal(paused.degraded, true, paused.error);
      assert.match(paused.error ?? '', new RegExp(`writes are held back on 127\\.0\\.0\\.1:${newPort}\\b`));
    } finally {
      await redisCommand(newPort, ['CLIENT', 'UNPAUSE']);
    }
    // … and a pause of the old master, which the cache no longer writes to, does not.
    await redisCommand(oldPort, ['CLIENT', 'PAUSE', '20000', 'WRITE']);
    try {
      const other = await cache.health();
      assert.equal(other.ok, true, other.error);
      assert.equal(other.nodes[0]?.address, `127.0.0.1:${newPort}`);
    } finally {
      await redisCommand(oldPort, ['CLIENT', 'UNPAUSE']);
    }

    // The cache itself writes to the new master.
    await cache.set('after', enc('w'));
    assert.equal(dec(await cache.get('after')), 'w');
    assert.equal(String(await redisCommand(newPort, ['GET', 'hf:after'])), 'w');
  });
});
