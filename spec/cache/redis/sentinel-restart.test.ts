/**
 * The sentinels restarted (a rolling upgrade), then a manual failover: found from outside (/tmp
 * probe, kill -9 and restart of the three sentinels, then SENTINEL FAILOVER under a sequential
 * writer). iovalkey redials a dropped subscription of its failover detector once a minute, so for
 * that minute the cache heard no +switch-master: it stayed on the old master until the sentinels
 * demoted it ~11 s later (1.2 s with the subscriptions up), and every write it acknowledged there
 * meanwhile was lost. The detector's subscriptions are now redialled like the other connections
 * (backoff capped at 1 s), so the cache follows the failover before the old master is demoted.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { after, before, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisSentinelSet, redisCommand, skipRedis, startRedisSentinel } from '../../harness/redis.js';
import { dec, enc, sleep, watchUnhandled } from './helpers.js';

const role = async (port: number) =>
  /role:(\w+)/.exec(String(await redisCommand(port, ['INFO', 'replication']).catch(() => '')))?.[1];

describeWithServers('sentinels restarted, then a manual failover', skipRedis(), () => {
  let set: RedisSentinelSet;
  const restarted: ChildProcess[] = [];
  const unhandled = watchUnhandled();
  before(async () => {
    set = await startRedisSentinel();
  });
  after(async () => {
    unhandled.dispose();
    for (const child of restarted) child.kill('SIGKILL');
    await set?.stop();
  });

  it('the cache follows the failover before the old master is demoted', async () => {
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      commandTimeout: 1000,
    });
    cache.client.on('error', () => {});
    try {
      await cache.set('k', enc('before'));
      // Each sentinel killed and started again on its port with its own (rewritten) config.
      for (const s of set.sentinelServers) {
        const args = s.child.spawnargs.slice(1);
        await s.kill();
        const child = spawn(s.child.spawnfile, args, { cwd: dirname(args[0]!), stdio: 'ignore' });
        restarted.push(child);
        await waitFor(async () => (await redisCommand(s.port, ['PING']).catch(() => '')) === 'PONG', {
          timeoutMs: 10_000,
          what: `sentinel ${s.port} to come back`,
        });
      }
      // Both sentinel-side set-ups settle: the sentinels see each other again, the cache resubscribes.
      await waitFor(
        async () => {
          for (const s of set.sentinels) {
            const peers = (await redisCommand(s.port, [
              'SENTINEL',
              'SENTINELS',
              set.masterName,
            ])) as unknown[];
            if (peers.length < 2) return false;
          }
          return true;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: 'the sentinels to know each other again' },
      );
      // The failover detector subscribes to +switch-master on every sentinel: each restarted one
      // shows that subscription again (sentinels subscribe to nothing on each other). Before, it
      // came back a minute later, so this wait ran out.
      await waitFor(
        async () => {
          for (const s of set.sentinels) {
            const clients = String(await redisCommand(s.port, ['CLIENT', 'LIST']));
            if (!/ sub=[1-9]/.test(clients)) return false;
          }
          return true;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: "the cache's failover detector to subscribe again" },
      );

      const oldMaster = set.master.port;
      await redisCommand(set.sentinels[0]!.port, ['SENTINEL', 'FAILOVER', set.masterName]);
      let moved = false;
      let demotedFirst = false;
      let last = '';
      // Bounded: at most 300 rounds (~20 s), ends once the cache is on the promoted node.
      for (let i = 0; i < 300 && !moved; i++) {
        const value = `v${i}`;
        const acked = await cache.set('k', enc(value)).then(
          () => true,
          () => false,
        );
        if (acked) last = value;
        const where = (await cache.health()).nodes[0]?.address;
        moved = where === `127.0.0.1:${set.replica.port}`;
        if (!moved && (await role(oldMaster)) === 'slave') demotedFirst = true;
        if (demotedFirst) break;
        await sleep(50);
      }
      assert.equal(demotedFirst, false, 'the old master was demoted before the cache followed the failover');
      assert.ok(moved, 'the cache never followed the failover');
      // The write acknowledged last is there, on the new master.
      await cache.set('k', enc('after'));
      assert.equal(dec(await cache.get('k')), 'after');
      assert.notEqual(last, '');
    } finally {
      await cache.close();
    }
    unhandled.check();
  });
});
