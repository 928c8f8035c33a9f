/**
 * Duration text given in code. A config file reads "5s"; an option or argument given in code takes
 * a number of milliseconds. `createApp({ disposeTimeoutMs: '5s' })`, a drain's `graceMs: '5s'` and
 * `cache.set(k, v, '5s')` were refused as "received string": the caller could not tell whether
 * duration text was accepted anywhere, nor what to give. Every duration option now shows the text
 * refused, the number of milliseconds to give and that only a config file reads text.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { createApp, createDisposerStack, createNoopCache, drainServer } from '../../lib/core/index.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { describeWithServers } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';

const bytes = new Uint8Array([1]);

/** The text of an error and of its issues (a ConfigError lists the field in `issues`). */
function textOf(err: unknown): string {
  const e = err as { message?: string; issues?: { path: string; received: string }[] };
  return `${e.message ?? ''} ${JSON.stringify(e.issues ?? [])}`;
}

/** `fn` throws (or rejects) with a message saying the text given, the ms to give and where text is read. */
async function refusesText(fn: () => unknown, given: string, ms: number): Promise<void> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error, `${given} was accepted`);
  const text = textOf(err);
  assert.ok(!/received string\b/.test(text), text);
  assert.ok(text.includes(given.replace(/"/g, '\\"')) || text.includes(given), text);
  assert.ok(text.includes(`a number of milliseconds (${ms})`), text);
  assert.ok(text.includes('read only from a config file'), text);
}

describe('duration text given in code says what to give', () => {
  it('createApp disposeTimeoutMs and createDisposerStack timeoutMs', async () => {
    await refusesText(() => createApp({ disposeTimeoutMs: '5s' as never }), '"5s"', 5000);
    await refusesText(() => createDisposerStack({ timeoutMs: '250ms' as never }), '"250ms"', 250);
  });

  it("drainServer's graceMs, lingerMs and quietMs", async () => {
    const server = http.createServer();
    await refusesText(() => drainServer(server, { graceMs: '5s' as never }), '"5s"', 5000);
    await refusesText(() => drainServer(server, { lingerMs: '1m' as never }), '"1m"', 60_000);
    await refusesText(() => drainServer(server, { quietMs: '1.5s' as never }), '"1.5s"', 1500);
  });

  it('a per-call TTL and write timeout of the memory, tiered and no-op caches', async () => {
    const memory = createMemoryCache({ maxCost: 1000 });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1000 }),
      l2: createMemoryCache({ maxCost: 1000 }),
    });
    for (const cache of [memory, tiered, createNoopCache()]) {
      await refusesText(() => cache.set('k', bytes, '5s' as never), '"5s"', 5000);
      await refusesText(() => cache.set('k', bytes, 1000, { timeout: '2s' as never }), '"2s"', 2000);
      await refusesText(
        () => cache.setMany([{ key: 'k', value: bytes, ttl: '1h' as never }]),
        '"1h"',
        3_600_000,
      );
    }
    await tiered.close();
    await memory.close();
  });

  it("set(k, v, { ttl }) says the TTL argument is the number itself (it said 'received object')", async () => {
    const caches = [
      createMemoryCache({ maxCost: 1000 }),
      createTieredCache({
        l1: createMemoryCache({ maxCost: 1000 }),
        l2: createMemoryCache({ maxCost: 1000 }),
      }),
      createNoopCache(),
    ];
    for (const cache of caches) {
      await assert.rejects(cache.set('k', bytes, { ttl: 5000 } as never), (e: Error) => {
        assert.match(e.message, /an object with a ttl: a TTL argument is the number of milliseconds itself/);
        return true;
      });
      assert.equal(await cache.get('k'), undefined);
    }
    for (const cache of caches) await cache.close?.();
  });

  it('factory duration options of the caches, tracer and metrics', async () => {
    await refusesText(() => createMemoryCache({ maxCost: 10, defaultTtl: '5s' as never }), '"5s"', 5000);
    await refusesText(
      () =>
        createTieredCache({
          l1: createMemoryCache({ maxCost: 10 }),
          l2: createMemoryCache({ maxCost: 10 }),
          ttl: '5s' as never,
        }),
      '"5s"',
      5000,
    );
    await refusesText(
      () => createRedisCache({ addresses: ['127.0.0.1:1'], dialTimeout: '5s' as never }),
      '"5s"',
      5000,
    );
    await refusesText(
      () => createOtelTracer({ exporter: 'none', batch: { scheduledDelayMillis: '5s' as never } }),
      '"5s"',
      5000,
    );
    await refusesText(() => createMetrics({ enabled: false, collectTimeoutMs: '5s' as never }), '"5s"', 5000);
  });

  it('text that is no duration is still shown only by its type', () => {
    assert.throws(
      () => createApp({ disposeTimeoutMs: 'redis://user:secret@host' as never }),
      (e: Error) => !textOf(e).includes('secret') && textOf(e).includes('string'),
    );
  });
});

describeWithServers('duration text given to the Redis cache in code', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  before(async () => {
    redis = await startRedis({});
    cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`] });
  });
  after(async () => {
    await cache?.close();
    await redis?.stop();
  });

  it('set with a TTL or a write timeout as text', async () => {
    await refusesText(() => cache.set('k', bytes, '5s' as never), '"5s"', 5000);
    await refusesText(() => cache.set('k', bytes, 1000, { timeout: '2s' as never }), '"2s"', 2000);
    await assert.rejects(cache.set('k', bytes, { ttl: 5000 } as never), /an object with a ttl/);
    assert.equal(await cache.get('k'), undefined);
  });
});
