/**
 * Server-assisted tracking whose Redis is away (found from outside, Redis stopped under a tiered
 * cache with tracking): every set-up retry opens a subscriber, and each one's connection error
 * was logged — ~1.5 lines a second per node (9 in 6 s on one standalone server, six times that on
 * a 6-node cluster) for the whole outage. They are now reported as the cache's and the bus's are:
 * the first, then at most one per 5 s with a `suppressed` count.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { freePort } from '../../harness/process.js';
import { sleep } from './helpers.js';

it('tracking whose Redis is down logs its connection errors once per 5 s, not per set-up attempt', async () => {
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
  const l2 = createRedisCache({ addresses: [`127.0.0.1:${port}`] });
  const tracking = createRedisTracking({ cache: l2, logger });
  const tiered = createTieredCache({ l1: createMemoryCache({ maxCost: 100 }), l2, tracking });
  tiered.ready.catch(() => {}); // rejected with 'closed' below
  // Set-up retries back off 100 ms → 1 s: about 5 attempts in 3 s.
  await sleep(3000);
  await tiered.close();
  await tracking.close();
  await l2.close();
  const errors = warnings.filter((w) => w.message === 'redis tracking: connection error');
  assert.equal(errors.length, 1, `${errors.length} connection-error lines in 3 s`);
  assert.match(String(errors[0]?.fields?.error), /ECONNREFUSED/);
});
