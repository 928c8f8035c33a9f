/**
 * `getMany` / `getManyWithTtl` of a key asked many times (a page reading the author of each of
 * its posts): each copy used to be read, so 5,000 copies of one 64 KiB key made Redis send
 * 312 MiB, held at once in the process. Each distinct key is now read once; every position gets
 * its value and is counted in `stats()`. The bound asserted is on work: the bytes the servers
 * sent (`total_net_output_bytes`), not on time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { watchUnhandled } from './helpers.js';

const VALUE = Buffer.alloc(64 * 1024, 7);
const COPIES = 500;
/** What all copies would cost: 500 × 64 KiB per distinct key = 31 MiB. Allowed: 2 MiB in all. */
const BOUND = 2 * 1024 * 1024;

async function sentBytes(ports: readonly number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const r = new Redis({ port, lazyConnect: true });
    r.on('error', () => {});
    try {
      await r.connect();
      total += Number(/total_net_output_bytes:(\d+)/.exec(await r.info('stats'))?.[1]);
    } finally {
      r.disconnect();
    }
  }
  return total;
}

/** Runs `read` and returns what the servers on `ports` sent meanwhile. */
async function sentDuring(ports: readonly number[], read: () => Promise<unknown>): Promise<number> {
  const before = await sentBytes(ports);
  await read();
  return (await sentBytes(ports)) - before;
}

function cases(make: () => { cache: RedisCache; ports: readonly number[] }, keys: readonly string[]): void {
  it('getMany reads a repeated key once; every position gets its value and counts', async () => {
    const { cache, ports } = make();
    await cache.setMany(keys.map((key) => ({ key, value: VALUE })));
    const asked = [...Array.from({ length: COPIES }, () => keys).flat(), 'absent', 'absent'];
    const h0 = cache.stats();
    let got: (Uint8Array | undefined)[] = [];
    const sent = await sentDuring(ports, async () => {
      got = await cache.getMany(asked);
    });
    assert.ok(sent < BOUND, `the servers sent ${sent} bytes for ${keys.length} distinct keys`);
    assert.equal(got.length, asked.length);
    for (let i = 0; i < asked.length - 2; i++) assert.deepEqual(got[i], VALUE, `position ${i}`);
    assert.equal(got.at(-1), undefined);
    assert.equal(got.at(-2), undefined);
    const h1 = cache.stats();
    assert.equal(h1.hits - h0.hits, asked.length - 2, 'a hit per position asked');
    assert.equal(h1.misses - h0.misses, 2, 'a miss per position asked');
  });

  it('getManyWithTtl too', async () => {
    const { cache, ports } = make();
    await cache.setMany(keys.map((key) => ({ key, value: VALUE })));
    const asked = [...Array.from({ length: COPIES }, () => keys).flat(), 'absent', 'absent'];
    let got: Awaited<ReturnType<RedisCache['getManyWithTtl']>> = [];
    const sent = await sentDuring(ports, async () => {
      got = await cache.getManyWithTtl(asked);
    });
    assert.ok(sent < BOUND, `the servers sent ${sent} bytes for ${keys.length} distinct keys`);
    assert.equal(got.length, asked.length);
    for (let i = 0; i < asked.length - 2; i++) assert.deepEqual(got[i]?.value, VALUE, `position ${i}`);
    assert.equal(got.at(-1), undefined);
  });
}

describeWithServers('redis getMany of repeated keys (standalone)', skipRedis(), () => {
  let redis: RedisStandalone;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });
  describe('one server', () =>
    cases(() => {
      const cache = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        keyPrefix: 'rep:',
        commandTimeout: 5000,
      });
      caches.push(cache);
      return { cache, ports: [redis.port] };
    }, ['user:1', 'user:2']));
});

describeWithServers('redis getMany of repeated keys (cluster)', skipRedis(), () => {
  let cluster: RedisCluster;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });
  describe('keys on several slots', () =>
    cases(() => {
      const cache = createRedisCache({
        mode: 'cluster',
        addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        keyPrefix: 'rep:',
        commandTimeout: 5000,
      });
      caches.push(cache);
      return { cache, ports: cluster.nodes.map((n) => n.port) };
    }, ['user:1', 'user:2', 'user:3', 'user:4']));
});
