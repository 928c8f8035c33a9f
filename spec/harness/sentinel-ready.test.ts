/**
 * What `startRedisSentinel` hands over is a set whose master already streams its writes to the
 * replica, as in a set that has been up a while, not one whose replica merely says its link is up.
 * Right after a replica's (diskless) full sync the master holds its command stream back until the
 * replica's next `REPLCONF ACK` (up to ~1 s): a key written then was missing on the promoted
 * replica after a `SENTINEL FAILOVER` (`tracking-sentinel-failover.test.ts`, 2 of 8 runs, once the
 * set was ready in ~0.4 s instead of ~2.2 s). See `startRedisSentinel`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeWithServers } from './process.js';
import { redisCommand, skipRedis, startRedisSentinel, waitForReplicas } from './redis.js';

describeWithServers('redis harness: a ready sentinel set', skipRedis(), () => {
  it("streams the master's writes to the replica (not only: the replica says its link is up)", async (t) => {
    const set = await startRedisSentinel();
    t.after(() => set.stop());
    const info = String(await redisCommand(set.replica.port, ['INFO', 'replication']));
    assert.match(info, /^master_link_status:up\r?$/m);
    // The full sync from the fresh master left the replica at offset 0; only a stream that flows
    // moves it on.
    const offset = Number(/^slave_repl_offset:(\d+)/m.exec(info)?.[1]);
    assert.ok(offset > 0, `the replica got nothing of the master's stream yet (offset ${offset})`);

    // A write acknowledged now is on the replica once waitForReplicas says so.
    assert.equal(await redisCommand(set.master.port, ['SET', 'k', 'v']), 'OK');
    assert.equal(await waitForReplicas(set.master.port), 1);
    assert.equal(await redisCommand(set.replica.port, ['GET', 'k']), 'v');
  });
});
