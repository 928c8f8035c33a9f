/**
 * `jsonCache(cache, { schema })` with the default `onInvalid: 'miss'`: a `getOrSet` whose loader
 * gives a value the schema refuses rejects with `decode_failed` saying why — each issue's path and
 * what was expected, the issues on `err.issues`, a schema's own throw as `cause` — as the README
 * documents for every `decode_failed` and as `onInvalid: 'throw'` always did. It said only
 * `value loaded for "k" failed validation`: nothing to debug a loader with.
 *
 * Callers that arrive while the loader runs (as traffic does during a slow load) share that load's
 * outcome without a reload, as those that called before it started do: each reloaded once more, so
 * 11 callers, 10 of them arriving during the load, ran a loader whose value fails twice. Such a
 * caller that reads a value someone else stored meanwhile (another instance or view, a rolling
 * deploy's older shape) still reloads it: it was rejected `decode_failed` "value loaded", the loader
 * never asked.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import * as v from 'valibot';
import { createMemoryCache, type MemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import type { Cache } from '../../../lib/core/contracts.js';
import { CacheError } from '../../../lib/core/errors.js';
import { jsonCache, type StandardSchema } from '../../../lib/core/typed.js';
import { deferred, within } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const PREFIX = 'jlf:';
const User = v.object({ id: v.number(), name: v.string() });
type User = v.InferOutput<typeof User>;

describeWithServers('jsonCache: a loaded value that fails the schema', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  let tiered: TieredCache;
  let memory: MemoryCache;
  before(async () => {
    memory = createMemoryCache({ maxCost: 1 << 20 });
    redis = await startRedis();
    cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: PREFIX });
    tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: `${PREFIX}t:` }),
    });
  });
  after(async () => {
    await cache?.close().catch(() => {});
    await tiered?.close().catch(() => {});
    await memory?.close().catch(() => {});
    await redis?.stop();
  });

  it('rejects decode_failed naming the paths, with err.issues, never the value; nothing stays cached', async () => {
    const users = jsonCache(cache, { schema: User });
    let loads = 0;
    const err = await users
      .getOrSet('u:1', () => {
        loads++;
        return { id: 'tok-SECRET', name: 7 } as unknown as User;
      })
      .then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, 'decode_failed');
    assert.equal(
      err.message,
      'value loaded for "u:1" failed validation: issues at id (expected number), name (expected string) (see err.issues)',
    );
    const issues = (err as CacheError & { issues?: readonly { path?: unknown }[] }).issues;
    assert.equal(issues?.length, 2);
    assert.doesNotMatch(err.message, /SECRET/);
    assert.equal(loads, 1);
    // Deleted as `miss` deletes every value that fails: the next call loads again.
    assert.equal(await redisCommand(redis.port, ['EXISTS', `${PREFIX}u:1`]), 0);
  });

  it('a schema that throws on the loaded value: its error is the cause', async () => {
    const boom = new TypeError('transform failed');
    const throwing: StandardSchema<number> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => {
          throw boom;
        },
      },
    };
    const view = jsonCache(cache, { schema: throwing });
    const err = await view
      .getOrSet('n:1', () => 1)
      .then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, 'decode_failed');
    assert.equal(
      err.message,
      'value loaded for "n:1" failed validation: the schema threw (TypeError; see err.cause)',
    );
    assert.equal(err.cause, boom);
  });

  it('a stored value that fails, then a reload that fails too: the reload is what is reported', async () => {
    const users = jsonCache(cache, { schema: User });
    await cache.set('u:2', new TextEncoder().encode('{"id":"x","name":"a"}'));
    const err = await users
      .getOrSet('u:2', () => ({ id: 2, name: 2 }) as unknown as User)
      .then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, 'decode_failed');
    assert.equal(
      err.message,
      'value loaded for "u:2" failed validation: issue at name (expected string) (see err.issues)',
    );
  });

  for (const [name, bytes] of [
    ['Redis', () => cache],
    ['tiered (memory over Redis)', () => tiered],
    ['memory', () => memory],
  ] as const)
    it(`${name}: callers arriving while the loader runs share its one run, and a stored value that fails is still reloaded`, async () => {
      const users = jsonCache<User>(bytes() as Cache, { schema: User });
      let loads = 0;
      const running = deferred();
      const gate = deferred();
      const loader = async () => {
        loads++;
        running.resolve();
        await gate.promise;
        return { id: 'no' } as unknown as User;
      };
      const first = users.getOrSet('late', loader);
      // The loader has started: the callers below arrive during the load, as traffic does.
      await within(running.promise, 10_000, 'the loader to start');
      const late = Array.from({ length: 10 }, () => users.getOrSet('late', loader));
      gate.resolve();
      const settled = await Promise.allSettled([first, ...late]);
      for (const r of settled)
        assert.ok(
          r.status === 'rejected' && r.reason instanceof CacheError && r.reason.code === 'decode_failed',
          String(r.status === 'rejected' ? r.reason : r.value),
        );
      // Each late caller reloaded once more (their reloads shared a second run).
      assert.equal(loads, 1);

      // Nothing is left marked as loading: a stored value that fails is reloaded as before.
      await users.delete('late');
      await bytes().set('late', new TextEncoder().encode('{"id":"x","name":"a"}'));
      assert.deepEqual(await users.getOrSet('late', () => ({ id: 3, name: 'Lin' })), { id: 3, name: 'Lin' });
    });

  for (const [name, bytes, writeForeign] of [
    ['Redis', (): Cache => cache, () => redisCommand(redis.port, ['SET', `${PREFIX}foreign`, OLD_SHAPE])],
    [
      'memory',
      (): Cache => memory,
      // Another view of the same cache (the older shape's) writes the key.
      () => memory.set('foreign', new TextEncoder().encode(OLD_SHAPE)),
    ],
  ] as const)
    it(`${name}: a caller arriving during a load that reads a value stored meanwhile in another shape reloads it`, async () => {
      const users = jsonCache<User>(bytes(), { schema: User });
      let loads = 0;
      const running = deferred();
      const gate = deferred();
      const loader = async () => {
        loads++;
        running.resolve();
        await gate.promise;
        return { id: 1, name: 'fresh' };
      };
      const first = users.getOrSet('foreign', loader);
      await within(running.promise, 10_000, 'the loader to start');
      await writeForeign();
      // Reads the other shape (a hit) while the load runs: a stored value, not the loader's.
      const late = users.getOrSet('foreign', loader);
      gate.resolve();
      assert.deepEqual(await first, { id: 1, name: 'fresh' });
      assert.deepEqual(await late, { id: 1, name: 'fresh' });
      assert.ok(loads >= 1 && loads <= 2, `loads: ${loads}`);
    });
});

const OLD_SHAPE = '{"id":"u-1"}';
