/**
 * The "no tombstones" gap of the README ("Loads"), pinned from both sides on real Redis: instance A
 * loads a key L2 lacks (its loader held open), instance B deletes the key meanwhile, then A's
 * loader returns the value it read before the delete.
 *  - With a bus, B's invalidation fences A's load like a local write once it has arrived: the
 *    loaded value goes to A's caller only, into neither L1 nor L2 (getOrSet and getOrSetMany).
 *  - With tracking alone, Redis reports nothing for a DEL of a key that does not exist, so A never
 *    hears of the delete and its conditional store lands: the documented gap (no tombstones).
 * Checked on the tiered audit's outside model (three instances, bus / tracking / both): the gap is
 * the only older value it found after a delete.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  createRedisTracking,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

describeWithServers('tiered cache: a delete on another instance during a load', skipRedis(), () => {
  let redis: RedisStandalone;
  const open: { close(): Promise<unknown> }[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await redis?.stop();
  });

  let n = 0;
  function pair(mode: 'bus' | 'tracking'): { a: TieredCache; b: TieredCache; raw: RedisCache } {
    const prefix = `dl${++n}:`;
    const make = (name: string) => {
      const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix, name });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 16 }),
        l2,
        ttl: 60_000,
        instanceId: name,
        ...(mode === 'bus'
          ? { bus: createRedisInvalidationBus({ client: l2.client, channel: `${prefix}inv` }) }
          : { tracking: createRedisTracking({ cache: l2 }) }),
      });
      open.push(cache);
      return cache;
    };
    const raw = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix, name: 'raw' });
    open.push(raw);
    return { a: make('A'), b: make('B'), raw };
  }

  /** A loads `keys` (absent in L2) with a held loader; B deletes them; A's loader then returns. */
  async function race(mode: 'bus' | 'tracking', many: boolean) {
    const { a, b, raw } = pair(mode);
    await Promise.all([a.ready, b.ready]);
    const keys = many ? ['k1', 'k2'] : ['k1'];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const loaderStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const loading = many
      ? a.getOrSetMany(keys, async (ks) => {
          started();
          await held;
          return ks.map(() => Buffer.from('old'));
        })
      : a
          .getOrSet('k1', async () => {
            started();
            await held;
            return Buffer.from('old');
          })
          .then((v) => [v]);
    await loaderStarted; // A's L2 read found nothing
    const heard = a.stats().invalidationsReceived;
    await (many ? b.deleteMany(keys) : b.delete('k1'));
    if (mode === 'bus')
      await waitFor(() => a.stats().invalidationsReceived > heard, { what: 'A heard the delete' });
    release();
    assert.deepEqual(
      (await loading).map(text),
      keys.map(() => 'old'),
    ); // the caller still gets its value
    return { a, b, raw, keys };
  }

  for (const many of [false, true]) {
    const op = many ? 'getOrSetMany' : 'getOrSet';
    it(`bus: a delete heard during ${op}'s load keeps the loaded value out of both levels`, async () => {
      const { a, b, raw, keys } = await race('bus', many);
      for (const key of keys) {
        assert.equal(text(await raw.get(key)), undefined, `L2 ${key}`);
        assert.equal(text(await a.get(key)), undefined, `A ${key}`);
        assert.equal(text(await b.get(key)), undefined, `B ${key}`);
      }
    });
  }

  it('tracking alone: Redis reports no DEL of a missing key, so the load outlives the delete (documented gap)', async () => {
    const { b, raw } = await race('tracking', false);
    assert.notEqual(await raw.get('k1'), undefined); // the loaded value's envelope is in L2
    assert.equal(text(await b.get('k1')), 'old'); // and served by the instance that deleted it
  });
});
