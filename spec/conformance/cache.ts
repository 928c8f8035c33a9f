/**
 * The `Cache` contract (lib/core/contracts.ts) as one suite, run against every implementation from a
 * small `*.conformance.test.ts` beside its own tests. What an implementation legitimately does
 * differently is declared by its factory as a capability, never by testing its name:
 *
 *   stores    false for a cache that keeps nothing (the no-op cache): reads miss, `set` resolves
 *             false, `getOrSet` calls the loader every time.
 *   closable  false for a cache without `close()` (optional in the contract).
 *   gaps      known contract violations, each with the reason: their tests still run, as node:test
 *             `todo` (counted under `todo`, not failing the run) until the cache is fixed.
 *   modelRuns sequences of the model-based test (./model.ts: concurrent callers, loader delays and
 *             failures, checked against a model of which values a read may return). Default 200;
 *             `HYPERION_MODEL_RUNS` overrides it (`npm run check:model`).
 *
 * TTLs: a factory with an injected clock returns `advance(ms)`; without it (a server's clock) the
 * suite waits for the expiry itself, polling with a deadline. No test sleeps a fixed time.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import type { Bytes, Cache } from '../../lib/core/contracts.js';
import { CacheError, type CacheErrorCode } from '../../lib/core/errors.js';
import { MAX_KEY_BYTES } from '../../lib/core/validate.js';
import { deferred, tick } from '../harness/clock.js';
import { waitFor } from '../harness/process.js';
import { runModel } from './model.js';

export interface CacheCapabilities {
  /** False when the cache never keeps a value. */
  readonly stores: boolean;
  /** False when the cache has no `close()`. */
  readonly closable: boolean;
  /** Known violations: which input checks are missing, and where; `model`: the model test fails. */
  readonly gaps?: { readonly ttl?: string; readonly value?: string; readonly model?: string };
  /** Sequences of the model-based test (./model.ts) in a normal run. Default 200. */
  readonly modelRuns?: number;
}

export interface CacheUnderTest {
  readonly cache: Cache;
  /** Moves the clock the cache's TTLs run on; absent when they run on real time. */
  readonly advance?: (ms: number) => void;
}

/** Builds a fresh, empty cache for one test. */
export type CacheFactory = () => CacheUnderTest | Promise<CacheUnderTest>;

