/**
 * Tracking over a cluster whose nodes need no password, given one. Found from outside
 * (/tmp/D14/ctrack.mts): the cache said "a password was given but the server requires none" once
 * through its logger, but each tracking subscriber (one per node, made with `new Redis`, not as a
 * duplicate of the cache's wrapped node connections) printed iovalkey's "[WARN] This Redis
 * server's `default` user does not require a password …" with `console.warn` — 6 lines on a
 * 3-master cluster, again at each re-set-up — past the logger. Now they are told like the node's
 * own connections: nothing printed, the one record of the cache.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { waitFor } from '../../harness/process.js';
import { type RedisCluster, skipRedis, startRedisCluster } from '../../harness/redis.js';

const PASSWORD = 'tracking-cluster-unneeded-password';

describe('tracking subscribers of a cluster whose nodes need no password', { skip: skipRedis() }, () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster({});
  });
  after(async () => {
    await cluster?.stop();
  });

  it('print nothing to the console; the cache says it once through its logger', async () => {
    const warned: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warned.push(m), error() {} };
    const printed: unknown[][] = [];
    const consoleWarn = console.warn;
    console.warn = (...args: unknown[]) => {
      printed.push(args);
    };
    try {
      const l2 = createRedisCache({
        mode: 'cluster',
        addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        keyPrefix: 'tcp:',
        password: PASSWORD,
        logger,
      });
      const tracking = createRedisTracking({ cache: l2, logger });
      const cache = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 16 }), l2, tracking, logger });
      try {
        await cache.ready;
        // Keys of every master's slots: each master's tracking link is set up.
        for (let i = 0; i < 30; i++) {
          await cache.set(`k${i}`, Buffer.from('v'));
          await cache.get(`k${i}`);
        }
        await waitFor(() => tracking.stats().links >= cluster.masters.length, {
          timeoutMs: 10_000,
          what: 'a tracking link per master',
        });
      } finally {
        await cache.close();
      }
    } finally {
      console.warn = consoleWarn;
    }
    assert.deepEqual(printed, [], 'printed to the console');
    const open = warned.filter((m) => /a password was given but the server requires none/.test(m));
    assert.equal(open.length, 1, JSON.stringify(warned));
  });
});
