/**
 * Found by the tracking model under network faults (tracking-model.test.ts): a tiered write whose
 * L2 was reconnecting waited at the Redis cache's connection gate; the tiered caller was told
 * `timeout` after `l2Timeout`, but the write's deadline was counted from when it was finally sent,
 * so it could land after a newer acknowledged write. The budget now runs from the call.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('a tiered write that waited for a reconnecting L2', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  it('never lands after a newer acknowledged write once its caller was told timeout', async () => {
    const direct = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'law:' });
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: 'law:',
      commandTimeout: 2000,
    });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      l2Timeout: 100,
      breaker: false,
    });
    closers.push(
      () => tiered.close(),
      () => direct.close(),
    );
    // The first write also waits for the connection and the clock measurement: on a loaded
    // machine that can take longer than the 100 ms budget, so it is retried (bounded).
    await tiered.ready;
    await waitFor(() => tiered.set('k', Buffer.from('first')).catch(() => false), {
      timeoutMs: 5000,
      what: 'the first write',
    });
    // The reconnect's own commands are lost while dropping: L2 stays not ready.
    proxy.dropping = true;
    proxy.cut();
    await waitFor(() => l2.client.status !== 'ready', { what: 'L2 to lose its connection' });
    await assert.rejects(
      tiered.set('k', Buffer.from('late')),
      (e: { code?: string }) => e.code === 'timeout',
    );
    assert.equal(await direct.set('k', Buffer.from('newer')), true);
    await new Promise((r) => setTimeout(r, 300));
    proxy.dropping = false; // cuts the lossy connections: L2 reconnects, the waiting write is sent
    await waitFor(() => l2.client.status === 'ready', { timeoutMs: 5000, what: 'L2 back' });
    await new Promise((r) => setTimeout(r, 300));
    const raw = await direct.get('k');
    assert.equal(Buffer.from(raw ?? []).toString(), 'newer', 'the timed-out write landed over a newer one');
  });
});
