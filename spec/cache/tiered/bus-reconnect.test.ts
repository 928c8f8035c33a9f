/**
 * The invalidation bus after its subscriber reconnects: iovalkey emits `ready` before it has even
 * sent the re-SUBSCRIBE, and the bus cleared L1 right then. A read in the window between that
 * clear and the server acknowledging the SUBSCRIBE filled L1; a write another instance made in the
 * same window published to nobody, so the filled copy was served, stale, until `l1Ttl`. Found by
 * an outside-in audit; made deterministic with the loopback fault proxy delaying the subscriber's
 * commands after a cut. Now the reconnect is reported (and L1 cleared) once the subscription is
 * live again.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const DELAY_MS = 300;

describeWithServers('invalidation bus reconnect', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  it('a write made while the subscriber re-subscribes is not missed by a read made meanwhile', async () => {
    const channel = 'bus-rc:inv';
    const l2 = (name: string) => {
      const c = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-rc:', name });
      return c;
    };
    // A's bus goes through the proxy (its L2 does not); B is direct.
    const busClient = new Redis({ host: '127.0.0.1', port: proxy.port, lazyConnect: false });
    busClient.on('error', () => {});
    const busA = createRedisInvalidationBus({ client: busClient, channel });
    const l2a = l2('a');
    const l2b = l2('b');
    const a = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2a,
      bus: busA,
      l1Ttl: 60_000,
    });
    const b = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2b,
      bus: createRedisInvalidationBus({ client: l2b.client, channel }),
      l1Ttl: 60_000,
    });
    closers.push(
      () => a.close(),
      () => b.close(),
      async () => busClient.disconnect(),
    );
    await Promise.all([a.ready, b.ready]);
    await b.set('k', Buffer.from('v1'), 60_000);
    assert.equal(text(await a.get('k')), 'v1');
    assert.equal((await a.getWithMeta('k'))?.source, 'l1');

    const reconnects = a.stats().busReconnects;
    proxy.delay = DELAY_MS;
    proxy.cut();
    await waitFor(() => a.stats().busReconnects > reconnects, {
      timeoutMs: 10_000,
      what: 'the bus reconnect',
    });
    // Right after the reconnect was reported: a read fills L1, another instance writes.
    assert.equal(text(await a.get('k')), 'v1');
    await b.set('k', Buffer.from('v2'), 60_000);
    // Give a delayed re-SUBSCRIBE time to land, and the message time to arrive.
    await new Promise((r) => setTimeout(r, 2 * DELAY_MS + 200));
    proxy.delay = 0;
    assert.equal(text(await a.get('k')), 'v2', 'the write made during the re-subscription reached A');
  });

  it('a load in flight across the reconnect still stores its value in L2, not in L1', async () => {
    // Tiered audit 2: the reconnect's L1 clear fenced loads in flight as if their keys had been
    // written, so their values never reached Redis and other instances loaded them again.
    const l2a = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'bus-rc2:',
      name: 'a2',
    });
    const a = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2a,
      bus: createRedisInvalidationBus({ client: l2a.client, channel: 'bus-rc2:inv' }),
      l1Ttl: 60_000,
    });
    closers.push(() => a.close());
    await a.ready;
    const reconnects = a.stats().busReconnects;
    const value = await a.getOrSet(
      'm',
      async () => {
        await redisCommand(redis.port, ['CLIENT', 'KILL', 'TYPE', 'pubsub']);
        await waitFor(() => a.stats().busReconnects > reconnects, {
          timeoutMs: 10_000,
          what: 'the reconnect',
        });
        return Buffer.from('loaded');
      },
      60_000,
    );
    assert.equal(text(value), 'loaded');
    assert.ok((await l2a.get('m')) !== undefined, 'the loaded value reached L2');
    assert.equal(
      (await a.getWithMeta('m'))?.source,
      'l2',
      'it did not fill L1 (read begun before the clear)',
    );
  });

  it('a logger that throws at the reconnect: L1 is still cleared, no unhandled rejection', async () => {
    // The reconnect warning was logged before L1 was cleared, from inside the bus's promise
    // callback: a logger that throws left L1 as it was and was an unhandled rejection (scratch: the
    // process ended with the logger's error).
    const unhandled: unknown[] = [];
    const onRejection = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const throwing: Logger = {
        debug() {},
        info() {},
        warn() {
          throw new Error('logger bug');
        },
        error() {},
        child: () => throwing,
      };
      const l2a = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: 'bus-rc3:',
        name: 'a3',
      });
      const a = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2: l2a,
        bus: createRedisInvalidationBus({ client: l2a.client, channel: 'bus-rc3:inv' }),
        l1Ttl: 60_000,
        logger: throwing,
      });
      closers.push(() => a.close());
      await a.ready;
      await a.set('k', Buffer.from('v1'), 60_000);
      await a.get('k');
      assert.equal((await a.getWithMeta('k'))?.source, 'l1', 'held in L1 before the reconnect');
      const reconnects = a.stats().busReconnects;
      await redisCommand(redis.port, ['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      await waitFor(() => a.stats().busReconnects > reconnects, { timeoutMs: 10_000, what: 'the reconnect' });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await a.getWithMeta('k'))?.source, 'l2', 'L1 was cleared at the reconnect');
      assert.deepEqual(unhandled, [], 'no unhandled rejection');
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
