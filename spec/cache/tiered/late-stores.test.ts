/**
 * L2 stores a caller no longer waits for must not land after a newer write by another client. Both
 * found by the tracking model under network faults (tracking-model.test.ts), here made
 * deterministic with the fault proxy holding the SETs longer than the budget (but less than the
 * command timeout):
 * - seed 874054340, path 9: a tiered setMany timed out after `l2Timeout` and was reported failed,
 *   but the Redis cache's setMany dropped the caller's budget, so its SETs carried the deadline of
 *   the whole command timeout; resent after a reconnect, they landed over a newer outside write;
 * - seed 876475561, path 27: the L2 store of a value loaded by getOrSet ran in the background;
 *   delayed by the network, it landed after a delete another instance made once the caller had
 *   the value, and the deleted value was served again.
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
const HELD_SHORT_MS = 100;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const timedOut = (e: { code?: string }) => e.code === 'timeout';

describeWithServers('late L2 stores', skipRedis(), () => {
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

  it('Redis cache: a setMany reaching the server after the budget in options.timeout, it is refused', async () => {
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

  it('tiered: a timed-out setMany never lands after a newer acknowledged write', async () => {
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
  it('tiered: a write given a budget shorter than l2Timeout is refused once that budget is spent', async () => {
    const { direct, l2 } = open('lsm4:');
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      // l2Timeout alone would let the held writes land: only the caller's budget refuses them.
      l2Timeout: 4 * HELD_MS,
      breaker: false,
    });
    closers.push(() => tiered.close());
    await tiered.set('k', Buffer.from('first'));
    await tiered.set('m', Buffer.from('first'));
    proxy.delay = HELD_MS;
    try {
      await assert.rejects(tiered.set('k', Buffer.from('late'), undefined, { timeout: BUDGET_MS }), timedOut);
      await assert.rejects(
        tiered.setMany([{ key: 'm', value: Buffer.from('late') }], { timeout: BUDGET_MS }),
        timedOut,
      );
    } finally {
      proxy.delay = 0;
    }
    // L2 holds the tiered envelope: the value is its tail.
    assert.match(text(await direct.get('k')) ?? '', /first$/, 'set: refused after the caller budget');
    assert.match(text(await direct.get('m')) ?? '', /first$/, 'setMany: refused after the caller budget');
    assert.equal(text(await tiered.get('k')), 'first');
    await assert.rejects(
      tiered.set('k', Buffer.from('x'), undefined, { timeout: -1 }),
      (e: { code?: string }) => e.code === 'invalid_ttl',
    );
  });

  it('tiered: getOrSetMany never overwrites a value another instance wrote while the batch loaded', async () => {
    const { direct, l2 } = open('lsm5:');
    const make = (cache: typeof l2) =>
      createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2: cache,
        l2Timeout: 2000,
        breaker: false,
      });
    const tiered = make(l2);
    const other = make(direct);
    closers.push(
      () => tiered.close(),
      () => other.close(),
    );
    const values = await tiered.getOrSetMany(['a', 'b'], async (keys) => {
      // Both keys were absent in L2; another instance writes one of them during the load.
      await other.set('b', Buffer.from('written-meanwhile'));
      return keys.map((k) => Buffer.from(`loaded-${k}`));
    });
    assert.deepEqual(values.map(text), ['loaded-a', 'loaded-b'], 'the caller gets the batch it loaded');
    assert.match(text(await direct.get('a')) ?? '', /loaded-a$/, 'an absent key is stored');
    assert.match(
      text(await direct.get('b')) ?? '',
      /written-meanwhile$/,
      'the newer write was not overwritten',
    );
    // The refused key's L1 copy was dropped: the next read gets the newer value from L2.
    assert.equal(text(await tiered.get('b')), 'written-meanwhile');
    assert.equal(text(await tiered.get('a')), 'loaded-a');
  });

  it('tiered: the L2 store of a loaded value never lands after a delete made once getOrSet returned', async () => {
    const { direct, l2 } = open('lsm3:');
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      // A budget the held store fits in: it lands before its deadline, so only the order matters.
      l2Timeout: 4 * HELD_SHORT_MS,
      breaker: false,
    });
    closers.push(() => tiered.close());
    try {
      const value = await tiered.getOrSet('k', () => {
        // The read has answered (a miss); what is sent from now on is held.
        proxy.delay = HELD_SHORT_MS;
        return Buffer.from('loaded');
      });
      assert.equal(text(value), 'loaded');
      // Another instance deletes the key once the caller has the value.
      await direct.delete('k');
    } finally {
      proxy.delay = 0;
    }
    // Answered only after the held store was applied or refused (the proxy keeps the order).
    assert.equal(await l2.get('k'), undefined, 'the loaded value landed after the delete');
    assert.equal(await direct.get('k'), undefined);
  });
});
