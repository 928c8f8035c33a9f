/**
 * A tiered cache over a cluster L2 that reads from replicas (`cluster.readOnly`), on a real
 * 6-node cluster. With a bus alone, an instance that received another's invalidation re-read the
 * key from a replica that did not have the write yet and kept that older value in L1 for the whole
 * `l1Ttl`, long after the replica caught up (found from outside: the replica held back by
 * `CLIENT PAUSE … WRITE`, the old value still served 3 s after it had the write). That
 * combination is now a `ConfigError`; with tracking beside the bus the replica itself reports the
 * key when it applies the write, so L1 follows it.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';

const PREFIX = 'replica-reads:';
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('tiered cache over a cluster L2 that reads from replicas', skipRedis(), () => {
  let cluster: RedisCluster;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await cluster?.stop();
  });

  function l2Of(readOnly: boolean): RedisCache {
    const l2 = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 2000,
      cluster: { readOnly },
    });
    closers.push(() => l2.close());
    return l2;
  }

  it('a bus alone is refused (ConfigError naming bus); over masters, or with tracking, it is accepted', async () => {
    const l2 = l2Of(true);
    const bus = createRedisInvalidationBus({ client: l2.client, channel: `${PREFIX}inv` });
    closers.push(() => bus.close());
    assert.throws(
      () => createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2, bus }),
      (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path === 'bus'),
    );
    const masters = l2Of(false);
    const onMasters = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: masters,
      bus: createRedisInvalidationBus({ client: masters.client, channel: `${PREFIX}inv` }),
    });
    closers.push(() => onMasters.close());
  });

  it('with tracking beside the bus, a write a replica applies late still leaves L1 once it has it', async () => {
    const caches: TieredCache[] = [];
    for (const id of ['A', 'B']) {
      const l2 = l2Of(true);
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        bus: createRedisInvalidationBus({ client: l2.client, channel: `${PREFIX}inv` }),
        tracking: createRedisTracking({ cache: l2, heartbeat: 300 }),
        l1Ttl: 60_000,
        l2Timeout: 2000,
        instanceId: id,
      });
      closers.push(() => cache.close());
      caches.push(cache);
    }
    const [a, b] = caches as [TieredCache, TieredCache];
    await Promise.all([a.ready, b.ready]);
    const slot = keySlot(`${PREFIX}k`);
    const slots = (await redisCommand(cluster.masters[0]!.port, ['CLUSTER', 'SLOTS'])) as [
      number,
      number,
      ...[string, number, string][],
    ][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to)!;
    const replicaPort = Number(range[3]![1]);
    const replica = new Redis({ port: replicaPort, host: '127.0.0.1', lazyConnect: true });
    closers.push(async () => replica.disconnect());
    await replica.connect();
    await replica.call('READONLY');
    const onReplica = async () => (await replica.getBuffer(`${PREFIX}k`))?.subarray(26).toString();

    await a.set('k', Buffer.from('v1'), 600_000);
    await waitFor(async () => (await onReplica()) === 'v1', { what: 'the replica to have v1' });
    await waitFor(async () => (await b.getWithMeta('k'))?.source === 'l1', { what: 'B to hold k in L1' });
    // The replica stops applying the master's stream for a moment: it lags the write below.
    await replica.call('CLIENT', 'PAUSE', '1000', 'WRITE');
    await a.set('k', Buffer.from('v2'), 600_000);
    // B hears of the write (bus) while the replica still has v1, and reads k meanwhile.
    for (let i = 0; i < 5; i++) {
      await b.get('k');
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(async () => (await onReplica()) === 'v2', { what: 'the replica to catch up' });
    await waitFor(async () => text(await b.get('k')) === 'v2', {
      timeoutMs: 5000,
      what: 'B to serve v2 once the replica has it',
    });
  });
});
