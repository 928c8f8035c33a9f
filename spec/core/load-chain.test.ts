/**
 * A loader's self-wait across caches of different kinds (lib/core/load-chain.ts). Each cache kind
 * (memory, Redis, tiered, no-op) kept its own chain of running loads, so a cycle through caches of
 * two kinds was not recognised: a memory cache's loader of `a` calling a tiered cache's
 * `getOrSet('b')`, whose loader called the memory cache's `getOrSet('a')`, joined the load it ran
 * in, and the two waited for each other for good (or until `loadTimeout`). The typed view
 * (`jsonCache`) awaited its own read before calling the byte cache, so a loader calling the view's
 * `getOrSet` of its own key was never recognised, over any cache. Both now reject the inner call
 * with `invalid_key` "… would wait for itself" at once (a call made before the loader's first
 * `await`, as every README says).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import type { Bytes, Cache } from '../../lib/core/contracts.js';
import { CacheError } from '../../lib/core/errors.js';
import { createNoopCache } from '../../lib/core/noop.js';
import { jsonCache } from '../../lib/core/typed.js';
import { describeWithServers } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';

const enc = (s: string): Bytes => new TextEncoder().encode(s);
const dec = (b: Bytes) => new TextDecoder().decode(b);
const selfWait = (e: unknown) =>
  e instanceof CacheError && e.code === 'invalid_key' && /would wait for itself/.test(e.message);
/** The outcome of `p`: its value, its error, or 'still waiting' after 10 s (the old hang). */
function within<T>(p: Promise<T>): Promise<T | unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch((e: unknown) => e),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve('still waiting after 10 s'), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The caches are bounded by `loadTimeout` (where they take one): before the fix the inner call
 * rejected with `timeout` instead of hanging for good (the no-op cache hung: `within` bounds it).
 */
const LOAD_TIMEOUT = 3000;
type Kind = { readonly name: string; readonly make: () => Cache };
const localKinds: Kind[] = [
  { name: 'memory', make: () => createMemoryCache({ maxCost: 1 << 20, loadTimeout: LOAD_TIMEOUT }) },
  {
    name: 'tiered',
    make: () =>
      createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2: createMemoryCache({ maxCost: 1 << 20 }),
        loadTimeout: LOAD_TIMEOUT,
      }),
  },
  { name: 'noop', make: () => createNoopCache() },
];

/**
 * `outer(body)` starts a load whose loader runs `body` first; `body` makes the inner call (before
 * anything is awaited). The inner call must be refused as a self-wait, and the outer load succeed.
 */
async function refusedInside(
  what: string,
  outer: (body: () => Promise<void>) => Promise<unknown>,
  inner: () => Promise<unknown>,
): Promise<void> {
  let got: unknown = 'not called';
  const result = await within(
    outer(async () => {
      got = await inner().catch((e: unknown) => e);
    }),
  );
  assert.ok(selfWait(got), `${what}: the inner call got ${String(got)}`);
  assert.ok(
    result instanceof Uint8Array || result === 'outer',
    `${what}: the outer load got ${String(result)}`,
  );
}

/** A byte loader running `body`, then returning `value`. */
const bytesAfter = (body: () => Promise<void>, value: string) => async () => {
  await body();
  return enc(value);
};

