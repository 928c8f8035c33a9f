/**
 * A cluster L2 with one master dead (killed, not failed over yet) answers a batch read in part:
 * the Redis cache rejects it but carries the live masters' answers as `err.partial`. Found from
 * outside: a tiered `getMany` read every key of such a batch as a miss, and `getOrSetMany` loaded
 * every key (12 of 12, where 2 lived on the dead master) and, marking them all as possibly behind
 * in L2, kept their L2 values from being served afterwards. Now the answered keys are served (and
 * L2's answer for them is trusted as usual); only the dead master's keys are misses / loaded.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const PREFIX = 'pr:';
const KEYS = Array.from({ length: 24 }, (_, i) => `key${i}`);

describeWithServers('tiered cache over a cluster with one master down', skipRedis(), () => {
  let cluster: RedisCluster;
  const closers: (() => Promise<unknown>)[] = [];
  let dead: Set<string>;
  const open = (tracking = false) => {
    const l2 = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: PREFIX,
      commandTimeout: 1000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      breaker: false,
      l2Timeout: 2000,
      tracking: tracking ? createRedisTracking({ cache: l2 }) : undefined,
    });
    closers.push(() => cache.close());
    return cache;
  };
  let plain: ReturnType<typeof open>;
  let tracked: ReturnType<typeof open>;
  let loader: ReturnType<typeof open>;

  before(async () => {
    // No failover while the tests run: the dead master's keys stay unanswered.
    cluster = await startRedisCluster({ nodeTimeoutMs: 60_000 });
    const writer = open();
    await writer.ready;
    for (const k of KEYS) await writer.set(k, Buffer.from(`v-${k}`));
    plain = open();
    tracked = open(true);
    loader = open();
    await Promise.all([plain.ready, tracked.ready, loader.ready]);
    const victim = cluster.masters[0]!;
    const held = (await redisCommand(victim.port, ['KEYS', `${PREFIX}*`])) as string[];
    dead = new Set(held.map((k) => k.slice(PREFIX.length)));
    assert.ok(dead.size > 0 && dead.size < KEYS.length, `keys on the victim: ${dead.size}`);
    victim.server.child.kill('SIGKILL');
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await cluster?.stop();
  });

  const expected = () => KEYS.map((k) => (dead.has(k) ? undefined : `v-${k}`));

  it('getMany serves the keys of the live masters', async () => {
    assert.deepEqual((await plain.getMany(KEYS)).map(text), expected());
  });

  it('getMany with tracking (GET + PTTL reads) serves them too', async () => {
    assert.deepEqual((await tracked.getMany(KEYS)).map(text), expected());
  });

  it('getOrSetMany loads only the keys L2 did not answer, and L2 values stay served', async () => {
    const loaded: string[][] = [];
    const got = await loader.getOrSetMany(KEYS, async (keys) => {
      loaded.push([...keys]);
      return keys.map((k) => Buffer.from(`load-${k}`));
    });
    assert.deepEqual(loaded, [KEYS.filter((k) => dead.has(k))]);
    assert.deepEqual(
      got.map(text),
      KEYS.map((k) => (dead.has(k) ? `load-${k}` : `v-${k}`)),
    );
  });
});
