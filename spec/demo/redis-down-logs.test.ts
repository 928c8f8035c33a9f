/**
 * Redis stops under the running demo services (a real redis-server, started by the harness, then
 * stopped): the services keep answering, and the log says so without a flood. The invalidation bus
 * used to log 'invalidation bus: connection error' on every reconnect attempt of both of its
 * connections, about two lines a second per service for as long as Redis was down; it is now
 * reported like the cache's own 'redis connection error' (the first, then at most one per 5 s,
 * with the count left out in `suppressed`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { createConsoleLogger } from '../../lib/core/logger.js';
import { describeWithServers, freePort } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';

const BUS_ERROR = 'invalidation bus: connection error';

describeWithServers('demo services with Redis down: bounded connection-error logs', skipRedis(), () => {
  let redis: RedisStandalone;
  let services: RunningServices;
  const lines: { service: string; msg: string; suppressed?: number }[] = [];

  before(async () => {
    redis = await startRedis();
    services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      redisUrl: redis.url,
      tracing: { exporter: 'memory' },
      logger: createConsoleLogger({
        level: 'warn',
        write: (line) => {
          lines.push(JSON.parse(line) as (typeof lines)[number]);
        },
      }),
    });
  });
  after(async () => {
    await services?.close().catch(() => {});
    await redis?.stop();
  });

  it('answers while Redis is down and logs its bus connection errors at most once per 5 s per service', async () => {
    const gw = services.gateway.url;
    assert.equal((await fetch(`${gw}/users/7/orders`, { signal: AbortSignal.timeout(10_000) })).status, 200);
    await redis.stop();
    // Six seconds of outage: iovalkey retries about every second on each of the bus's two
    // connections, which used to give ~12 lines per service; once per 5 s allows at most 2.
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${gw}/users/${1 + i}/orders`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(r.status, 200, 'answers keep coming from L1 and PostgreSQL');
      await r.text();
      await sleep(1000);
    }
    for (const service of ['user-service', 'order-service']) {
      const bus = lines.filter((l) => l.service === service && l.msg === BUS_ERROR);
      assert.ok(bus.length >= 1, `${service}: the outage is reported`);
      assert.ok(bus.length <= 2, `${service}: ${bus.length} '${BUS_ERROR}' lines in 6 s (at most 2)`);
    }
  });

  it('creates orders while Redis is down, reads them back, and logs the failed invalidations at most once per 5 s', async () => {
    const gw = services.gateway.url;
    const created: number[] = [];
    // Redis was stopped by the case above; the L2 breaker is open, so every invalidation fails.
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${gw}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 10, items: [{ sku: `down-${i}`, quantity: 1, unitPriceCents: 100 }] }),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(r.status, 201, 'the order is written though its cache invalidation fails');
      const order = (await r.json()) as { id: number };
      created.push(order.id);
      const list = (await (
        await fetch(`${gw}/users/10/orders`, { signal: AbortSignal.timeout(10_000) })
      ).json()) as { orders: { id: number }[] };
      assert.ok(
        list.orders.some((o) => o.id === order.id),
        `order ${order.id} is read back at once`,
      );
    }
    const failed = lines.filter(
      (l) => l.service === 'order-service' && l.msg === 'cache invalidation failed',
    );
    assert.ok(failed.length >= 1, 'the failed invalidation is reported');
    assert.ok(
      failed.length <= 2,
      `${failed.length} 'cache invalidation failed' lines for 10 orders in a few seconds`,
    );
  });
});

describe('demo services stopped while Redis has never answered', () => {
  it("close without 'invalidation bus not subscribed' (the bus was closed, nothing failed)", async () => {
    const lines: { msg: string }[] = [];
    const services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      tracing: { exporter: 'memory' },
      logger: createConsoleLogger({
        level: 'warn',
        write: (line) => {
          lines.push(JSON.parse(line) as { msg: string });
        },
      }),
    });
    try {
      const r = await fetch(`${services.gateway.url}/users/7`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(r.status, 200);
      await r.text();
    } finally {
      await services.close();
    }
    assert.ok(
      lines.some((l) => l.msg === 'redis connection error'),
      'the outage itself is reported',
    );
    assert.deepEqual(
      lines.filter((l) => l.msg === 'invalidation bus not subscribed'),
      [],
    );
  });
});
