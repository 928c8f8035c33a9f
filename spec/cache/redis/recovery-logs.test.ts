/**
 * The invalidation bus and tracking, Redis killed and restarted on the same port (found from
 * outside, a sentinel failover under a tiered cache): the connection errors held back by the 5 s
 * quiet time were written when it ended — after the bus had reconnected and tracking had been
 * confirmed again, so the log read "connection error" with the connection back. They are written
 * at the recovery now, before its line; and the bus's logged outage ends with a line of its own,
 * `invalidation bus: connection restored`, as the cache's does.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { describeWithServers, freePort, waitFor } from '../../harness/process.js';
import { skipRedis } from '../../harness/redis.js';
import { startRedisOnPort } from '../tiered/restart.js';
import { sleep } from './helpers.js';

interface Line {
  level: 'info' | 'warn';
  message: string;
  fields: Record<string, unknown>;
  at: number;
}

function recorder(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger: Logger = {
    debug() {},
    info(message, fields) {
      lines.push({ level: 'info', message, fields: fields ?? {}, at: performance.now() });
    },
    warn(message, fields) {
      lines.push({ level: 'warn', message, fields: fields ?? {}, at: performance.now() });
    },
    error() {},
    child: () => logger,
  };
  return { logger, lines };
}

/** Kills the server, lets the clients fail for a while, restarts it on the same port. */
async function outage(port: number, before: { kill(): Promise<void> }) {
  await before.kill();
  await sleep(1500);
  return startRedisOnPort(port);
}

/** Waits until the 5 s quiet time that began with the first warning has surely ended. */
async function pastQuietTime(lines: Line[], what: string) {
  const first = lines.find((l) => l.level === 'warn');
  assert.ok(first, `no warning from the ${what}`);
  const left = first.at + 6000 - performance.now();
  if (left > 0) await sleep(left);
}

describeWithServers('recovery in the logs of the bus and tracking', skipRedis(), () => {
  it('bus: held-back errors come before "connection restored", none after it', async (t) => {
    const port = await freePort();
    const before = await startRedisOnPort(port);
    t.after(() => before.stop());
    const { logger, lines } = recorder();
    const bus = createRedisInvalidationBus({ redis: { host: '127.0.0.1', port }, logger });
    t.after(() => bus.close());
    await bus.subscribe(
      () => {},
      () => {},
    );
    const after = await outage(port, before);
    t.after(() => after.stop());
    await waitFor(() => lines.some((l) => l.level === 'info'), {
      timeoutMs: 15_000,
      what: 'the restored line',
    });
    await pastQuietTime(lines, 'bus');
    const seen = JSON.stringify(lines);
    const restored = lines.findIndex((l) => l.message === 'invalidation bus: connection restored');
    assert.ok(restored > 0, seen);
    assert.equal(lines[restored]?.fields.server, `127.0.0.1:${port}`, seen);
    assert.equal(lines.filter((l) => l.level === 'info').length, 1, seen);
    assert.ok(
      lines.slice(0, restored).every((l) => l.message === 'invalidation bus: connection error'),
      seen,
    );
    assert.equal(lines.length, restored + 1, `warnings after the connection was restored: ${seen}`);
  });

  it('tracking: held-back errors come before "confirmed", none after it', async (t) => {
    const port = await freePort();
    const before = await startRedisOnPort(port);
    t.after(() => before.stop());
    const { logger, lines } = recorder();
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${port}`] });
    const tracking = createRedisTracking({ cache: l2, logger });
    const tiered = createTieredCache({ l1: createMemoryCache({ maxCost: 100 }), l2, tracking });
    t.after(async () => {
      await tiered.close();
      await tracking.close();
      await l2.close();
    });
    await tiered.ready;
    const confirmations = () => lines.filter((l) => l.message === 'redis tracking: confirmed').length;
    assert.equal(confirmations(), 1);
    const after = await outage(port, before);
    t.after(() => after.stop());
    await waitFor(() => confirmations() === 2, { timeoutMs: 15_000, what: 'tracking confirmed again' });
    await pastQuietTime(lines, 'tracker');
    const seen = JSON.stringify(lines);
    const confirmed = lines.findLastIndex((l) => l.message === 'redis tracking: confirmed');
    assert.ok(
      lines.some((l) => l.message === 'redis tracking: connection error'),
      `the outage was logged: ${seen}`,
    );
    const late = lines.slice(confirmed + 1).filter((l) => l.message === 'redis tracking: connection error');
    assert.deepEqual(late, [], `connection errors written after tracking was confirmed again: ${seen}`);
  });
});
