/**
 * The multi-key paths: `getMany` (L1, then one L2 `getMany` for what L1 lacks) and `getOrSetMany`
 * (the same, then one `loadMany` call for what both lack). A batch shares the per-key flights of
 * the single-key path, so a key is never loaded twice at once whichever path asked for it.
 */
import type { Bytes, CacheEntry, WriteOptions } from '../../core/contracts.js';
import { CacheError, typeName } from '../../core/errors.js';
import { assertNotOwnLoad, type LoadFrame, loadChain, loadFrame, settles } from '../../core/load-chain.js';
import { withTimeout } from '../../core/timeout.js';
import { assertBytes, assertTtl } from '../../core/validate.js';
import type { Context } from './context.js';
import type { Envelope } from './envelope.js';
import { assertTieredKey } from './keys.js';
import { isOutage } from './l2.js';
import { decodeRaw, type Fetched, ignore, levelTtl } from './local.js';
import { checkLoader, type ReadPath } from './read.js';
import { countSource } from './stats.js';
import type { ManyLoader, TieredResult } from './types.js';

/** Throws `CacheError('invalid_key')` unless `keys` is an array of valid keys. */
function assertKeys(keys: readonly string[], reserved: string | undefined): void {
  if (!Array.isArray(keys))
    throw new CacheError('invalid_key', `keys must be an array, received ${typeName(keys)}`);
  for (const k of keys) assertTieredKey(k, reserved);
}

/**
 * Stores of a `getOrSetMany` batch issued in one turn of the event loop (the Redis cache's own
 * batches send 1,000 commands per chunk likewise).
 */
const STORE_SLICE = 1000;

/** A key of a batch whose load failed: its callers get `failed`. */
interface Failed {
  failed: unknown;
}

export interface BatchPath {
  getMany(keys: readonly string[]): Promise<(Bytes | undefined)[]>;
  getOrSetMany(keys: readonly string[], loadMany: ManyLoader, ttl?: number): Promise<Bytes[]>;
}

