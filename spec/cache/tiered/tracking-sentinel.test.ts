/**
 * Server-assisted invalidation through sentinel, with the master killed: the new master knows
 * nothing of the old tracking table, so L1 is bypassed from the loss until tracking is set up and
 * confirmed on the new master (and cleared then); a write made on the new master in that gap is not
 * missed, and outside writes after it reach L1 as before.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisSentinelSet, skipRedis, startRedisSentinel } from '../../harness/redis.js';
import {
  holdInL1,
  measureLag,
  type OutsideWriter,
  outsideOnce,
  outsideWriter,
  summary,
  text,
} from './tracking-helpers.js';

const PASSWORD = 'sentinel-pass';
const PREFIX = 'ts:';

describeWithServers('tiered cache with Redis CLIENT TRACKING (sentinel)', skipRedis(), () => {
  let set: RedisSentinelSet;
  let l2: RedisCache;
  let cache: TieredCache;
  let cli: OutsideWriter;

  before(async () => {
    set = await startRedisSentinel({ password: PASSWORD });
    l2 = createRedisCache({
      mode: 'sentinel',
      sentinel: {
        masterName: set.masterName,
        sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      },
      password: PASSWORD,
      commandTimeout: 500,
      keyPrefix: PREFIX,
    });
    const tracking = createRedisTracking({ cache: l2, heartbeat: 200, mode: 'bcast' });
    cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking,
      l1Ttl: 60_000,
      breaker: false,
    });
    await cache.ready;
    cli = outsideWriter(set.master.port, { password: PASSWORD });
  });
  after(async () => {
    cli?.close();
    await cache?.close().catch(() => {});
    await set?.stop();
  });

  it('outside writes to the master reach L1 (BCAST mode)', async () => {
    await cache.set('k', Buffer.from('start'), 60_000);
    const delays = await measureLag(cache, cli, 'k', `${PREFIX}k`, 1000);
    const s = summary(delays);
    console.log(
      `# sentinel, 1,000 outside writes: median ${s.median.toFixed(3)} ms, max ${s.max.toFixed(3)} ms`,
    );
  });

  it('master killed: L1 bypassed until tracking is confirmed on the new master; a write in the gap is seen', async () => {
    await cache.set('f', Buffer.from('v1'), 60_000);
    assert.equal(await holdInL1(cache, 'f'), 'v1');
    cli.close();
    const losses = cache.stats().trackingLosses;
    const killedAt = performance.now();
    await set.master.kill();
    await waitFor(() => cache.stats().trackingLosses > losses, { what: 'the loss to be noticed' });
    // The outside writer writes to the replica as soon as it is promoted, racing our set-up there.
    let writtenAt: number | undefined;
    const writing = (async () => {
      while (performance.now() - killedAt < 30_000) {
        if ((await outsideOnce(set.replica.port, ['SET', `${PREFIX}f`, 'v2'], PASSWORD)) === 'OK') {
          writtenAt = performance.now();
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let l2Reads = 0;
    while (cache.stats().trackingConfirmed === 0) {
      const r = await cache.getWithMeta('f').catch(() => undefined);
      if (r) {
        assert.notEqual(r.source, 'l1', 'L1 answered while tracking was not confirmed');
        l2Reads++;
      }
      assert.ok(performance.now() - killedAt < 30_000, 'tracking never came back');
      await new Promise((r) => setTimeout(r, 5));
    }
    const confirmedAt = performance.now();
    await writing;
    assert.ok(writtenAt !== undefined, 'the promoted replica took the write');
    // Sentinel kills the clients of the replica it promotes: connect the writer afterwards.
    cli = outsideWriter(set.replica.port, { password: PASSWORD });
    await waitFor(async () => text(await cache.get('f').catch(() => undefined)) === 'v2', {
      timeoutMs: 1000,
      what: 'the write on the new master to be seen',
    });
    assert.equal(await holdInL1(cache, 'f'), 'v2');
    const delays = await measureLag(cache, cli, 'f', `${PREFIX}f`, 100, 'after-');
    const s = summary(delays);
    console.log(
      `# sentinel master killed: tracking confirmed on the new master ${(confirmedAt - killedAt).toFixed(0)} ms after the kill (${l2Reads} reads from L2 meanwhile); the outside write was acknowledged ${(writtenAt - killedAt).toFixed(0)} ms after the kill (${writtenAt < confirmedAt ? 'before' : 'after'} the confirmation); 100 more writes: median ${s.median.toFixed(3)} ms, max ${s.max.toFixed(3)} ms`,
    );
  });
});
