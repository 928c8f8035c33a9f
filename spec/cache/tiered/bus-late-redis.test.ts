/**
 * Redis down when the tiered caches start, up a little later (session-10 audit, found through the
 * demo: two order-service instances started before Redis). The bus's SUBSCRIBE was rejected after
 * one retry, the subscription was never made once Redis was up (no subscriber on the channel),
 * and a write on one instance left the other's L1 copy in place for good (here: l1Ttl 60 s).
 * Once Redis answers, the bus must subscribe and invalidations must arrive.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, freePort, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString() : undefined);

describeWithServers('tiered cache: Redis down at start, up later (bus mode)', skipRedis(), () => {
  let redis: RedisStandalone;
  let relay: Server | undefined;
  const sockets = new Set<Socket>();
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (relay ? relay.close(() => r()) : r()));
    await redis?.stop();
  });

  it('once Redis answers, the bus subscribes and a write on one instance reaches the other L1', async () => {
    // Nothing listens on `port` yet; later a relay there forwards to the real Redis.
    const port = await freePort();
    const channel = 'bus-late:inv';
    const make = (name: string) => {
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${port}`],
        keyPrefix: 'bus-late:',
        name,
        commandTimeout: 200,
        dialTimeout: 200,
      });
      return createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel }),
        l1Ttl: 60_000,
        breaker: false,
      });
    };
    const a = make('a');
    const b = make('b');
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    a.ready.catch(() => {});
    b.ready.catch(() => {});
    // Long enough for the client's reconnect attempts to have failed a few times.
    await new Promise((r) => setTimeout(r, 1500));

    relay = createServer((client) => {
      const upstream = connect(redis.port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => relay!.listen(port, '127.0.0.1', () => r()));

    // Both L2s reachable again: a value written by A is read by B (into B's L1).
    await waitFor(
      async () => {
        try {
          await a.set('k', Buffer.from('v1'), 60_000);
          return text(await b.get('k')) === 'v1';
        } catch {
          return false;
        }
      },
      { timeoutMs: 15_000, what: 'both caches using Redis' },
    );
    // B's subscription, made after failed attempts, clears its L1 once live (messages may have
    // been lost): read k into it again after that.
    await b.ready;
    assert.equal(text(await b.get('k')), 'v1');
    assert.equal((await b.getWithMeta('k'))?.source, 'l1');
    // The bus subscription is made (bounded wait), then A's write must drop B's L1 copy.
    await waitFor(
      async () => {
        await a.set('k', Buffer.from('v2'), 60_000);
        await new Promise((r) => setTimeout(r, 100));
        return text(await b.get('k')) === 'v2';
      },
      { timeoutMs: 10_000, what: "A's write reaching B's L1 through the bus" },
    );
    assert.equal(text(await b.get('k')), 'v2');
  });
  it('clears L1 once its late subscription is live: a write published before it is not served stale', async () => {
    // B's data connection reaches Redis before its bus subscriber does (their reconnect backoffs
    // are independent): B read k, A's write is published to no one, then B subscribes. That
    // first subscription came after failed attempts, so messages were lost: L1 must be cleared,
    // as after any reconnect (before, B kept serving v1 for its l1Ttl, 60 s here). Since tiered
    // audit 2, B does not fill L1 at all before its first subscription is live.
    const port = await freePort();
    const channel = 'bus-late:inv2';
    const a = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'bus-late2:',
      name: 'a2',
    });
    const tieredA = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: a,
      bus: createRedisInvalidationBus({ client: a.client, channel }),
      l1Ttl: 60_000,
      breaker: false,
    });
    closers.push(() => tieredA.close());
    await tieredA.ready;
    const l2b = createRedisCache({
      addresses: [`127.0.0.1:${port}`],
      keyPrefix: 'bus-late2:',
      name: 'b2',
      commandTimeout: 200,
      dialTimeout: 200,
    });
    const b = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2b,
      bus: createRedisInvalidationBus({ client: l2b.client, channel }),
      l1Ttl: 60_000,
      breaker: false,
    });
    closers.push(() => b.close());
    b.ready.catch(() => {});
    // Nothing answers yet: B's connections fail and retry.
    await new Promise((r) => setTimeout(r, 800));

    // A relay to Redis that holds back B's SUBSCRIBE (and what follows it on that connection) until
    // released: B's data connection works, its subscriber is connected but not yet subscribed.
    const held: (() => void)[] = [];
    const server = createServer((client) => {
      const upstream = connect(redis.port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.pipe(client);
      let queue: Buffer[] | undefined;
      client.on('data', (chunk: Buffer) => {
        if (!queue && chunk.toString('latin1').toLowerCase().includes('subscribe')) {
          queue = [];
          held.push(() => {
            for (const c of queue!) upstream.write(c);
            queue = undefined;
          });
        }
        if (queue) queue.push(chunk);
        else upstream.write(chunk);
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    // Stop listening only: its connections end with the caches (and are destroyed in after()); a
    // wait for server.close()'s callback here, run before the caches close, never ended.
    closers.push(async () => {
      server.close();
    });

    await waitFor(
      async () => {
        try {
          await tieredA.set('k', Buffer.from('v1'), 60_000);
          return text(await b.get('k')) === 'v1';
        } catch {
          return false;
        }
      },
      { timeoutMs: 15_000, what: "B's L2 reachable" },
    );
    await waitFor(() => held.length > 0, { what: "B's SUBSCRIBE to reach the relay" });
    // A's write and its invalidation: B has no subscriber on the channel, so it is lost.
    const sent = tieredA.stats().invalidationsSent;
    await tieredA.set('k', Buffer.from('v2'), 60_000);
    assert.equal(tieredA.stats().invalidationsSent, sent + 1);
    // Before, B held a v1 copy in L1 here and served it (the message was lost) until the late
    // subscription cleared L1. L1 is now not filled before the subscription is live: B reads L2.
    const early = await b.getWithMeta('k');
    assert.equal(text(early?.value), 'v2', 'B reads the new value before it is subscribed');
    assert.equal(early?.source, 'l2', 'B keeps no L1 copy before it is subscribed');

    for (const open of held.splice(0)) open();
    await b.ready;
    assert.equal(text(await b.get('k')), 'v2');
    assert.equal(b.stats().busReconnects, 1);
  });
  it('close() while Redis never answered settles ready (rejected with closed)', async () => {
    // Before, the SUBSCRIBE queued for the absent Redis never settled after close(): `ready` stayed
    // pending for good, so a start-up awaiting it never went on (or on to its own shutdown).
    const port = await freePort();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${port}`],
      keyPrefix: 'bus-late3:',
      name: 'c3',
      commandTimeout: 200,
      dialTimeout: 200,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      bus: createRedisInvalidationBus({ client: l2.client, channel: 'bus-late:inv3' }),
      breaker: false,
    });
    const settled = cache.ready.then(
      () => 'resolved',
      (err: { code?: string }) => err.code,
    );
    // Reconnect attempts are under way (nothing listens on the port).
    await new Promise((r) => setTimeout(r, 500));
    await cache.close();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      settled,
      new Promise((r) => {
        timer = setTimeout(() => r('still pending 5 s after close'), 5000);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, 'closed');
  });
  it('tracking: close() while Redis never answered rejects ready with closed, as the bus does', async () => {
    // Before, tracking rejected it with a plain Error (no code), the bus with CacheError('closed').
    const port = await freePort();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${port}`],
      keyPrefix: 'bus-late4:',
      name: 'c4',
      commandTimeout: 200,
      dialTimeout: 200,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2 }),
      breaker: false,
    });
    const settled = cache.ready.then(
      () => 'resolved',
      (err: { code?: string }) => err.code,
    );
    await new Promise((r) => setTimeout(r, 300));
    await cache.close();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      settled,
      new Promise((r) => {
        timer = setTimeout(() => r('still pending 5 s after close'), 5000);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, 'closed');
  });
  it('tracking: once Redis is back and tracking confirmed, an open breaker probes L2 at once, not after its cool-down', async () => {
    // With tracking, L1 is filled only from L2 reads. An open breaker kept L2 skipped for its
    // whole cool-down after Redis returned: every read called the loader, first L1 hit 5.1 s
    // after Redis was back with the default 5 s (here 30 s). The confirmation now lets its probe
    // through.
    const port = await freePort();
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${port}`],
      keyPrefix: 'bus-late5:',
      name: 'c5',
      commandTimeout: 200,
      dialTimeout: 200,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2 }),
      breaker: { failures: 2, cooldown: 30_000 },
      l2Timeout: 200,
    });
    closers.push(() => cache.close());
    cache.ready.catch(() => {});
    let loads = 0;
    const loader = async () => {
      loads++;
      return Buffer.from('v');
    };
    for (let i = 0; i < 4; i++) assert.equal(text(await cache.getOrSet('k', loader, 60_000)), 'v');
    assert.equal(cache.breakerState(), 'open');

    const back = createServer((client) => {
      const upstream = connect(redis.port, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    // Closed after the cache (closers run newest first): close() of a server waits for its
    // connections, which the cache's close ends.
    closers.unshift(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => back.close(() => r()));
    });
    await new Promise<void>((r) => back.listen(port, '127.0.0.1', () => r()));
    await waitFor(() => cache.ready.then(() => true), { timeoutMs: 10_000, what: 'tracking confirmed' });
    const readyAt = performance.now();
    await waitFor(
      async () => {
        await cache.getOrSet('k', loader, 60_000);
        return (await cache.getWithMeta('k'))?.source === 'l1';
      },
      { timeoutMs: 5_000, what: 'an L1 hit after Redis returned (cool-down 30 s)' },
    );
    assert.equal(cache.breakerState(), 'closed');
    assert.ok(performance.now() - readyAt < 5_000);
    assert.ok(loads >= 4, `${loads} loads`);
  });
});
