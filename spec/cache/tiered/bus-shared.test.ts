/**
 * One invalidation bus shared by two tiered caches of a process (tiered audit 2). Closing a cache
 * closes its bus; the other cache, still open, then heard no invalidation any more and kept
 * serving its L1 copy after another instance's write (here for the whole `l1Ttl`, 60 s) — a
 * shared tracker already told its other caches. Now the bus tells the caches still subscribed
 * that it closed, and they stop using L1 (every read goes to L2).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { holdInL1, text } from './tracking-helpers.js';

describeWithServers('tiered caches sharing one invalidation bus', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await redis?.stop();
  });

  it('one of them closed: the other stops serving L1 and reads the write another instance made', async () => {
    const channel = 'bus-sh:inv';
    const l2 = () => {
      const c = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-sh:' });
      closers.push(() => c.close());
      return c;
    };
    const shared = l2();
    const bus = createRedisInvalidationBus({ client: shared.client, channel });
    const tiered = (level: ReturnType<typeof l2>, b = bus) => {
      const c = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2: level,
        bus: b,
        l1Ttl: 60_000,
      });
      closers.push(() => c.close());
      return c;
    };
    const a = tiered(l2());
    const b = tiered(shared);
    const wl2 = l2();
    const writer = tiered(wl2, createRedisInvalidationBus({ client: wl2.client, channel }));
    await Promise.all([a.ready, b.ready, writer.ready]);

    await writer.set('k', Buffer.from('v1'), 60_000);
    assert.equal(await holdInL1(b, 'k'), 'v1');
    await a.close();
    await writer.set('k', Buffer.from('v2'), 60_000);
    const r = await b.getWithMeta('k');
    assert.equal(text(r?.value), 'v2', 'the write made after the shared bus closed is read');
    assert.equal(r?.source, 'l2');
    await b.get('k');
    assert.equal((await b.getWithMeta('k'))?.source, 'l2', 'L1 is no longer filled');
    assert.ok(b.stats().l1Clears >= 1);
  });

  it('a logger that throws when the shared bus closes: the other cache still stops serving L1, the bus still ends', async () => {
    const channel = 'bus-sh:inv2';
    const l2 = () => {
      const c = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-sh2:' });
      closers.push(() => c.close());
      return c;
    };
    const shared = l2();
    const bus = createRedisInvalidationBus({ client: shared.client, channel });
    const throwing: Logger = {
      debug() {},
      info() {},
      warn() {
        throw new Error('logger bug');
      },
      error() {},
      child: () => throwing,
    };
    const tiered = (level: ReturnType<typeof l2>, b = bus, logger?: Logger) => {
      const c = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2: level,
        bus: b,
        l1Ttl: 60_000,
        ...(logger ? { logger } : {}),
      });
      closers.push(() => c.close());
      return c;
    };
    const a = tiered(l2());
    const b = tiered(shared, bus, throwing);
    const wl2 = l2();
    const writer = tiered(wl2, createRedisInvalidationBus({ client: wl2.client, channel }));
    await Promise.all([a.ready, b.ready, writer.ready]);

    await writer.set('k', Buffer.from('v1'), 60_000);
    assert.equal(await holdInL1(b, 'k'), 'v1');
    // b's logger throws inside the bus's close: before, that ended close() there, b's L1 was not
    // emptied (v1 served for l1Ttl) and the bus's subscriber stayed connected (no process exit).
    await a.close();
    await waitFor(() => bus.status === 'end', {
      timeoutMs: 2000,
      what: "the shared bus's subscriber to end",
    });
    await writer.set('k', Buffer.from('v2'), 60_000);
    const r = await b.getWithMeta('k');
    assert.equal(text(r?.value), 'v2', 'the write made after the shared bus closed is read');
    assert.equal(r?.source, 'l2');
  });

  it('a bus user whose onClosed throws: the other users are still told, close() resolves and the bus ends', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'bus-sh3:' });
    closers.push(() => l2.close());
    const bus = createRedisInvalidationBus({ client: l2.client, channel: 'bus-sh:inv3' });
    closers.push(() => bus.close());
    let told = 0;
    await bus.subscribe(
      () => {},
      () => {},
      () => {
        throw new Error('handler bug');
      },
    );
    await bus.subscribe(
      () => {},
      () => {},
      () => {
        told++;
      },
    );
    await bus.close();
    assert.equal(told, 1, 'the second user heard that the bus closed');
    await waitFor(() => bus.status === 'end', { timeoutMs: 2000, what: "the bus's subscriber to end" });
  });
});
