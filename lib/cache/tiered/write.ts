/**
 * The write path: L2 first, then L1, then an invalidation (keys only) for the other instances.
 * When the L2 write fails, L2 may or may not hold the new value, so the keys are dropped from
 * every L1 (here and, through the bus, elsewhere) and the next read asks L2 again.
 */
import type { Bytes, CacheEntry, WriteOptions } from '../../core/contracts.js';
import { CacheError, typeName } from '../../core/errors.js';
import {
  assertBudgetOptions,
  assertBytes,
  assertEntryFields,
  assertTtl,
  assertWriteOptions,
} from '../../core/validate.js';
import type { Context } from './context.js';
import { decodeEnvelope } from './envelope.js';
import { assertTieredKey, assertTieredKeys } from './keys.js';
import { l2WriteError } from './l2.js';
import { decodeRaw, ignore, levelTtl, uncountedRead } from './local.js';
import { withTimeout } from './timing.js';

export interface WritePath {
  set(key: string, value: Bytes, ttl?: number, options?: WriteOptions): Promise<boolean>;
  setMany(entries: readonly CacheEntry[], options?: Pick<WriteOptions, 'timeout'>): Promise<void>;
  delete(key: string, options?: Pick<WriteOptions, 'timeout'>): Promise<boolean>;
  deleteMany(keys: readonly string[], options?: Pick<WriteOptions, 'timeout'>): Promise<number>;
  clear(): Promise<void>;
}

