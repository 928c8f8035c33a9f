/**
 * What the tiered cache puts into its memory L1 owns its memory. Values read from a Redis L2 are
 * views into the reply's buffer (an MGET reply holds every value of the batch): kept as they were,
 * one small L1 entry kept the whole reply alive, so L1 held more memory than its `maxCost` counted
 * (279 KB for 200 KB counted in the audit). Such views are copied on their way into L1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache, type MemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../../lib/cache/tiered/envelope.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { ownedBytes } from '../../../lib/cache/tiered/local.js';
import type { Bytes } from '../../../lib/core/contracts.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { fakeCache } from './fakes.js';

/** True when `b` spans its whole ArrayBuffer (nothing else is kept alive through it). */
const owns = (b: Bytes) => b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;

function l1Entry(l1: MemoryCache, key: string): Bytes {
  const raw = l1.sync.get(key);
  assert.ok(raw, `L1 holds ${key}`);
  return raw;
}

describe('tiered L1 copies of L2 reads own their memory', () => {
  it('ownedBytes copies a view into a larger buffer (offset or shorter length), keeps an owning one', () => {
    const big = Buffer.alloc(4096, 7);
    for (const view of [big.subarray(10, 110), big.subarray(0, 100), new Uint8Array(big.buffer, 4000, 96)]) {
      const copy = ownedBytes(view);
      assert.ok(owns(copy), 'the copy owns its ArrayBuffer');
      assert.notEqual(copy.buffer, view.buffer);
      assert.deepEqual(Buffer.from(copy), Buffer.from(view));
      assert.ok(Buffer.isBuffer(copy), 'still a Buffer');
    }
    const whole = new Uint8Array(64);
    assert.equal(ownedBytes(whole), whole, 'an owning array is kept as it is (no copy)');
    // A small Buffer.from() is a slice of Node's shared pool: copied too, into its own memory.
    const pooled = Buffer.from('tiny');
    assert.ok(owns(ownedBytes(pooled)));
  });

  it('a value read from L2 as a slice of a larger reply buffer is stored in L1 as an owning copy', async () => {
    const l2 = fakeCache('l2');
    const l1 = createMemoryCache({ maxCost: 1 << 20 });
    const cache = createTieredCache({ l1, l2 });
    try {
      // Two envelopes packed into one 64 KiB "reply", as a Redis MGET reply would hold them.
      const reply = new Uint8Array(64 * 1024);
      const value = Buffer.from('v'.repeat(1000));
      const env = encodeEnvelope(value, Date.now() + 60_000, Date.now() + 60_000, 60_000);
      reply.set(env, 512);
      l2.store.set('k', { value: reply.subarray(512, 512 + env.byteLength), expiresAt: Infinity });
      const got = await cache.get('k');
      assert.deepEqual(Buffer.from(got!), value, 'the value read is the value stored');
      const stored = l1Entry(l1, 'k');
      assert.ok(
        owns(stored),
        `L1 entry owns its memory (offset ${stored.byteOffset}, buffer ${stored.buffer.byteLength})`,
      );
      assert.notEqual(stored.buffer, reply.buffer, 'not a view into the reply');
      assert.deepEqual(Buffer.from(decodeEnvelope(stored)!.value), value, 'L1 holds the same value');
      // …and an L1 hit serves it.
      assert.deepEqual(Buffer.from((await cache.get('k'))!), value);
      assert.equal(cache.stats().l1Hits, 1);
    } finally {
      await cache.close();
    }
  });
});

describeWithServers('tiered L1 over a real Redis L2: every L1 entry owns its memory', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  function instance(): { cache: TieredCache; l1: MemoryCache } {
    const l1 = createMemoryCache({ maxCost: 1 << 22 });
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: 'own:',
      commandTimeout: 2000,
    });
    const cache = createTieredCache({ l1, l2 });
    closers.push(() => cache.close());
    return { cache, l1 };
  }

  it('after get and getMany from Redis, L1 holds owning copies equal to the values', async () => {
    const writer = instance();
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    const value = (i: number) => Buffer.from(`${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26))));
    await writer.cache.setMany(keys.map((key, i) => ({ key, value: value(i) })));

    const reader = instance(); // empty L1: everything comes from Redis
    const many = await reader.cache.getMany(keys.slice(0, 150));
    for (const k of keys.slice(150)) await reader.cache.get(k);
    let counted = 0;
    let retained = 0;
    const buffers = new Set<ArrayBufferLike>();
    for (const [i, key] of keys.entries()) {
      if (i < 150) assert.deepEqual(Buffer.from(many[i]!), value(i), `${key} read`);
      const stored = l1Entry(reader.l1, key);
      assert.ok(owns(stored), `${key}: L1 entry owns its memory (offset ${stored.byteOffset})`);
      assert.deepEqual(Buffer.from(decodeEnvelope(stored)!.value), value(i), `${key}: L1 value`);
      counted += stored.byteLength;
      if (!buffers.has(stored.buffer)) retained += stored.buffer.byteLength;
      buffers.add(stored.buffer);
    }
    assert.equal(retained, counted, 'the memory L1 keeps alive is what it counts');
  });
});
