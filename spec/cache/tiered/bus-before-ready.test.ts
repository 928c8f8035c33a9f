/**
 * Reads made before the cache is `ready` (its bus subscription not yet live), seen from outside
 * (tiered audit 2). A read right after creation filled L1 from L2; another instance then wrote
 * the key and published its invalidation before this instance's SUBSCRIBE had reached Redis, so it
 * went to no one; the old copy was served before and after `ready`, for the whole `l1Ttl` (60 s
 * here). The subscriber's commands are delayed by the loopback fault proxy so that the window is
 * wide and the test deterministic. Now L1 is not filled until the subscription is live (every read
 * before it goes to L2), and it is cleared, and in-flight reads fenced, once it is.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('tiered cache: reads before the bus subscription is live', skipRedis(), () => {
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

  it('a write by another instance before ready is never hidden by an L1 copy read before it', async () => {
    const channel = 'bus-br:inv';
    const l2b = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-br:', name: 'b' });
    const b = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2b,
      bus: createRedisInvalidationBus({ client: l2b.client, channel }),
      l1Ttl: 60_000,
    });
    closers.push(() => b.close());
    await b.ready;
    await b.set('k', Buffer.from('old'));

    // A's data connection is up and fast; its bus (its own connections) goes through the proxy,
    // whose 300 ms delay holds its SUBSCRIBE back.
    const l2a = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-br:', name: 'a' });
    await l2a.get('warm-up');
    proxy.delay = 300;
    const a = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2a,
      bus: createRedisInvalidationBus({ redis: { host: '127.0.0.1', port: proxy.port }, channel }),
      l1Ttl: 60_000,
    });
    closers.push(() => a.close());
    let ready = false;
    a.ready.then(
      () => {
        ready = true;
      },
      () => {},
    );

    assert.equal(text(await a.get('k')), 'old');
    await b.set('k', Buffer.from('new'));
    assert.equal(ready, false, 'the window is open: A is not subscribed yet');
    assert.equal(text(await a.get('k')), 'new', 'before ready: the acknowledged write is read');
    await a.ready;
    assert.equal(text(await a.get('k')), 'new', 'after ready: no old L1 copy');
    assert.equal(a.stats().l1Hits, 0, 'nothing was served from L1 before the subscription was live');

    // Once live, L1 is used again and invalidations reach it.
    assert.equal(text(await a.get('k')), 'new');
    assert.ok(a.stats().l1Hits >= 1, 'L1 serves once the subscription is live');
    proxy.delay = 0;
  });

  it('a load begun before ready still stores its value in L2 (not in L1)', async () => {
    // The clear at the subscription used to fence every load in flight as if its key had been
    // written, so the first getOrSet of a cache made a moment before (createAppFromConfig, then a
    // request) never stored its value in Redis: the next instance loaded it again.
    const channel = 'bus-br:inv2';
    const l2a = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'bus-br2:',
      name: 'a',
    });
    await l2a.get('warm-up');
    proxy.delay = 200;
    const a = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2a,
      bus: createRedisInvalidationBus({ redis: { host: '127.0.0.1', port: proxy.port }, channel }),
      l1Ttl: 60_000,
    });
    closers.push(() => a.close());
    let loads = 0;
    const value = await a.getOrSet(
      'k',
      async () => {
        loads++;
        await a.ready; // the subscription goes live while this load runs
        return Buffer.from('loaded');
      },
      60_000,
    );
    assert.equal(text(value), 'loaded');
    assert.equal(loads, 1);
    const stored = await l2a.get('k');
    assert.ok(stored !== undefined, 'the loaded value reached L2');
    const r = await a.getWithMeta('k');
    assert.equal(text(r?.value), 'loaded');
    assert.equal(r?.source, 'l2', 'the load begun before the subscription did not fill L1');
    proxy.delay = 0;
  });

  it('mode both: trackingConfirmed is 0 until the bus is subscribed (L1 unused until then), 1 after', async () => {
    // The tracker confirmed first (its connections are direct) and stats() said 1, with the bus
    // still subscribing and every read going to L2: a dashboard or readiness check saw L1 in use.
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-br3:', name: 'c' });
    await l2.set('k', Buffer.from('v'));
    proxy.delay = 400;
    const c = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2 }),
      bus: createRedisInvalidationBus({
        redis: { host: '127.0.0.1', port: proxy.port },
        channel: 'bus-br3:inv',
      }),
      l1Ttl: 60_000,
    });
    closers.push(() => c.close());
    let ready = false;
    c.ready.then(
      () => {
        ready = true;
      },
      () => {},
    );
    // Wait (bounded) until the tracker has confirmed; the bus is still held back by the proxy.
    for (let i = 0; i < 100 && c.stats().trackingConfirmedAgo < 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(c.stats().trackingConfirmedAgo >= 0, 'tracking confirmed');
    assert.equal(ready, false, 'the bus is not subscribed yet');
    assert.equal(text(await c.get('k')), 'v');
    assert.equal(text(await c.get('k')), 'v');
    assert.equal(c.stats().l1Hits, 0, 'L1 is not used before the bus is subscribed');
    assert.equal(c.stats().trackingConfirmed, 0, 'so the stats do not say it is');
    await c.ready;
    assert.equal(c.stats().trackingConfirmed, 1, 'subscribed and tracking confirmed');
    assert.equal(text(await c.get('k')), 'v');
    assert.equal(text(await c.get('k')), 'v');
    assert.ok(c.stats().l1Hits >= 1, 'L1 serves once both are live');
    proxy.delay = 0;
  });
});
