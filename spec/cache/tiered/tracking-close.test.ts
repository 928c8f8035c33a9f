/**
 * A tiered cache with CLIENT TRACKING closed while the tracker is still setting up (its subscriber
 * connection being opened): nothing of the tracker stays connected to the server. (Before, the
 * subscriber a set-up opened after `close()` stayed connected for good.)
 * Also against a server that accepts connections but never answers (a paused Redis, a hung peer):
 * the subscriber still connecting at `close()` is dropped by the close, not when its connect step
 * times out (before, it stayed connected — and kept the process alive — for up to the tracker's
 * `timeout` after `close()` had resolved; found from outside with a SIGSTOPped redis-server).
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers('tiered cache with CLIENT TRACKING closed during set-up', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.stop());

  const trackingConnections = async () =>
    (String(await redisCommand(redis.port, ['CLIENT', 'LIST'])).match(/name=\S*:tracking/g) ?? []).length;

  it('closed 0–5 ms after creation: no tracking subscriber is left connected', async () => {
    for (const delay of [0, 1, 2, 3, 5]) {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `c${delay}:` });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        tracking: createRedisTracking({ cache: l2 }),
      });
      cache.ready.catch(() => {});
      await new Promise((r) => setTimeout(r, delay));
      await cache.close();
      // A set-up in flight finishes within its step timeout (1 s), then must let go.
      await waitFor(async () => (await trackingConnections()) === 0, {
        timeoutMs: 3000,
        what: `no tracking subscriber left (closed after ${delay} ms)`,
      });
    }
    assert.equal(await trackingConnections(), 0);
  });

  // Found from outside (/tmp/D10/s3.mts): a tracker made over a client already closed (or an L2
  // closed before its tiered cache) retried its set-up for ever, backed off, with its subscriber
  // connected: `ready` never settled and the process did not exit. Now `ready` rejects at once
  // with CacheError `unavailable` saying the client was closed, and the subscriber is let go.
  it('over a client already closed: ready rejects with CacheError unavailable, no subscriber stays', async () => {
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'gone:' });
    await l2.get('k');
    await l2.close();
    const tracking = createRedisTracking({ cache: l2 });
    const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking });
    try {
      const timeout = new Promise<string>((r) =>
        setTimeout(() => r('ready still pending after 10 s'), 10_000).unref(),
      );
      const outcome = await Promise.race([
        cache.ready.then(
          () => 'resolved',
          (e: unknown) => e,
        ),
        timeout,
      ]);
      assert.ok(outcome instanceof CacheError, `expected CacheError, got ${String(outcome)}`);
      assert.equal(outcome.code, 'unavailable');
      assert.match(outcome.message, /^redis tracking failed \(main\): the client was closed/);
      await waitFor(async () => (await trackingConnections()) === 0, {
        timeoutMs: 3000,
        what: 'no tracking subscriber left over a closed client',
      });
    } finally {
      await cache.close();
    }
  });
});

describe('tiered cache with CLIENT TRACKING closed while the server does not answer', () => {
  it('the subscriber still connecting is dropped by close(), not at its connect timeout', async () => {
    // Accepts every connection, never replies: the connect step of the tracker's subscriber
    // (iovalkey's ready check) hangs until the tracker's `timeout`.
    const open = new Set<Socket>();
    let seen = 0;
    const server = createServer((socket) => {
      seen++;
      open.add(socket);
      socket.resume(); // read (and drop) what arrives, so the client's FIN is seen
      socket.on('error', () => {});
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${port}`],
        keyPrefix: 'silent:',
        // The subscriber inherits the L2's options: its ready check is bounded by the command
        // timeout too. Both far beyond this test's waits, so that only close() can end it.
        dialTimeout: 60_000,
        commandTimeout: 60_000,
      });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        // A connect step bound far beyond this test's waits: only close() can end it.
        tracking: createRedisTracking({ cache: l2, timeout: 60_000 }),
      });
      cache.ready.catch(() => {});
      // The L2's data connection and the tracker's subscriber are both connected (and unanswered).
      await waitFor(() => seen >= 2, { timeoutMs: 10_000, what: 'both connections accepted' });
      await cache.close();
      const allClosed = new Promise<void>((resolve) => {
        const check = () => (open.size === 0 ? resolve() : setTimeout(check, 10).unref());
        check();
      });
      await Promise.race([allClosed, new Promise((r) => setTimeout(r, 10_000).unref())]);
      assert.equal(open.size, 0, `${open.size} connection(s) still open after close()`);
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
