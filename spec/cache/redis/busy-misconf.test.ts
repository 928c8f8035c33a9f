/**
 * Two error replies as the operator reads them (found from outside, /tmp probes on real servers):
 * - BUSY (another client's script past `busy-reply-threshold`): was `backend`, the code of an ACL
 *   refusal, with Redis's bare words; now `unavailable` (a passing outage, the command not run),
 *   saying what holds the server and what stops it.
 * - MISCONF (`stop-writes-on-bgsave-error` after a failed background save): Redis's reply was cut
 *   at 200 characters before it said where to look; now the message says why writes are refused,
 *   that reads still work and what to fix. Its code stays `backend`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, sleep } from './helpers.js';

// Busy for about 1.5 s of the server's clock, then done by itself.
const SLOW = `local t = redis.call('TIME'); local s = t[1] * 1000000 + t[2]
while true do local n = redis.call('TIME'); if n[1] * 1000000 + n[2] - s > 1500000 then break end end
return 1`;

describe('error replies BUSY and MISCONF', { skip: skipRedis() }, () => {
  const servers: RedisStandalone[] = [];
  after(async () => {
    for (const s of servers) {
      await s.server.kill();
      await s.stop();
    }
  });

  it('BUSY: unavailable, names the running script and how to stop it; nothing applied', async () => {
    const server = await startRedis({ extraConfig: ['busy-reply-threshold 100'] });
    servers.push(server);
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 3000 });
    const slow = new Redis({ host: server.host, port: server.port, lazyConnect: true });
    try {
      await cache.set('k', enc('old'));
      await slow.connect();
      const running = slow.eval(SLOW, 0).catch(() => undefined);
      // Past the threshold: the server answers BUSY to everyone else.
      let busy = false;
      for (let i = 0; i < 40 && !busy; i++) {
        await sleep(25);
        busy = await redisCommand(server.port, ['PING'], {}).then(
          () => false,
          (e: Error) => /^BUSY/.test(e.message),
        );
      }
      assert.ok(busy, 'the server never answered BUSY');
      for (const [op, p] of [
        ['get', cache.get('k')],
        ['set', cache.set('k', enc('new'))],
      ] as const) {
        const err = await rejectsWith(p, 'unavailable');
        assert.match(
          err.message,
          new RegExp(`^redis ${op} failed \\(\\S+\\): the server is busy running a script`),
        );
        assert.match(err.message, /SCRIPT KILL/);
      }
      const tx = await rejectsWith(
        cache.transaction((t) => {
          t.set('k', enc('tx'));
        }),
        'unavailable',
      );
      assert.match(tx.message, /busy running a script/);
      assert.doesNotMatch(tx.message, /applied completely or not at all/);
      await running;
      assert.equal(dec(await cache.get('k')), 'old');
    } finally {
      slow.disconnect();
      await cache.close();
    }
  });

  it('MISCONF: says why writes are refused and what to fix; reads still work', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hyperion-misconf-'));
    const server = await startRedis({ extraConfig: ['save "3600 1"', `dir "${dataDir}"`] });
    servers.push(server);
    const cache = createRedisCache({ addresses: [`${server.host}:${server.port}`], commandTimeout: 3000 });
    try {
      await cache.set('k', enc('v'));
      // The server's data directory gone: its background save fails.
      await rm(dataDir, { recursive: true, force: true });
      await redisCommand(server.port, ['BGSAVE'], {}).catch(() => {});
      let failed = false;
      for (let i = 0; i < 100 && !failed; i++) {
        const info = String(await redisCommand(server.port, ['INFO', 'persistence'], {}));
        failed = /rdb_last_bgsave_status:err/.test(info) && /rdb_bgsave_in_progress:0/.test(info);
        if (!failed) await sleep(20);
      }
      assert.ok(failed, 'the background save did not fail');
      const err = await rejectsWith(cache.set('k', enc('w')), 'backend');
      assert.match(err.message, /refuses writes because its last background save \(RDB\) failed/);
      assert.match(err.message, /server's log/);
      assert.equal(dec(await cache.get('k')), 'v');
    } finally {
      await cache.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
