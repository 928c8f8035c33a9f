/**
 * An invalidation bus whose Redis is away: both its connections fail on every reconnect attempt,
 * and each failure was logged ("invalidation bus: connection error" ~2 times a second per service
 * in the demo, found from outside with Redis killed). The first is logged, then at most one per
 * 5 s with a `suppressed` count, as the cache's own connection errors are.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { freePort } from '../../harness/process.js';

it('a bus whose Redis is down logs its connection errors once per 5 s, not per attempt', async () => {
  const port = await freePort(); // nothing listens there
  const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn(message, fields) {
      warnings.push({ message, fields });
    },
    error() {},
    child: () => logger,
  };
  const bus = createRedisInvalidationBus({
    redis: { host: '127.0.0.1', port, retryStrategy: () => 50 },
    logger,
  });
  // Subscribing keeps it trying; the rejection (closed below) is expected.
  Promise.resolve(
    bus.subscribe(
      () => {},
      () => {},
    ),
  ).catch(() => {});
  await new Promise((r) => setTimeout(r, 2000));
  await bus.close();
  const errors = warnings.filter((w) => w.message === 'invalidation bus: connection error');
  // ~40 attempts per connection in 2 s at a 50 ms retry: one line, not dozens.
  assert.equal(errors.length, 1, `${errors.length} connection-error lines in 2 s`);
  assert.match(String(errors[0]?.fields?.error), /ECONNREFUSED/);
});