export function createBatchPath(ctx: Context, bounded: ReadPath['bounded']): BatchPath {
  const {
    o,
    counters: c,
    fence,
    behind,
    guarded,
    l2Read,
    local,
    assertOpen,
    l2Write,
    publish,
    untracked,
  } = ctx;
  const { l1, l2, now } = o;

  /**
   * One L2 getMany for `keys`, one loadMany for what L2 lacks; per-key results. A failed load is
   * the error of the keys it was for (a `Failed`), not of the keys L2 answered or grace served:
   * a single-key caller that joined the batch for one of those gets its value. (Before, the whole
   * batch rejected, so `getOrSet('a')` joining a batch failed with the loader error of key `b`
   * although `a` was fresh in L2, and was counted a miss.)
   */
  async function loadBatch(
    keys: string[],
    loadMany: ManyLoader,
    ttl: number | undefined,
    staleL1: Map<string, Envelope>,
    leave: () => void,
    frame: LoadFrame,
  ): Promise<Map<string, TieredResult | Failed>> {
    const mark = fence.mark();
    const ticket = fence.ticket();
    const asked = performance.now();
    const out = new Map<string, TieredResult | Failed>();
    const stale = new Map(staleL1);
    // Keys L2 had no value for: their store is conditional (`ifAbsent`), as for single loads;
    // keys it held stale: the bytes it held (their store is `ifEquals` those).
    const absent = new Set<string>();
    const seen = new Map<string, Bytes>();
    const replaces = new Set<string>();
    let rest = keys;
    let answered = false;
    // Keys L2 did not answer when it answered only in part (l2-read.ts `partial`): loaded as when
    // L2 is down (not stored there, marked behind), while the answered keys are served or stored.
    let down: ReadonlySet<string> = new Set();
    const since = behind.mark();
    try {
      let entries: (Fetched | undefined)[];
      try {
        entries = await l2Read.getMany(keys);
      } catch (err) {
        const partial = isOutage(err) ? l2Read.partial(err, keys) : undefined;
        if (!partial) throw err;
        entries = partial.entries;
        down = new Set([...partial.unanswered].map((i) => keys[i]!));
      }
      answered = true;
      rest = [];
      const t = now();
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const f = entries[i];
        if (down.has(key)) {
          rest.push(key);
          continue;
        }
        if (f === undefined) {
          behind.settle(key, since);
          absent.add(key);
          rest.push(key);
          continue;
        }
        if (behind.has(key)) {
          // Possibly older than a value served here (./behind.ts): load, then replace these bytes
          // (fresh ones: other instances may hold them in L1, so the store is published).
          seen.set(key, f.raw);
          if (t < f.env.freshUntil) replaces.add(key);
          rest.push(key);
          continue;
        }
        if (t < f.env.freshUntil) {
          out.set(key, local.fromL2(key, f, mark, ticket, true));
          continue;
        }
        const prev = stale.get(key);
        if (!prev || f.env.staleUntil > prev.staleUntil) stale.set(key, f.env);
        seen.set(key, f.raw);
        rest.push(key);
      }
    } catch (err) {
      if (!isOutage(err)) throw err;
    }
    if (rest.length === 0) return out;
    // What the read left of the batch's one L2 budget: the store below gets no more (read.ts `store`).
    const budget = answered ? o.l2Timeout - (performance.now() - asked) : 0;

    // Not joined by callers from now on, as a single load (read.ts `load`, ctx.untracked).
    if (untracked(answered && down.size === 0)) leave();
    c.loaderCalls++;
    let values: readonly Bytes[];
    try {
      values = await bounded(`${rest.length} keys`, () => loadMany(rest), frame);
      if (!Array.isArray(values) || values.length !== rest.length)
        throw new CacheError(
          'invalid_value',
          `loadMany must return an array of ${rest.length} values, received ${Array.isArray(values) ? `${values.length}` : typeName(values)}`,
        );
      for (let i = 0; i < values.length; i++) assertBytes(values[i], rest[i]);
    } catch (err) {
      c.loaderErrors++;
      // Keys with a value inside grace are served stale; the others get the error.
      for (const key of rest) out.set(key, local.withinGrace(stale.get(key)) ?? { failed: err });
      return out;
    }
    const entries: CacheEntry[] = [];
    const fills: [string, Fetched][] = [];
    const t = now();
    for (let i = 0; i < rest.length; i++) {
      const key = rest[i]!;
      const value = values[i]!;
      out.set(key, { value, source: 'loader', stale: false });
      // Served while L2 did not answer: L2 may hold an older value (./behind.ts).
      const unasked = !answered || down.has(key);
      if (unasked) behind.note(key);
      if (!fence.stillValid(key, mark)) continue;
      const entry = local.wrap(value, ttl);
      // Not stored in L2 where L2 did not answer: whether it holds a value is unknown.
      if (!unasked) entries.push({ key, value: entry.raw, ttl: levelTtl(entry.env.staleUntil, t) });
      fills.push([key, entry]);
    }
    // L1 at once, then L2 within what is left of the budget, awaited, as for single loads (read.ts
    // `store`): once the batch returns, its store has landed or never will.
    for (const [key, f] of fills) local.fillL1(key, f, mark, false, ticket, true);
    if (entries.length > 0) {
      const unlanded = new Set(
        fills.filter(([key]) => !absent.has(key) && seen.has(key)).map(([key]) => key),
      );
      if (budget >= 1) {
        c.backgroundWrites++;
        const until = performance.now() + budget;
        // Every store is conditional: keys L2 lacked only if still absent, keys it held stale only
        // if it still holds those bytes. So a value another instance or program wrote while the
        // batch loaded is never overwritten (a refusal drops the L1 copy, also when it comes after
        // the caller stopped waiting).
        const store = (e: CacheEntry, opts: WriteOptions): Promise<unknown> => {
          const held = seen.get(e.key);
          const cond =
            absent.has(e.key) || held === undefined
              ? { ...opts, ifAbsent: true }
              : { ...opts, ifEquals: held };
          let sent: Promise<boolean>;
          try {
            sent = l2.set(e.key, e.value, e.ttl, cond);
          } catch (err) {
            // An L2 of your own that throws rather than rejects fails this key alone.
            sent = Promise.reject(err);
          }
          const done = sent.then((stored) => {
            unlanded.delete(e.key);
            if (!stored)
              return fence.stillValid(e.key, mark) ? l1.delete(e.key).then(ignore, ignore) : undefined;
            behind.settle(e.key);
            // It replaced a fresh value other instances may hold in L1 (read.ts `store`).
            if (replaces.has(e.key)) return publish({ keys: [e.key] });
          });
          // Handled at once: its failure is read only once every slice went out (allSettled
          // below), and a store that failed before — L2 closed or gone while later slices were
          // issued — was an unhandled rejection, one per store (Node ends the process at the first).
          done.catch(ignore);
          return done;
        };
        // The batch's stores are one guarded L2 call, as a `setMany` is: the breaker hears one
        // outcome (the first outage among them, else success). Guarded one by one, a batch whose
        // read left its stores too little budget (20,000 keys on a healthy loopback Redis) failed
        // thousands of them as `timeout` at once and opened the breaker, L2 then skipped for every
        // key for the cool-down although Redis had answered (batch-store-breaker.test.ts).
        // They are issued STORE_SLICE at a time with a turn of the event loop between slices, each
        // slice's deadline what is left of the budget, none once it is spent: issued in one loop,
        // 100,000 stores blocked the event loop ~4 s (batch-store-slices.test.ts).
        const storing = guarded(`store of ${entries.length} keys`, async () => {
          const stores: Promise<unknown>[] = [];
          for (let from = 0; from < entries.length; from += STORE_SLICE) {
            let opts: WriteOptions =
              budget === Number.POSITIVE_INFINITY ? l2Write : { ...l2Write, timeout: Math.floor(budget) };
            if (from > 0) {
              await new Promise<void>((resolve) => setImmediate(resolve));
              if (budget !== Number.POSITIVE_INFINITY) {
                const left = Math.floor(until - performance.now());
                if (left < 1) break;
                opts = { ...l2Write, timeout: left };
              }
            }
            for (const e of entries.slice(from, from + STORE_SLICE)) {
              // A write, delete or clear of the key made while earlier slices went out (the loop
              // turned) fences it as one made during the load does: not stored. Checked only
              // when the batch was built, the store of a key in a later slice was sent after a
              // `delete` of it and, `ifAbsent`, brought the loaded value back for good
              // (batch-store-slices.test.ts).
              if (!fence.stillValid(e.key, mark)) {
                unlanded.delete(e.key);
                continue;
              }
              stores.push(store(e, opts));
            }
          }
          const settled = await Promise.allSettled(stores);
          for (const s of settled) if (s.status === 'rejected' && isOutage(s.reason)) throw s.reason;
        });
        await withTimeout(storing, budget, () => new Error('L2 budget spent')).catch(ignore);
      }
      // Keys over an older (stale) L2 value whose store did not land (no budget, failed, outlasted
      // the budget): that value must not be served again (read.ts `store`, ./behind.ts).
      for (const key of unlanded) behind.note(key);
    }
    return out;
  }

  return {
    async getMany(keys) {
      assertOpen();
      assertKeys(keys, o.reservedKeyPrefix);
      if (keys.length === 0) return [];
      const t = now();
      const raws = await l1.getMany(keys);
      const out: (Bytes | undefined)[] = new Array(keys.length);
      const missing: number[] = [];
      for (let i = 0; i < keys.length; i++) {
        const raw = raws[i];
        const env = decodeRaw(raw);
        if (env && t < env.freshUntil) {
          c.l1Hits++;
          out[i] = env.value;
        } else missing.push(i);
      }
      if (missing.length === 0) return out;
      const mark = fence.mark();
      const ticket = fence.ticket();
      const since = behind.mark();
      const wanted = missing.map((i) => keys[i]!);
      let found: (Fetched | undefined)[] = [];
      // Positions L2 did not answer (all of them when it failed without a partial answer).
      let unanswered: ReadonlySet<number> | undefined;
      try {
        found = await l2Read.getMany(wanted);
      } catch (err) {
        if (!isOutage(err)) throw err;
        // One cluster master down fails only its keys: the others' answers are served (l2-read.ts).
        const partial = l2Read.partial(err, wanted);
        if (partial) ({ entries: found, unanswered } = partial);
      }
      const t2 = now();
      for (let j = 0; j < missing.length; j++) {
        const f = found[j];
        if (f === undefined && found.length > 0 && !unanswered?.has(j)) behind.settle(wanted[j]!, since);
        if (f && t2 < f.env.freshUntil && !behind.has(wanted[j]!)) {
          c.l2Hits++;
          out[missing[j]!] = f.env.value;
          local.fillL1(wanted[j]!, f, mark, true, ticket, true);
        } else {
          c.misses++;
          out[missing[j]!] = undefined;
        }
      }
      return out;
    },

    async getOrSetMany(keys, loadMany, ttl = o.ttl) {
      // The loads whose loaders called this one (synchronously), read before the first await.
      const chain = loadChain();
      assertOpen();
      assertKeys(keys, o.reservedKeyPrefix);
      assertTtl(ttl);
      checkLoader(loadMany);
      const unique = [...new Set(keys)];
      const results = new Map<string, Bytes>();
      if (unique.length === 0) return [];
      const t = now();
      const raws = await l1.getMany(unique);
      const staleL1 = new Map<string, Envelope>();
      const waits: Promise<void>[] = [];
      const mine: string[] = [];
      // Each key is read once however often it is asked for, but counted once per time it was
      // asked for, as getMany counts it (a repeated key used to count one read).
      let times: Map<string, number> | undefined;
      if (unique.length !== keys.length) {
        times = new Map();
        for (const k of keys) times.set(k, (times.get(k) ?? 0) + 1);
      }
      const asked = (key: string) => times?.get(key) ?? 1;
      // Its own loader asking for a key it loads (one L1 lacks): the batch would wait for itself.
      // Refused whole before any flight is started or joined (a joined one that failed later would
      // reject with nobody waiting for it).
      if (chain !== undefined)
        for (let i = 0; i < unique.length; i++) {
          const env = decodeRaw(raws[i]);
          if (!(env && t < env.freshUntil))
            assertNotOwnLoad(chain, local.flights, unique[i]!, 'getOrSetMany');
        }
      // Stale serves are counted once the call resolves: a call that rejects served nothing, its
      // keys that grace would have served are misses only (as a failed `getOrSet` counts). Counted
      // at once, a batch whose `loadMany` failed during an L2 outage rejected and still counted a
      // stale serve for each of its keys with a copy inside grace (batch-stale-count.test.ts).
      let staleServes = 0;
      const settle = (key: string, r: TieredResult): void => {
        if (r.source === 'stale') {
          c.misses += asked(key);
          staleServes += asked(key);
        } else for (let n = asked(key); n > 0; n--) countSource(c, r.source);
        results.set(key, r.value);
      };
      // A key whose load failed is a miss too, as in getOrSet (read.ts `missed`).
      const missed = (key: string, err: unknown): never => {
        c.misses += asked(key);
        throw err;
      };
      for (let i = 0; i < unique.length; i++) {
        const key = unique[i]!;
        const raw = raws[i];
        const env = decodeRaw(raw);
        if (env && t < env.freshUntil) {
          c.l1Hits += asked(key);
          results.set(key, env.value);
          continue;
        }
        if (env && t < env.staleUntil) staleL1.set(key, env);
        const running = local.flights.get(key);
        if (running)
          waits.push(
            running.then(
              (r) => settle(key, r),
              (err) => missed(key, err),
            ),
          );
        else mine.push(key);
      }
      if (mine.length > 0) {
        // The keys' flights, registered below (synchronously, before the batch first awaits).
        const leaves: (() => void)[] = [];
        const frame = loadFrame(local.flights, mine, chain);
        const batch = settles(
          frame,
          loadBatch(
            mine,
            loadMany,
            ttl,
            staleL1,
            () => {
              for (const leave of leaves) leave();
            },
            frame,
          ),
        );
        batch.catch(ignore);
        for (const key of mine) {
          const p = local.flight(key, (leave) => {
            leaves.push(leave);
            return batch.then((m) => {
              const r = m.get(key)!;
              if ('failed' in r) throw r.failed;
              return r;
            });
          });
          waits.push(
            p.then(
              (r) => settle(key, r),
              (err) => missed(key, err),
            ),
          );
        }
      }
      // Every key settles before the call does, then the first failure (in the order the waits
      // were made) is the call's. Rejecting at the first failure returned while this call's own
      // batch was still reading L2: its `loadMany` was then called, and its values stored, after
      // the caller had been told the call failed (a joined key's load failed first; found by the
      // tiered model, batch-settles.test.ts).
      const outcomes = await Promise.allSettled(waits);
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
      c.staleServes += staleServes;
      return keys.map((k) => results.get(k)!);
    },
  };
}