/** The cases for every ordered pair of `kinds`, and the typed view over each kind. */
function crossCases(kinds: () => readonly Kind[], opened: Cache[]): void {
  const make = (k: Kind) => {
    const c = k.make();
    opened.push(c);
    return c;
  };

  it('x loads a, its loader asks y for b, whose loader asks x for a: the inner call is refused', async () => {
    for (const kx of kinds())
      for (const ky of kinds()) {
        if (kx === ky) continue;
        const x = make(kx);
        const y = make(ky);
        await refusedInside(
          `${kx.name} -> ${ky.name} -> ${kx.name}`,
          (body) =>
            x.getOrSet('a', async () => {
              const b = await y.getOrSet('b', bytesAfter(body, 'b'));
              return enc(`a+${dec(b)}`);
            }),
          () => x.getOrSet('a', async () => enc('inner')),
        );
        assert.equal(
          dec(await x.getOrSet('a', async () => enc('again'))),
          kx.name === 'noop' ? 'again' : 'a+b',
        );
      }
  });

  it('another cache asked for the same key from a loader is no self-wait: it loads', async () => {
    for (const kx of kinds())
      for (const ky of kinds()) {
        if (kx === ky) continue;
        const x = make(kx);
        const y = make(ky);
        const what = `${kx.name} -> ${ky.name}`;
        const outer = await within(
          x.getOrSet('k', async () => {
            const other = await y.getOrSet('k', async () => enc('other'));
            return enc(`outer+${dec(other)}`);
          }),
        );
        assert.ok(outer instanceof Uint8Array, `${what}: got ${String(outer)}`);
        assert.equal(dec(outer), 'outer+other', what);
      }
  });

  it('the typed view: its loader asking the view (or the byte cache) for its key, and back', async () => {
    for (const k of kinds()) {
      const raw = make(k);
      const view = jsonCache<string>(raw);
      const viewAfter = (body: () => Promise<void>) => async () => {
        await body();
        return 'outer';
      };
      await refusedInside(
        `${k.name}: view -> view`,
        (body) => view.getOrSet('v', viewAfter(body)),
        () => view.getOrSet('v', async () => 'inner'),
      );
      await refusedInside(
        `${k.name}: view -> cache`,
        (body) => view.getOrSet('w', viewAfter(body)),
        () => raw.getOrSet('w', async () => enc('"inner"')),
      );
      await refusedInside(
        `${k.name}: cache -> view`,
        (body) => raw.getOrSet('c', bytesAfter(body, '"outer"')),
        () => view.getOrSet('c', async () => 'inner'),
      );
      // Through another cache's loader too.
      const other = make(localKinds[0]!);
      await refusedInside(
        `${k.name}: view -> memory -> view`,
        (body) =>
          view.getOrSet('t', async () => {
            await other.getOrSet('u', bytesAfter(body, 'u'));
            return 'outer';
          }),
        () => view.getOrSet('t', async () => 'inner'),
      );
    }
  });
}

describe('a self-wait through caches of different kinds (memory, tiered, no-op)', () => {
  const opened: Cache[] = [];
  after(async () => {
    await Promise.allSettled(opened.map((c) => c.close?.()));
  });
  crossCases(() => localKinds, opened);
});

describeWithServers('a self-wait through caches of different kinds, with Redis', skipRedis(), () => {
  let redis: RedisStandalone;
  let prefixes = 0;
  const opened: Cache[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.allSettled(opened.map((c) => c.close?.()));
    await redis?.stop();
  });
  const redisKind: Kind = {
    name: 'redis',
    make: () =>
      createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        commandTimeout: 2000,
        keyPrefix: `load-chain-${++prefixes}:`,
        loadTimeout: LOAD_TIMEOUT,
      }),
  };
  // Redis with each local kind (both ways), and the typed view over Redis.
  crossCases(() => [redisKind, localKinds[0]!], opened);
  it('redis with the tiered and no-op caches, both ways', async () => {
    for (const other of localKinds.slice(1))
      for (const [kx, ky] of [
        [redisKind, other],
        [other, redisKind],
      ] as const) {
        const x = kx.make();
        const y = ky.make();
        opened.push(x, y);
        await refusedInside(
          `${kx.name} -> ${ky.name} -> ${kx.name}`,
          (body) =>
            x.getOrSet('a', async () => {
              await y.getOrSet('b', bytesAfter(body, 'b'));
              return enc('a');
            }),
          () => x.getOrSet('a', async () => enc('inner')),
        );
      }
  });
});
