/**
 * The invalidation bus on a cluster: iovalkey's cluster client moves its subscriber connection to
 * another node by itself when that connection ends (node killed, connection killed) or its node
 * leaves, and re-subscribes there — without any event on the client. Messages published meanwhile
 * are lost, so the bus must report a reconnect (the tiered cache clears L1) once the new
 * subscription is live, as it does for a standalone subscriber. Found by an outside-in audit: the
 * bus reported nothing, and L1 copies whose invalidations were lost were served until `l1Ttl`.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { holdInL1 } from './tracking-helpers.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('invalidation bus on a cluster', skipRedis(), () => {
  let cluster: RedisCluster;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await cluster?.stop();
  });

  it('a healthy cluster: subscribing reports no reconnect and logs no warning', async () => {
    // Found by an outside-in pass over the logs: every tiered cache over a cluster bus wrote
    // "invalidation bus reconnected, L1 cleared" (warn) right after it subscribed, nothing lost:
    // the bus took the cluster subscriber's first connection for a move from "none".
    const channel = 'bq:inv';
    const records: string[] = [];
    const logger = {
      debug: () => {},
      info: () => {},
      warn: (msg: string) => records.push(`warn ${msg}`),
      error: (msg: string) => records.push(`error ${msg}`),
    };
    const make = () => {
      const l2 = createRedisCache({
        mode: 'cluster',
        addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        keyPrefix: 'bq:',
        commandTimeout: 1000,
      });
      const c = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel, logger }),
        l1Ttl: 60_000,
        logger,
      });
      closers.push(() => c.close());
      return c;
    };
    const a = make();
    const b = make();
    await Promise.all([a.ready, b.ready]);
    // An invalidation from B reaches A over A's subscriber connection: any SUBSCRIBE the bus sent
    // again on it (the reported "move") was answered before it, so its report is in by then.
    const received = a.stats().invalidationsReceived;
    await b.set('k', Buffer.from('v1'), 60_000);
    await waitFor(() => a.stats().invalidationsReceived > received, {
      timeoutMs: 5000,
      what: 'the invalidation',
    });
    await b.set('k2', Buffer.from('v1'), 60_000);
    await waitFor(() => a.stats().invalidationsReceived > received + 1, {
      timeoutMs: 5000,
      what: 'the second invalidation',
    });
    assert.equal(a.stats().busReconnects, 0);
    assert.equal(b.stats().busReconnects, 0);
    assert.deepEqual(records, []);
  });

  it('the subscriber connection killed: the reconnect is reported, and the bus delivers again', async () => {
    const channel = 'bc:inv';
    const make = () => {
      const l2 = createRedisCache({
        mode: 'cluster',
        addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        keyPrefix: 'bc:',
        commandTimeout: 1000,
      });
      const c = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel }),
        l1Ttl: 60_000,
      });
      closers.push(() => c.close());
      return c;
    };
    const a = make();
    const b = make();
    await Promise.all([a.ready, b.ready]);
    await b.set('k', Buffer.from('v1'), 60_000);
    assert.equal(await holdInL1(a, 'k'), 'v1');

    const before = a.stats().busReconnects;
    // Kill the pub/sub connections open now on every node (the bus subscribers of both
    // instances), by id: a node-by-node `CLIENT KILL TYPE pubsub` could also kill the new
    // subscriber iovalkey had just opened on a node the loop had not reached yet, a second move
    // reported after the first — and B's write below could then be published during it, to no
    // one (the test failed now and then under load, waiting for the invalidation).
    const victims: [number, string][] = [];
    for (const n of cluster.nodes) {
      const list = String(await redisCommand(n.port, ['CLIENT', 'LIST', 'TYPE', 'pubsub']));
      for (const m of list.matchAll(/^id=(\d+)\s/gm)) victims.push([n.port, m[1]!]);
    }
    assert.ok(victims.length >= 2, `both subscribers found (${victims.length})`);
    for (const [port, id] of victims) await redisCommand(port, ['CLIENT', 'KILL', 'ID', id]);
    await waitFor(() => a.stats().busReconnects > before, {
      timeoutMs: 5000,
      what: 'the bus to report the reconnect',
    });
    assert.equal((await a.getWithMeta('k'))?.source, 'l2', 'L1 was cleared');
    // Once reported, the new subscription is live: B's next write reaches A.
    assert.equal(await holdInL1(a, 'k'), 'v1');
    const received = a.stats().invalidationsReceived;
    await b.set('k', Buffer.from('v2'), 60_000);
    await waitFor(() => a.stats().invalidationsReceived > received, {
      timeoutMs: 5000,
      what: 'the invalidation',
    });
    assert.equal(text(await a.get('k')), 'v2');
  });

  // A cluster event before the client had made its subscriber connection (a slot refresh at
  // start) left the bus watching "no connection", and the first connection was then taken for a
  // move: every tiered cache over a cluster reported a reconnect just after its start — "invalidation
  // bus reconnected, L1 cleared" logged, and what L1 held by then dropped (found from outside with
  // createAppFromConfig, at every start and so at every reload of a service).
  it('a fresh start reports no reconnect and keeps its L1', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(message: string) {
        warnings.push(message);
      },
      error() {},
    };
    const l2 = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'fresh:',
      commandTimeout: 1000,
    });
    const c = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      bus: createRedisInvalidationBus({ client: l2.client, channel: 'fresh:inv' }),
      l1Ttl: 60_000,
      logger,
    });
    closers.push(() => c.close());
    await c.ready;
    await c.set('k', Buffer.from('v1'), 60_000);
    assert.equal(await holdInL1(c, 'k'), 'v1');
    // The false report came within a few ms of the subscription; give it well over that.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(c.stats().busReconnects, 0, 'no reconnect reported');
    assert.equal((await c.getWithMeta('k'))?.source, 'l1', 'L1 kept');
    assert.deepEqual(
      warnings.filter((w) => w.includes('reconnected')),
      [],
    );
  });
});
