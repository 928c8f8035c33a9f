/**
 * A value loaded over a *stale* L2 entry (kept for `grace`) must not overwrite a value another
 * instance wrote while the loader ran. Before, the store of such a load was unconditional (only a
 * load over an absent key used `ifAbsent`): the write was lost and the loaded, older value served
 * for its whole TTL. Now the store is a compare-and-set (`ifEquals` the stale bytes L2 held), on
 * the Redis cache a condition inside its SET script, on the memory cache a comparison.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
const b = (s: string) => Buffer.from(s);
/** The property's `l2Timeout` (see `instance`): the Redis cache's default command timeout. */
const PATIENT = 3_000;
const invalid = (e: unknown) => e instanceof CacheError && e.code === 'invalid_value';

async function compareAndSet(cache: Cache): Promise<void> {
  await cache.set('cas', b('one'));
  assert.equal(await cache.set('cas', b('two'), undefined, { ifEquals: b('other') }), false);
  assert.equal(text(await cache.get('cas')), 'one');
  assert.equal(await cache.set('cas', b('two'), undefined, { ifEquals: new Uint8Array(b('one')) }), true);
  assert.equal(text(await cache.get('cas')), 'two');
  assert.equal(await cache.set('absent', b('x'), undefined, { ifEquals: b('two') }), false);
  assert.equal(await cache.get('absent'), undefined);
  await assert.rejects(cache.set('cas', b('x'), undefined, { ifEquals: b('two'), ifAbsent: true }), invalid);
  await assert.rejects(cache.set('cas', b('x'), undefined, { ifEquals: 'two' as never }), invalid);
}

it('memory cache: set with ifEquals stores only over exactly those bytes', async () => {
  await compareAndSet(createMemoryCache({ maxCost: 1 << 16 }));
});

it('tiered cache: set with ifEquals is refused (its levels hold envelopes)', async () => {
  const cache = createTieredCache({
    l1: createMemoryCache({ maxCost: 1 << 16 }),
    l2: createMemoryCache({ maxCost: 1 << 16 }),
  });
  await assert.rejects(cache.set('k', b('x'), undefined, { ifEquals: b('y') }), invalid);
});

describeWithServers('a load over a stale L2 value vs a write elsewhere', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await redis?.stop();
  });
  const l2 = (prefix: string) => {
    const c = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: prefix });
    closers.push(() => c.close());
    return c;
  };
  // `l2Timeout`: the property below checks which value wins, not how fast L2 answers, so its
  // instances give L2 `PATIENT` ms. With the default 500 ms a loaded machine (another test file
  // running, CI neighbours) made its writer's `set` reject with `timeout` ("reached Redis after its
  // deadline and was not applied", twice) and once its fresh reader see no value: an L2 slower than
  // `l2Timeout` fails a write and turns a read into a miss (tiered README "Time bounds"), a
  // documented outcome, not a lost write. Seed 1185825246 failed at run 173, 242 or 82 from one
  // replay to the next; 1,200 later runs of the unchanged file passed.
  const instance = (l2Timeout?: number) => {
    const c = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2: l2('st:'),
      grace: 60_000,
      ...(l2Timeout === undefined ? {} : { l2Timeout }),
    });
    closers.push(() => c.close());
    return c;
  };

  it('Redis cache: set with ifEquals stores only over exactly those bytes (checked by the server)', async () => {
    await compareAndSet(l2('cas:'));
  });

  for (const many of [false, true]) {
    it(`tiered ${many ? 'getOrSetMany' : 'getOrSet'} over a stale L2 value: a value another instance wrote during the load wins`, async () => {
      const key = many ? 'm' : 's';
      const a = instance();
      const other = instance();
      await other.set(key, b('v0'), 30);
      await new Promise((r) => setTimeout(r, 60)); // v0 is past its TTL, inside grace: stale in L2
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const loaded = b('loaded-before-the-write');
      const loading = many
        ? a.getOrSetMany(
            [key],
            async () => {
              await gate;
              return [loaded];
            },
            60_000,
          )
        : a.getOrSet(
            key,
            async () => {
              await gate;
              return loaded;
            },
            60_000,
          );
      // Wait until a's load has read L2 (it saw the stale v0) and its loader runs.
      for (let i = 0; i < 200 && a.stats().loaderCalls === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(a.stats().loaderCalls, 1);
      await other.set(key, b('written-during-the-load'), 60_000);
      release();
      const got = await loading;
      assert.equal(text(many ? (got as Uint8Array[])[0] : (got as Uint8Array)), 'loaded-before-the-write');
      const fresh = instance();
      assert.equal(text(await fresh.get(key)), 'written-during-the-load', 'L2 kept the newer write');
      assert.equal(text(await a.get(key)), 'written-during-the-load', "the loader's L1 copy was dropped");
    });
  }

  it('tiered getOrSet over a stale L2 value nobody rewrote: the loaded value replaces it', async () => {
    const a = instance();
    await a.set('r', b('v0'), 30);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(text(await a.getOrSet('r', async () => b('v1'), 60_000)), 'v1');
    const fresh = instance();
    assert.equal(text(await fresh.get('r')), 'v1');
  });

  it('property: loads over a stale entry racing writes on another instance never leave a loaded value over the last write', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ start: fc.nat({ max: 20 }), loaderMs: fc.nat({ max: 25 }) }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 2 }),
        fc.boolean(),
        async (loads, writeGaps, many) => {
          const key = `p${++round}`;
          const a = instance(PATIENT);
          const w = instance(PATIENT);
          await w.set(key, b('seed'), 10);
          await new Promise((r) => setTimeout(r, 25)); // the seed is stale (inside grace)
          const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
          const loading = loads.map(async ({ start, loaderMs }, i) => {
            await sleep(start);
            const loader = async () => {
              await sleep(loaderMs);
              return b(`loaded${i}`);
            };
            if (many) await a.getOrSetMany([key], async () => [await loader()], 60_000);
            else await a.getOrSet(key, loader, 60_000);
          });
          let last = '';
          const writing = (async () => {
            for (let i = 0; i < writeGaps.length; i++) {
              await sleep(writeGaps[i]!);
              last = `written${i}`;
              await w.set(key, b(last), 60_000);
            }
          })();
          await Promise.all([...loading, writing]);
          const fresh = instance(PATIENT);
          assert.equal(text(await fresh.get(key)), last);
          await Promise.all([a.close(), w.close(), fresh.close()]);
        },
      ),
      {
        numRuns: Number(process.env.HYPERION_MODEL_RUNS ?? 25),
        seed: Number(process.env.HYPERION_MODEL_SEED ?? Date.now() % 2 ** 31),
      },
    );
  });
});