const enc = (s: string): Bytes => new TextEncoder().encode(s);
const dec = (b: Bytes | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Every byte value 0..255 as a plain Uint8Array (not a Buffer). */
function allBytes(): Uint8Array {
  const out = new Uint8Array(256);
  for (let i = 0; i < out.length; i++) out[i] = i;
  return out;
}

/** Asserts `call()` returns a promise that rejects with a CacheError of `code` (not a synchronous throw). */
async function rejectsWith(call: () => Promise<unknown>, code: CacheErrorCode, what: string): Promise<void> {
  let pending: Promise<unknown>;
  try {
    pending = call();
  } catch (err) {
    assert.fail(`${what} threw synchronously instead of rejecting: ${String(err)}`);
  }
  await assert.rejects(
    pending,
    (err: unknown) => {
      assert.ok(err instanceof CacheError, `${what}: expected a CacheError, got ${String(err)}`);
      assert.equal(err.code, code, `${what}: ${err.message}`);
      return true;
    },
    what,
  );
}

const BAD_KEYS: readonly [string, unknown][] = [
  ['an empty key', ''],
  ['a key over MAX_KEY_BYTES', 'k'.repeat(MAX_KEY_BYTES + 1)],
  ['a number', 42],
  ['undefined', undefined],
  // No string form at all (`String()` of it throws): the Redis cache's setMany threw that TypeError
  // synchronously instead of rejecting with invalid_key.
  ['an object without a prototype', Object.create(null)],
  // Not well-formed UTF-16: both would encode to the same UTF-8 bytes (issue 13 item 3).
  ['a lone high surrogate', 's\uD800'],
  ['a lone low surrogate', '\uDC00s'],
];
const BAD_TTLS: readonly unknown[] = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5'];
const BAD_VALUES: readonly [string, unknown][] = [
  ['a string', 'text'],
  ['null', null],
  ['an array of numbers', [1, 2]],
];

export function cacheConformance(name: string, caps: CacheCapabilities, factory: CacheFactory): void {
  describe(`Cache contract: ${name}`, () => {
    const open: Cache[] = [];
    const make = async () => {
      const under = await factory();
      open.push(under.cache);
      return under;
    };
    after(async () => {
      await Promise.allSettled(open.map((c) => c.close?.()));
    });
    const storing = { skip: caps.stores ? false : 'the cache stores nothing' };
    const closing = { skip: caps.closable ? false : 'the cache has no close()' };
    const gap = (reason: string | undefined) => ({ todo: reason ?? false });

    /** Lets `ms` pass for the cache's TTLs, then waits until `key` has expired. */
    async function expire(under: CacheUnderTest, ms: number, key: string): Promise<void> {
      under.advance?.(ms);
      await waitFor(async () => (await under.cache.has(key)) === false, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: `${key} to expire after ${ms} ms`,
      });
    }

    it('misses an absent key with undefined', async () => {
      const { cache } = await make();
      assert.equal(await cache.get('absent'), undefined);
      assert.equal(await cache.has('absent'), false);
    });

    it('gets what was set (set resolves true), has it, and the last write wins', async () => {
      const { cache } = await make();
      assert.equal(await cache.set('k', enc('v1')), caps.stores);
      assert.equal(await cache.set('k', enc('v2')), caps.stores);
      assert.equal(dec(await cache.get('k')), caps.stores ? 'v2' : undefined);
      assert.equal(await cache.has('k'), caps.stores);
    });

    it('round-trips any bytes: every byte value, empty, and a Buffer view with an offset', async () => {
      const { cache } = await make();
      const view = Buffer.from('..payload..').subarray(2, 9);
      const values: [string, Uint8Array][] = [
        ['all', allBytes()],
        ['empty', new Uint8Array(0)],
        ['view', view],
      ];
      for (const [key, value] of values) await cache.set(key, value);
      for (const [key, value] of values) {
        const got = await cache.get(key);
        if (!caps.stores) {
          assert.equal(got, undefined);
          continue;
        }
        assert.ok(got instanceof Uint8Array, `${key}: a Uint8Array comes back`);
        assert.deepEqual([...got], [...value], key);
      }
    });

    it('takes a Uint8Array made in another realm (node:vm) as bytes, as set, setMany and a loader give it', async () => {
      // Every cache refused one ("must be a Uint8Array or Buffer, received object"): the check was
      // `instanceof Uint8Array`, false for another realm's (a vm context, a jsdom test environment).
      const { cache } = await make();
      const foreign = () => runInNewContext('new Uint8Array([1, 2, 255])') as Uint8Array;
      assert.equal(foreign() instanceof Uint8Array, false, 'the array comes from another realm');
      await cache.set('realm-set', foreign());
      await cache.setMany([{ key: 'realm-many', value: foreign() }]);
      const loaded = await cache.getOrSet('realm-load', async () => foreign());
      assert.deepEqual([...loaded], [1, 2, 255]);
      for (const key of ['realm-set', 'realm-many', 'realm-load']) {
        const got = await cache.get(key);
        if (caps.stores) assert.deepEqual(got && [...got], [1, 2, 255], key);
        else assert.equal(got, undefined, key);
      }
    });

    it('delete resolves true when it removed a value, false otherwise, and the key then misses', async () => {
      const { cache } = await make();
      await cache.set('k', enc('v'));
      assert.equal(await cache.delete('k'), caps.stores);
      assert.equal(await cache.delete('k'), false);
      assert.equal(await cache.delete('never-set'), false);
      assert.equal(await cache.get('k'), undefined);
      assert.equal(await cache.has('k'), false);
    });

    it('getMany answers in the order of the keys, misses as undefined; [] for no keys', async () => {
      const { cache } = await make();
      await cache.set('a', enc('1'));
      await cache.set('c', enc('3'));
      const got = await cache.getMany(['c', 'missing', 'a', 'c']);
      assert.deepEqual(
        got.map(dec),
        caps.stores ? ['3', undefined, '1', '3'] : [undefined, undefined, undefined, undefined],
      );
      assert.deepEqual(await cache.getMany([]), []);
    });

    it('setMany stores every entry; [] is a no-op', async () => {
      const { cache } = await make();
      await cache.setMany([
        { key: 'a', value: enc('1') },
        { key: 'b', value: enc('2'), ttl: 60_000 },
      ]);
      await cache.setMany([]);
      assert.deepEqual(
        (await cache.getMany(['a', 'b'])).map(dec),
        caps.stores ? ['1', '2'] : [undefined, undefined],
      );
    });

    // From JavaScript, a misspelt ttl (`tll`) stored the entry without expiry as a success.
    it('setMany refuses an entry with an unknown field and no ttl, whole (invalid_value naming it)', async () => {
      const { cache } = await make();
      await assert.rejects(
        cache.setMany([
          { key: 'fields-a', value: enc('1'), ttl: 60_000 },
          { key: 'fields-b', value: enc('2'), tll: 1000 } as never,
        ]),
        (e: unknown) =>
          e instanceof CacheError &&
          e.code === 'invalid_value' &&
          /field `tll` of the entry of "fields-b" .*did you mean `ttl`\?/.test(e.message),
      );
      assert.equal(await cache.get('fields-a'), undefined, 'refused whole');
    });

    it('expires an entry after its ttl, and only that entry', storing, async () => {
      const under = await make();
      const { cache } = under;
      await cache.set('short', enc('s'), 50);
      await cache.set('long', enc('l'), 3_600_000);
      await cache.set('forever', enc('f'));
      assert.equal(dec(await cache.get('long')), 'l');
      await expire(under, 51, 'short');
      assert.equal(await cache.get('short'), undefined);
      assert.equal(dec(await cache.get('long')), 'l');
      assert.equal(dec(await cache.get('forever')), 'f');
    });

    it('setMany gives each entry its own ttl', storing, async () => {
      const under = await make();
      await under.cache.setMany([
        { key: 'short', value: enc('s'), ttl: 50 },
        { key: 'long', value: enc('l'), ttl: 3_600_000 },
      ]);
      await expire(under, 51, 'short');
      assert.equal(dec(await under.cache.get('long')), 'l');
    });

    it('getOrSet keeps the loaded value for its ttl, then loads again', storing, async () => {
      const under = await make();
      let calls = 0;
      const loader = async () => enc(`v${++calls}`);
      assert.equal(dec(await under.cache.getOrSet('k', loader, 50)), 'v1');
      assert.equal(dec(await under.cache.getOrSet('k', loader, 50)), 'v1');
      await expire(under, 51, 'k');
      assert.equal(dec(await under.cache.getOrSet('k', loader, 50)), 'v2');
      assert.equal(calls, 2);
    });

    it('getOrSet calls the loader once for concurrent callers (singleflight)', async () => {
      const { cache } = await make();
      const called = deferred();
      const release = deferred();
      let calls = 0;
      const loader = async () => {
        calls++;
        called.resolve();
        await release.promise;
        return enc('loaded');
      };
      const callers = Array.from({ length: 20 }, () => cache.getOrSet('k', loader, 60_000));
      await called.promise;
      // A read of the same key queues behind the callers' own reads (one connection per node), so
      // once it answered every caller has missed and joined the flight.
      await cache.has('k');
      await tick();
      release.resolve();
      const values = await Promise.all(callers);
      assert.equal(calls, 1);
      assert.deepEqual(new Set(values.map(dec)), new Set(['loaded']));
    });

    it('getOrSet serves a stored value without calling the loader; a cache that stores nothing loads again', async () => {
      const { cache } = await make();
      let calls = 0;
      const loader = async () => enc(`v${++calls}`);
      assert.equal(dec(await cache.getOrSet('k', loader)), 'v1');
      assert.equal(dec(await cache.getOrSet('k', loader)), caps.stores ? 'v1' : 'v2');
      assert.equal(dec(await cache.get('k')), caps.stores ? 'v1' : undefined);
    });

    it('getOrSet delivers one loader error to every waiting caller and caches nothing', async () => {
      const { cache } = await make();
      const boom = new Error('loader down');
      const called = deferred();
      const release = deferred();
      let calls = 0;
      const failing = async (): Promise<Bytes> => {
        calls++;
        called.resolve();
        await release.promise;
        throw boom;
      };
      const callers = Array.from({ length: 20 }, () => cache.getOrSet('k', failing));
      await called.promise;
      await cache.has('k');
      await tick();
      release.resolve();
      const settled = await Promise.allSettled(callers);
      assert.equal(calls, 1);
      for (const s of settled) {
        assert.equal(s.status, 'rejected');
        assert.equal((s as PromiseRejectedResult).reason, boom);
      }
      assert.equal(await cache.has('k'), false, 'the error is not cached');
      assert.equal(
        dec(await cache.getOrSet('k', async () => enc('ok'))),
        'ok',
        'the next caller loads again',
      );
    });

    it('getOrSet of its own key from inside its loader rejects with invalid_key at once (it would wait for itself)', async () => {
      const { cache } = await make();
      const selfWait = (e: unknown) =>
        e instanceof CacheError && e.code === 'invalid_key' && /would wait for itself/.test(e.message);
      let inner: unknown;
      let innerThrew: unknown;
      // Bounded: before, the inner call joined the load it ran in, and neither ever settled.
      const outer = cache.getOrSet('k', async () => {
        let pending: Promise<unknown>;
        try {
          pending = cache.getOrSet('k', async () => enc('inner'));
        } catch (err) {
          innerThrew = err;
          throw err;
        }
        inner = await pending.catch((e: unknown) => e);
        return enc('outer');
      });
      let timer: NodeJS.Timeout | undefined;
      const value = await Promise.race([
        outer,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('still waiting for itself after 10 s')), 10_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.equal(innerThrew, undefined, 'the inner getOrSet rejects, it does not throw');
      assert.ok(selfWait(inner), `expected invalid_key "would wait for itself", got ${String(inner)}`);
      assert.equal(dec(value), 'outer');
      assert.equal(dec(await cache.get('k')), caps.stores ? 'outer' : undefined);
    });

    it('rejects a bad key with invalid_key on every operation', async () => {
      const { cache } = await make();
      for (const [label, key] of BAD_KEYS) {
        const k = key as string;
        await rejectsWith(() => cache.get(k), 'invalid_key', `get(${label})`);
        await rejectsWith(() => cache.set(k, enc('v')), 'invalid_key', `set(${label})`);
        await rejectsWith(() => cache.delete(k), 'invalid_key', `delete(${label})`);
        await rejectsWith(() => cache.has(k), 'invalid_key', `has(${label})`);
        await rejectsWith(() => cache.getMany(['ok', k]), 'invalid_key', `getMany(${label})`);
        await rejectsWith(
          () => cache.setMany([{ key: k, value: enc('v') }]),
          'invalid_key',
          `setMany(${label})`,
        );
        await rejectsWith(() => cache.getOrSet(k, async () => enc('v')), 'invalid_key', `getOrSet(${label})`);
        await rejectsWith(() => cache.deleteMany(['ok', k]), 'invalid_key', `deleteMany(${label})`);
      }
    });

    it('deleteMany removes the given keys, counts those that held a value; [] is a no-op', async () => {
      const { cache } = await make();
      await cache.setMany([
        { key: 'a', value: enc('1') },
        { key: 'b', value: enc('2') },
        { key: 'c', value: enc('3') },
      ]);
      assert.equal(await cache.deleteMany(['a', 'b', 'missing', 'a']), caps.stores ? 2 : 0);
      assert.deepEqual((await cache.getMany(['a', 'b', 'c'])).map(dec), [
        undefined,
        undefined,
        caps.stores ? '3' : undefined,
      ]);
      assert.equal(await cache.deleteMany([]), 0);
      await rejectsWith(
        () => cache.deleteMany('a' as unknown as string[]),
        'invalid_key',
        'deleteMany(a string)',
      );
    });

    it(
      'model: concurrent callers never read a superseded value, stats add up (issue 13)',
      gap(caps.gaps?.model),
      async () => {
        await runModel(
          name,
          async () => {
            const under = await factory();
            return { caches: [under.cache], close: async () => void (await under.cache.close?.()) };
          },
          { runs: caps.modelRuns ?? 200, stores: caps.stores },
        );
      },
    );

    it(
      'rejects a ttl that is not a positive finite number with invalid_ttl',
      gap(caps.gaps?.ttl),
      async () => {
        const { cache } = await make();
        for (const bad of BAD_TTLS) {
          const ttl = bad as number;
          await rejectsWith(() => cache.set('k', enc('v'), ttl), 'invalid_ttl', `set(ttl ${String(bad)})`);
          await rejectsWith(
            () => cache.setMany([{ key: 'k', value: enc('v'), ttl }]),
            'invalid_ttl',
            `setMany(ttl ${String(bad)})`,
          );
          await rejectsWith(
            () => cache.getOrSet('k', async () => enc('v'), ttl),
            'invalid_ttl',
            `getOrSet(ttl ${String(bad)})`,
          );
        }
        assert.equal(await cache.has('k'), false, 'nothing was written');
      },
    );

    it(
      'rejects a value that is not bytes with invalid_value, from set, setMany and a loader',
      gap(caps.gaps?.value),
      async () => {
        const { cache } = await make();
        for (const [label, bad] of BAD_VALUES) {
          const value = bad as Bytes;
          await rejectsWith(() => cache.set('k', value), 'invalid_value', `set(${label})`);
          await rejectsWith(() => cache.setMany([{ key: 'k', value }]), 'invalid_value', `setMany(${label})`);
          await rejectsWith(
            () => cache.getOrSet('k', async () => value),
            'invalid_value',
            `getOrSet loading ${label}`,
          );
        }
        assert.equal(await cache.has('k'), false, 'nothing was written');
      },
    );

    // Found from outside (/tmp/K9/r4.mts): "cache value must be a Uint8Array or Buffer, received
    // string" named no key in any cache, while the loader timeout and L2 errors name theirs.
    it(
      'names the key in a value refusal, from set, setMany and a loader',
      gap(caps.gaps?.value),
      async () => {
        const { cache } = await make();
        const names = async (call: () => Promise<unknown>, key: string) =>
          assert.rejects(call(), (err: unknown) => {
            assert.ok(err instanceof CacheError && err.code === 'invalid_value', String(err));
            assert.ok(err.message.includes(JSON.stringify(key)), err.message);
            return true;
          });
        const value = 'not bytes' as unknown as Bytes;
        await names(() => cache.set('user:7', value), 'user:7');
        await names(() => cache.setMany([{ key: 'user:8', value }]), 'user:8');
        await names(() => cache.getOrSet('user:9', async () => value), 'user:9');
      },
    );

    it('rejects malformed calls with a typed CacheError, alike in every cache', async () => {
      // Found by an outside-in audit: the memory and no-op caches threw a plain TypeError for a
      // getMany of a non-array or a setMany with a null entry, answered setMany of a non-array with
      // invalid_key (the others: invalid_value), and the memory cache let a non-function loader
      // through on a hit (and failed with a TypeError on a miss).
      const { cache } = await make();
      await cache.set('hit', enc('v'));
      await rejectsWith(() => cache.getMany('k' as unknown as string[]), 'invalid_key', 'getMany(a string)');
      await rejectsWith(() => cache.getMany(null as unknown as string[]), 'invalid_key', 'getMany(null)');
      await rejectsWith(() => cache.setMany('k' as never), 'invalid_value', 'setMany(a string)');
      await rejectsWith(() => cache.setMany([null] as never), 'invalid_key', 'setMany([null])');
      await rejectsWith(() => cache.setMany([{ key: 'k' }] as never), 'invalid_value', 'setMany(no value)');
      for (const key of ['hit', 'miss'])
        await rejectsWith(
          () => cache.getOrSet(key, 5 as never),
          'invalid_value',
          `getOrSet(${key}, a non-function loader)`,
        );
    });

    it('refuses an unknown set option (a typo like ifabsent made a conditional write overwrite), naming the nearest key', async () => {
      const { cache } = await make();
      for (const [options, hint] of [
        [{ ifabsent: true }, 'ifAbsent'],
        [{ ifEqual: enc('v') }, 'ifEquals'],
        [{ timeout: 1000, ttl: 5 }, undefined],
      ] as const) {
        const err = await cache.set('k', enc('v'), undefined, options as never).then(
          () => assert.fail(`set(${Object.keys(options).join(', ')}) must be refused`),
          (e: CacheError) => e,
        );
        assert.equal(err.code, 'invalid_value');
        if (hint) assert.match(err.message, new RegExp(`did you mean \`${hint}\``));
      }
      assert.equal(await cache.has('k'), false, 'nothing was written');
    });

    it('rejects bad write options alike in every cache: a timeout that is not a positive number, a non-boolean ifAbsent', async () => {
      // Found by an outside-in audit: the memory and no-op caches accepted { timeout: -1 }, NaN,
      // '5' or null (and a non-object options argument) where Redis and tiered refused them with
      // invalid_ttl; { ifAbsent: 'yes' } stored unconditionally in one cache and conditionally in
      // another; the no-op cache let ifAbsent and ifEquals be combined.
      const { cache } = await make();
      for (const bad of [0, -1, Number.NaN, Number.NEGATIVE_INFINITY, '5', null]) {
        const options = { timeout: bad as number };
        const label = `timeout ${typeof bad === 'string' ? `'${bad}'` : String(bad)}`;
        await rejectsWith(() => cache.set('k', enc('v'), undefined, options), 'invalid_ttl', `set(${label})`);
        await rejectsWith(() => cache.delete('k', options), 'invalid_ttl', `delete(${label})`);
        await rejectsWith(
          () => cache.setMany([{ key: 'k', value: enc('v') }], options),
          'invalid_ttl',
          `setMany(${label})`,
        );
        await rejectsWith(() => cache.deleteMany(['k'], options), 'invalid_ttl', `deleteMany(${label})`);
        // Also when there is nothing to write: Redis let an empty setMany through unchecked.
        await rejectsWith(() => cache.setMany([], options), 'invalid_ttl', `setMany([], ${label})`);
        await rejectsWith(() => cache.deleteMany([], options), 'invalid_ttl', `deleteMany([], ${label})`);
      }
      await rejectsWith(
        () => cache.set('k', enc('v'), undefined, 5 as never),
        'invalid_value',
        'set(options 5)',
      );
      await rejectsWith(() => cache.delete('k', 'fast' as never), 'invalid_value', "delete(options 'fast')");
      await rejectsWith(
        () => cache.set('k', enc('v'), undefined, { ifAbsent: 'yes' as never }),
        'invalid_value',
        "set(ifAbsent 'yes')",
      );
      await rejectsWith(
        () => cache.set('k', enc('v'), undefined, { ifAbsent: true, ifEquals: enc('v') }),
        'invalid_value',
        'set(ifAbsent and ifEquals)',
      );
      // setMany, delete and deleteMany take `{ timeout }` only, refused alike otherwise: set's
      // conditions were ignored by every cache (after tiered alone had refused them), so
      // `setMany(entries, { ifAbsent: true })` overwrote the values it was meant to keep and
      // `delete(k, { ifEquals })` deleted whatever the key held, reported as success.
      await cache.set('k', enc('kept'));
      for (const options of [{ ifEquals: enc('v') }, { ifAbsent: 'yes' }, { tll: 5 }, { ifAbsent: true }]) {
        const label = JSON.stringify(options);
        await rejectsWith(
          () => cache.setMany([{ key: 'k', value: enc('v') }], options as never),
          'invalid_value',
          `setMany(${label})`,
        );
        await rejectsWith(() => cache.delete('k', options as never), 'invalid_value', `delete(${label})`);
        await rejectsWith(
          () => cache.deleteMany(['k'], options as never),
          'invalid_value',
          `deleteMany(${label})`,
        );
      }
      assert.equal(
        dec(await cache.get('k')),
        caps.stores ? 'kept' : undefined,
        'nothing was written or deleted',
      );
      assert.equal(await cache.deleteMany(['k']), caps.stores ? 1 : 0);
      // A positive budget, also a fractional or an unbounded one (Infinity: no budget of the
      // caller's own), is accepted everywhere.
      for (const timeout of [5000, 60_000.5, Number.POSITIVE_INFINITY]) {
        assert.equal(
          await cache.set('k', enc('v'), undefined, { timeout }),
          caps.stores,
          `set(timeout ${timeout})`,
        );
        await cache.setMany([{ key: 'k', value: enc('v') }], { timeout });
        assert.equal(await cache.delete('k', { timeout }), caps.stores, `delete(timeout ${timeout})`);
        assert.equal(await cache.deleteMany(['k'], { timeout }), 0, `deleteMany(timeout ${timeout})`);
      }
    });

    it('conditional set: ifAbsent only over no value; ifEquals only over exactly those bytes, or refused, never unconditional', async () => {
      // The contract lets a cache that cannot compare refuse `ifEquals` (the tiered cache does:
      // its levels hold envelopes), but never store over a value it did not compare.
      const { cache } = await make();
      await cache.set('k', enc('a'));
      assert.equal(
        await cache.set('k', enc('b'), undefined, { ifAbsent: true }),
        false,
        'ifAbsent over a value',
      );
      assert.equal(
        await cache.set('n', enc('x'), undefined, { ifAbsent: true }),
        caps.stores,
        'ifAbsent over none',
      );
      assert.equal(dec(await cache.get('n')), caps.stores ? 'x' : undefined);
      const compared = await cache.set('k', enc('b'), undefined, { ifEquals: enc('zz') }).then(
        (stored) => {
          assert.equal(stored, false, 'ifEquals over other bytes');
          return true;
        },
        (err: unknown) => {
          assert.ok(
            err instanceof CacheError && err.code === 'invalid_value',
            `ifEquals refused: ${String(err)}`,
          );
          return false;
        },
      );
      assert.equal(
        dec(await cache.get('k')),
        caps.stores ? 'a' : undefined,
        'the value ifEquals did not match stays',
      );
      if (!compared) return;
      assert.equal(
        await cache.set('none', enc('b'), undefined, { ifEquals: enc('') }),
        false,
        'ifEquals over no value',
      );
      assert.equal(await cache.has('none'), false);
      assert.equal(
        await cache.set('k', enc('b'), undefined, { ifEquals: enc('a') }),
        caps.stores,
        'ifEquals match',
      );
      assert.equal(dec(await cache.get('k')), caps.stores ? 'b' : undefined);
    });

    it('clear removes every entry and the cache stays usable', async () => {
      const { cache } = await make();
      await cache.setMany([
        { key: 'a', value: enc('1') },
        { key: 'b', value: enc('2'), ttl: 60_000 },
      ]);
      await cache.clear();
      assert.deepEqual(await cache.getMany(['a', 'b']), [undefined, undefined]);
      await cache.set('c', enc('3'));
      assert.equal(dec(await cache.get('c')), caps.stores ? '3' : undefined);
    });

    it('stats count every read as a hit or a miss, and hitRatio = hits / reads', async () => {
      const { cache } = await make();
      assert.ok(cache.stats, 'stats() is present');
      const before = cache.stats();
      await cache.set('a', enc('1'));
      await cache.get('a');
      await cache.get('a');
      await cache.get('missing');
      await cache.getMany(['a', 'missing-too']);
      const s = cache.stats();
      const hits = s.hits - before.hits;
      const misses = s.misses - before.misses;
      assert.deepEqual({ hits, misses }, caps.stores ? { hits: 3, misses: 2 } : { hits: 0, misses: 5 });
      assert.equal(s.hitRatio, s.hits / (s.hits + s.misses));
    });

    it('close() twice resolves both times', closing, async () => {
      const { cache } = await make();
      await cache.set('k', enc('v'));
      await cache.close!();
      await cache.close!();
    });

    it('every operation after close() rejects with CacheError closed', closing, async () => {
      const { cache } = await make();
      await cache.close!();
      const ops: [string, () => Promise<unknown>][] = [
        ['get', () => cache.get('k')],
        ['set', () => cache.set('k', enc('v'))],
        ['delete', () => cache.delete('k')],
        ['has', () => cache.has('k')],
        ['getMany', () => cache.getMany(['k'])],
        ['setMany', () => cache.setMany([{ key: 'k', value: enc('v') }])],
        ['deleteMany', () => cache.deleteMany(['k'])],
        ['clear', () => cache.clear()],
        ['getOrSet', () => cache.getOrSet('k', async () => enc('v'))],
        // Empty batches too: the Redis cache resolved them ([] / undefined / 0) after close().
        ['getMany([])', () => cache.getMany([])],
        ['setMany([])', () => cache.setMany([])],
        ['deleteMany([])', () => cache.deleteMany([])],
      ];
      for (const [op, call] of ops) await rejectsWith(call, 'closed', `${op} after close`);
    });
  });
}
