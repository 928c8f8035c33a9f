/**
 * Found by the tracking model under network faults (tracking-model.test.ts, seed 874054340, path 9):
 * a tiered setMany timed out after `l2Timeout` and was reported failed, but the Redis cache's
 * setMany dropped the caller's budget, so its SETs carried the deadline of the whole command
 * timeout; resent after a reconnect, they landed over a newer acknowledged write by another client.
 * Here the fault proxy holds the SETs longer than the budget (but less than the command timeout).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const HELD_MS = 400;
const BUDGET_MS = 100;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const timedOut = (e: { code?: string }) => e.code === 'timeout';

describeWithServers('a timed-out setMany', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  const open = (prefix: string) => {
    const direct = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: prefix,
      commandTimeout: 2000,
    });
    closers.push(
      () => l2.close(),
      () => direct.close(),
    );
    return { direct, l2 };
  };

  it('Redis cache: reaching the server after the budget in options.timeout, it is refused', async () => {
    const { direct, l2 } = open('lsm1:');
    assert.equal(await l2.set('k', Buffer.from('first')), true);
    proxy.delay = HELD_MS;
    try {
      await assert.rejects(
        l2.setMany([{ key: 'k', value: Buffer.from('late') }], { timeout: BUDGET_MS }),
        timedOut,
      );
    } finally {
      proxy.delay = 0;
    }
    assert.equal(text(await direct.get('k')), 'first');
  });

  it('tiered: never lands after a newer acknowledged write once its caller was told timeout', async () => {
    const { direct, l2 } = open('lsm2:');
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: BUDGET_MS,
      breaker: false,
    });
    closers.push(() => tiered.close());
    await tiered.set('k', Buffer.from('first'));
    proxy.delay = HELD_MS;
    try {
      await assert.rejects(tiered.setMany([{ key: 'k', value: Buffer.from('late') }]), timedOut);
      assert.equal(await direct.set('k', Buffer.from('newer')), true);
    } finally {
      proxy.delay = 0;
    }
    // The proxy forwards in order: once a read sent after the held SET is answered, that SET was
    // applied or refused.
    assert.equal(text(await l2.get('k')), 'newer', 'the timed-out setMany landed over a newer write');
    assert.equal(text(await direct.get('k')), 'newer');
    assert.equal(text(await tiered.get('k')), 'newer');
  });
});