export function createWritePath(ctx: Context): WritePath {
  const { o, fence, behind, gate, guarded, local, publishWithin, assertOpen, l2Write: l2WriteOptions } = ctx;
  const { l1, l2, now } = o;
  // The reads a conditional set makes count in neither level's stats (./local.ts, uncountedRead).
  const peekL1 = uncountedRead(l1);
  const peekL2 = uncountedRead(l2);

  /**
   * After a failed L2 write: drops `keys` (or everything) from this L1, and tells the other
   * instances to do the same within what is left of the call's budget (the publish goes on in the
   * background: a rejected write waits for one budget, not two).
   */
  async function dropEverywhere(
    keys: readonly string[] | 'all',
    started: number,
    budget?: number,
  ): Promise<void> {
    if (keys === 'all') {
      await local.dropAll();
      await publishWithin({ all: true }, started);
    } else {
      await Promise.all(keys.map(local.drop));
      await publishWithin({ keys }, started, budget);
    }
  }

  /**
   * One guarded L2 write or delete whose wait is also bounded by the caller's budget
   * (`opts.timeout`, counted from `started`) when it is shorter than `l2Timeout`: the caller hears
   * `timeout` once its budget is spent, not once `l2Timeout` is. L2 got the same budget as its
   * deadline, so what the caller was told failed never lands later.
   */
  function l2Write<T>(what: string, opts: WriteOptions, started: number, call: () => Promise<T>): Promise<T> {
    const t = opts.timeout;
    if (t === undefined || !(t < o.l2Timeout)) return guarded(what, call);
    // L2 was given the caller's budget: its timeout is that budget's, not L2's (l2.ts `budgeted`).
    const pending = guarded.budgeted(what, call);
    return withTimeout(pending, Math.max(0, t - (performance.now() - started)), `L2 ${what}`);
  }

  /**
   * The L2 options of a write: the caller's budget (`options.timeout`) when it is shorter than
   * `l2Timeout`, so that L2 refuses the write once the caller's budget is spent (the contract of
   * `WriteOptions.timeout`), not only once `l2Timeout` is.
   */
  function writeOptions(options: WriteOptions | undefined): WriteOptions {
    assertWriteOptions(options);
    const t = options?.timeout;
    // Its levels hold envelopes, never the caller's bytes: a comparison could never succeed.
    if (options?.ifEquals !== undefined)
      throw new CacheError('invalid_value', 'the tiered cache does not support ifEquals');
    const base =
      t !== undefined && t < (l2WriteOptions.timeout ?? Number.POSITIVE_INFINITY)
        ? { timeout: t }
        : l2WriteOptions;
    return options?.ifAbsent ? { ...base, ifAbsent: true } : base;
  }

  /** The budget of write options, for a delete (which has no other option). */
  const budgetOnly = (opts: WriteOptions): Pick<WriteOptions, 'timeout'> =>
    opts.timeout === undefined ? {} : { timeout: opts.timeout };

  /**
   * The L2 options of a delete, deleteMany or setMany: `{ timeout }` only, refused otherwise as
   * in every cache (`assertBudgetOptions`).
   */
  function deleteOptions(options: Pick<WriteOptions, 'timeout'> | undefined): Pick<WriteOptions, 'timeout'> {
    assertBudgetOptions(options);
    return budgetOnly(
      writeOptions(options?.timeout === undefined ? undefined : { timeout: options.timeout }),
    );
  }

  /** Whether L1 holds a fresh copy of `key`, which reads would serve. */
  async function freshInL1(key: string): Promise<boolean> {
    const env = decodeRaw(await peekL1(key).catch(() => undefined));
    return env !== undefined && now() < env.freshUntil;
  }

  /**
   * After L2 refused a `set` with `ifAbsent`: L2 may hold an entry past its TTL, kept only for
   * `grace`. Every read calls that key absent (`get` misses, `has` is false), so `ifAbsent` must
   * too: the value replaces exactly those stale bytes (compare-and-set, so a value written
   * meanwhile still wins). Before, such a set resolved `false` for the whole grace window although
   * the key read as absent. The second write gets what is left of the call's budget as its
   * deadline, so a set reported as timed out never lands later. An L2 that cannot compare
   * (`invalid_value` for `ifEquals`) keeps the refusal.
   */
  async function overExpired(
    key: string,
    raw: Bytes,
    staleUntil: number,
    opts: WriteOptions,
    started: number,
  ): Promise<boolean> {
    let held: Bytes | undefined;
    try {
      held = await peekL2(key);
    } catch (err) {
      // A key of another Redis type (`WRONGTYPE`, `invalid_value`) is another program's value,
      // which L2's ifAbsent has just refused: `false`, as L2 answered. Before, the set rejected
      // with this read's error ("redis get failed … another Redis type"), for a get never called.
      if (err instanceof CacheError && err.code === 'invalid_value') return false;
      throw err;
    }
    const env = held === undefined ? undefined : decodeEnvelope(held);
    // Gone meanwhile: absent after all, but only one more try. A foreign value or a fresh
    // envelope is a value — unless this instance served a newer one while L2 did not answer
    // (./behind.ts): reads pass such an L2 value over (`get` misses, `has` is false), so
    // `ifAbsent` calls it absent too, unless L1 still serves that newer copy. Before, the set
    // resolved `false` and stored nothing while every read of the key missed.
    if (held !== undefined && (env === undefined || now() < env.freshUntil)) {
      if (!behind.has(key) || (await freshInL1(key))) return false;
    }
    const left = opts.timeout === undefined ? undefined : opts.timeout - (performance.now() - started);
    if (left !== undefined && !(left >= 1)) return false;
    const cond: WriteOptions = held === undefined ? { ifAbsent: true } : { ifEquals: held };
    try {
      return await l2.set(key, raw, levelTtl(staleUntil, now()), {
        ...cond,
        ...(left !== undefined && { timeout: Math.floor(left) }),
      });
    } catch (err) {
      if (err instanceof CacheError && err.code === 'invalid_value') return false;
      throw err;
    }
  }

  return {
    async set(key, value, ttl = o.ttl, options) {
      const started = performance.now();
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      assertBytes(value, key);
      assertTtl(ttl);
      const opts = writeOptions(options);
      const entry = local.wrap(value, ttl);
      // Fence first: a load of this key already running must not store its (older) value after us.
      local.forget(key);
      const mark = fence.mark();
      let stored: boolean;
      try {
        stored = await l2Write('set', opts, started, async () => {
          const done = await l2.set(key, entry.raw, levelTtl(entry.env.staleUntil, now()), opts);
          return done || !opts.ifAbsent
            ? done
            : overExpired(key, entry.raw, entry.env.staleUntil, opts, started);
        });
      } catch (err) {
        await dropEverywhere([key], started, opts.timeout);
        throw l2WriteError(err, 'set', key);
      }
      // An invalidation of this key heard while our write was on its way is another instance's
      // write or delete that landed after ours (its message can arrive before our reply): our
      // value is then not the current one and must not enter L1. Before, it was filled all the
      // same and served, over the newer value, until its TTL. Likewise after a coherence clear
      // meanwhile (a bus reconnect: such a message may have been lost).
      const raced = !fence.stillValid(key, mark) || mark < gate.since;
      // L2 now holds this write's value, newer than anything loaded before it (./behind.ts). Not
      // when `ifAbsent` found a value: that one may be the older value.
      if (stored) behind.settle(key);
      local.forget(key);
      if (stored && !raced) local.fillL1(key, entry, fence.mark());
      else await l1.delete(key).catch(ignore);
      await publishWithin({ keys: [key] }, started, opts.timeout);
      return stored;
    },

    async setMany(entries, options) {
      assertOpen();
      if (!Array.isArray(entries))
        throw new CacheError('invalid_value', `entries must be an array, received ${typeName(entries)}`);
      for (const e of entries) {
        assertTieredKey(e?.key, o.reservedKeyPrefix);
        assertBytes(e.value, e.key);
        assertTtl(e.ttl);
        assertEntryFields(e);
      }
      // Only the budget, as every cache reads setMany's options (`assertBudgetOptions`).
      const opts: WriteOptions = deleteOptions(options);
      if (entries.length === 0) return;
      const started = performance.now();
      const t = now();
      const made = entries.map((e) => ({ key: e.key, entry: local.wrap(e.value, e.ttl ?? o.ttl) }));
      const keys = made.map((m) => m.key);
      for (const key of keys) local.forget(key);
      const before = fence.mark();
      try {
        await l2Write('setMany', opts, started, () =>
          l2.setMany(
            made.map((m) => ({ key: m.key, value: m.entry.raw, ttl: levelTtl(m.entry.env.staleUntil, t) })),
            opts,
          ),
        );
      } catch (err) {
        await dropEverywhere(keys, started, opts.timeout);
        throw l2WriteError(err, 'setMany');
      }
      for (const key of keys) behind.settle(key);
      // Keys invalidated while the write was on its way were written after it elsewhere (see set).
      const cleared = before < gate.since;
      const raced = new Set(keys.filter((key) => cleared || !fence.stillValid(key, before)));
      for (const key of keys) local.forget(key);
      const mark = fence.mark();
      // The last entry of a key wins, as in L2.
      const last = new Map(made.map((m) => [m.key, m.entry]));
      for (const [key, entry] of last) {
        if (raced.has(key)) l1.delete(key).catch(ignore);
        else local.fillL1(key, entry, mark);
      }
      await publishWithin({ keys }, started, opts.timeout);
    },

    async delete(key, options) {
      const started = performance.now();
      assertOpen();
      assertTieredKey(key, o.reservedKeyPrefix);
      // The L2 delete carries the budget as a set does: one reported as timed out never lands later.
      const opts = deleteOptions(options);
      local.forget(key);
      let removed: boolean;
      try {
        removed = await l2Write('delete', opts, started, () => l2.delete(key, opts));
      } catch (err) {
        await dropEverywhere([key], started, opts.timeout);
        throw l2WriteError(err, 'delete', key);
      }
      behind.settle(key);
      local.forget(key);
      const inL1 = await l1.delete(key).catch(() => false);
      await publishWithin({ keys: [key] }, started, opts.timeout);
      return removed || inL1;
    },

    async deleteMany(keys, options) {
      const started = performance.now();
      assertOpen();
      assertTieredKeys(keys, o.reservedKeyPrefix);
      const opts = deleteOptions(options);
      if (keys.length === 0) return 0;
      const unique = [...new Set(keys)];
      for (const key of unique) local.forget(key);
      let removed: number;
      try {
        removed = await l2Write('deleteMany', opts, started, () => l2.deleteMany(unique, opts));
      } catch (err) {
        await dropEverywhere(unique, started, opts.timeout);
        throw l2WriteError(err, 'deleteMany');
      }
      for (const key of unique) {
        behind.settle(key);
        local.forget(key);
      }
      const inL1 = await l1.deleteMany(unique).catch(() => 0);
      await publishWithin({ keys: unique }, started, opts.timeout);
      return Math.max(removed, inL1);
    },

    async clear() {
      const started = performance.now();
      assertOpen();
      fence.invalidateAll();
      // The budget goes to L2 as for writes: a clear reported as timed out must not go on removing
      // keys once Redis answers again (the Redis cache takes `{ timeout }` for its rounds'
      // deadlines). Before, it did: Redis paused, `clear()` rejected after l2Timeout, and its later
      // rounds removed a key `set` (and acknowledged) after that (clear-late.test.ts). Another
      // L2's `clear()` ignores the argument.
      const clearL2 = l2.clear as (options?: Pick<WriteOptions, 'timeout'>) => Promise<void>;
      try {
        await guarded('clear', () =>
          clearL2.call(
            l2,
            l2WriteOptions.timeout === undefined ? undefined : { timeout: l2WriteOptions.timeout },
          ),
        );
      } catch (err) {
        await dropEverywhere('all', started);
        throw l2WriteError(err, 'clear');
      }
      behind.settleAll();
      await dropEverywhere('all', started);
    },
  };
}
