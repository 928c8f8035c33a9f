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
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
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
});
