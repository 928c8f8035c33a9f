/**
 * With tracking (default mode), a getOrSet must not join a load that began before a write another
 * client made and had acknowledged before that getOrSet began.
 *
 * Redis tracks a key for a connection only once that connection read it. A flight whose L2 read
 * got no answer (held by the network past `l2Timeout`) calls the loader with the key untracked:
 * an outside write made meanwhile sends this instance no invalidation, so nothing took the flight
 * out of the flight map, and every later caller with an L1 miss joined it for the loader's whole
 * run and returned the loader's value, older than that write ("superseded" in the model test,
 * spec/conformance/model.ts; the same defect as the Redis cache's unanswered-read join). Here the
 * fault proxy holds the flight's GET (client→server) until after the outside write, so the GET,
 * when it lands, reads the new value and tracks the key only from then on: no invalidation comes.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { type FaultProxy, startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const L2_TIMEOUT_MS = 100;
const HELD_MS = 300;
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWithServers('tiered + tracking: no join of a load older than an outside write', skipRedis(), () => {
  let redis: RedisStandalone;
  let proxy: FaultProxy;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await proxy?.close();
    await redis?.stop();
  });

  let n = 0;
  const open = async () => {
    const prefix = `tjoin-${++n}:`;
    const other = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${proxy.port}`],
      keyPrefix: prefix,
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2, mode: 'default' }),
      l2Timeout: L2_TIMEOUT_MS,
      breaker: false,
    });
    closers.push(
      () => cache.close(),
      () => other.close(),
    );
    await cache.ready;
    return { cache, other };
  };

  /** Waits (bounded) until the proxy forwarded every held chunk. */
  const forwarded = async () => {
    for (let i = 0; i < 100 && proxy.held > 0; i++) await sleep(10);
    assert.equal(proxy.held, 0, 'the held commands were not forwarded');
  };

  for (const via of ['getOrSet', 'getOrSetMany'] as const) {
    it(`${via}: a load whose L2 read got no answer is not joined after an outside write`, async () => {
      const { cache, other } = await open();
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let started!: () => void;
      const loaderStarted = new Promise<void>((r) => {
        started = r;
      });
      const oldLoad = async () => {
        started();
        await gate; // the source as it was before the write below
        return Buffer.from('old');
      };
      proxy.delay = HELD_MS;
      const first =
        via === 'getOrSet'
          ? cache.getOrSet('k', oldLoad)
          : cache.getOrSetMany(['k'], async () => [await oldLoad()]).then((vs) => vs[0]!);
      try {
        await loaderStarted; // the GET timed out (l2Timeout) and is still held by the proxy
      } finally {
        proxy.delay = 0;
      }
      // Another client writes the key and is acknowledged; the held GET lands only after it.
      assert.equal(await other.set('k', Buffer.from('new')), true);
      await forwarded();
      await sleep(50); // any invalidation would be here by now (loopback)
      let loads = 0;
      const later = cache.getOrSet('k', async () => {
        loads++;
        return Buffer.from('loaded-later');
      });
      // Let the earlier load finish only now: a caller that joined it gets its value.
      const settled = await Promise.race([later.then(() => true), sleep(300).then(() => false)]);
      release();
      assert.equal(text(await first), 'old'); // its own callers began before the write
      assert.equal(
        text(await later),
        'new',
        `a getOrSet begun after the acknowledged write returned an older load's value (settled before that load: ${settled}, own loads: ${loads})`,
      );
    });
  }
});
