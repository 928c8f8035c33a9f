/**
 * The memory cache against an exact model (fast-check, bounded runs), where the shared conformance
 * model (spec/conformance/model.ts) cannot look: it runs with 1 MiB of room, no TTLs, no
 * conditional writes and loads that settle on their own. Here:
 *
 * - a tiny `maxCost` (2–30, or fractional), so admission refuses and evicts all the time;
 * - both faces on one store in one sequence (`cache.get` then `cache.sync.get`, …): they must agree;
 * - get/has/set (plain, `ifAbsent`, `ifEquals`)/delete/getMany/setMany/deleteMany/clear/close,
 *   TTLs on an injected clock and a `defaultTtl`;
 * - `getOrSet` loads that the sequence settles itself (resolve, reject, time out with `loadTimeout`
 *   under mock timers, or still running at `close()`), at any point relative to the writes,
 *   including between a loader settling and its value being stored.
 *
 * The model knows every write; admission is the cache's choice, learnt from `onEvict` (applied
 * when reported) and from the cost function (the moment a load's value is stored). Checked after
 * every step: the resident keys, `size`, `cost` (≤ maxCost, = the sum of the entries' charges),
 * every counter of `stats()`, the answer of every call (a read returns exactly the model's live
 * value; a `set` resolves true exactly when its value is held after it; a load's callers get its
 * value or error, or `timeout`/`closed`), and that a load stores nothing once a write to its key
 * began after it (a `set`, even a refused one, `delete`, `setMany`, `deleteMany`, `clear`).
 *
 * A second property lets `onEvict` call back into the cache (set, delete, clear, get, has,
 * getOrSet, throw, close) while TTL sweeps run; the model there is the last value written per key.
 *
 * `HYPERION_MODEL_RUNS` raises the number of sequences (`npm run check:model` runs this file too).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { modelReplay } from '../../conformance/replay.js';

const RUNS = Number(process.env.HYPERION_MODEL_RUNS ?? 150);
const KEYS = ['a', 'b', 'c', 'd', 'e'];
const LOAD_TIMEOUT = 100;

type Face = 'async' | 'sync';
type Cond = 'none' | 'ifAbsent' | 'ifEquals';
type Op =
  | { readonly k: 'get' | 'has' | 'delete'; readonly key: number; readonly face: Face }
  | {
      readonly k: 'set';
      readonly key: number;
      readonly len: number;
      readonly ttl: number | undefined;
      readonly face: Face;
      readonly cond: Cond;
      readonly pick: number;
    }
  | { readonly k: 'getMany' | 'deleteMany'; readonly keys: readonly number[] }
  | {
      readonly k: 'setMany';
      readonly entries: readonly { key: number; len: number; ttl: number | undefined }[];
    }
  | { readonly k: 'clear'; readonly face: Face }
  | { readonly k: 'getOrSet'; readonly key: number; readonly ttl: number | undefined; readonly face: Face }
  | { readonly k: 'resolve'; readonly pick: number; readonly len: number }
  | { readonly k: 'reject'; readonly pick: number }
  | { readonly k: 'flush' | 'timeout' | 'close' }
  | { readonly k: 'advance'; readonly ms: number };

const face = fc.constantFrom<Face>('async', 'sync');
const key = fc.nat(KEYS.length - 1);
// Short TTLs as often as long ones, so that entries expire while still in the cache.
const ttl = fc.option(fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 3000 })), {
  nil: undefined,
  freq: 2,
});
const len = fc.nat(8);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ k: fc.constant('get' as const), key, face }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('has' as const), key, face }) },
  {
    weight: 30,
    arbitrary: fc.record({
      k: fc.constant('set' as const),
      key,
      len,
      ttl,
      face,
      cond: fc.constantFrom<Cond>('none', 'none', 'ifAbsent', 'ifEquals'),
      pick: fc.nat(20),
    }),
  },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('delete' as const), key, face }) },
  {
    weight: 5,
    arbitrary: fc.record({ k: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 4 }) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('setMany' as const),
      // One entry per key: the model applies a batch's writes before the call.
      entries: fc.uniqueArray(fc.record({ key, len, ttl }), { maxLength: 4, selector: (e) => e.key }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ k: fc.constant('deleteMany' as const), keys: fc.array(key, { maxLength: 4 }) }),
  },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('clear' as const), face }) },
  { weight: 30, arbitrary: fc.record({ k: fc.constant('getOrSet' as const), key, ttl, face }) },
  { weight: 20, arbitrary: fc.record({ k: fc.constant('resolve' as const), pick: fc.nat(10), len }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('reject' as const), pick: fc.nat(10) }) },
  { weight: 20, arbitrary: fc.constant({ k: 'flush' as const }) },
  { weight: 3, arbitrary: fc.constant({ k: 'timeout' as const }) },
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 2000 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'close' as const }) },
);

interface Entry {
  readonly value: Uint8Array;
  /** 0: no expiry. */
  readonly expireAt: number;
  readonly cost: number;
}
type Outcome = { ok: true; value: Uint8Array } | { ok: false; code: string };
interface Load {
  readonly id: number;
  readonly key: string;
  readonly ttl: number | undefined;
  readonly promise: Promise<Uint8Array>;
  resolve(v: Uint8Array): void;
  reject(e: Error): void;
  state: 'pending' | 'resolved' | 'rejected';
  value?: Uint8Array;
  /** What its callers get, once known. */
  outcome?: Outcome;
  /** Its settlement has been seen by a flush. */
  settled: boolean;
}
type Result = { ok: true; value: unknown } | { ok: false; err: unknown };

const codeOf = (err: unknown) => (err as { code?: string })?.code ?? String(err);
/** Every microtask queued so far runs before a setImmediate callback: loads settle and store. */
const drain = () => new Promise<void>((r) => setImmediate(r));

async function runSequence(
  maxCost: number,
  defaultTtl: number | undefined,
  ops: readonly Op[],
  tickTimers: (ms: number) => void,
): Promise<void> {
  let now = 1_000_000;
  let serial = 0;
  /** A new value of `n` bytes, distinct from every other (its identity is what the model tracks). */
  const fresh = (n: number) => {
    const v = new Uint8Array(n);
    const id = ++serial;
    for (let i = 0; i < n; i++) v[i] = (id >> (8 * (i % 4))) & 0xff;
    return v;
  };
  const entries = new Map<string, Entry>();
  /** The loads in flight as the README describes them: a write to the key removes its entry. */
  const flights = new Map<string, Load>();
  const loads: Load[] = [];
  const written: Uint8Array[] = [];
  const checks: { where: string; p: Promise<unknown>; check(r: Result): void }[] = [];
  const setChecks: { where: string; key: string; value: Uint8Array; got: boolean | Promise<boolean> }[] = [];
  const counts = { hits: 0, misses: 0, keysAdded: 0, costAdded: 0, capacity: 0, rejected: 0, expired: 0 };
  let costEvicted = 0;
  let closed = false;
  let draining = false;
  let where = '';
  /** Values of this step's writes and entries the model removed in it (a report may name them). */
  let stepWrites = new Map<string, Uint8Array[]>();
  let stepOld = new Map<string, Entry | undefined>();

  const charged = (n: number) => (n < 1 ? Math.min(1, maxCost) : n);
  const live = (e: Entry | undefined): e is Entry =>
    e !== undefined && (e.expireAt === 0 || e.expireAt > now);
  const remember = (k: string) => {
    if (!stepOld.has(k)) stepOld.set(k, entries.get(k));
  };
  const write = (k: string, value: Uint8Array, t: number | undefined) => {
    remember(k);
    flights.delete(k);
    if (!entries.has(k)) counts.keysAdded++;
    counts.costAdded += charged(value.length);
    const after = t ?? defaultTtl;
    entries.set(k, { value, expireAt: after === undefined ? 0 : now + after, cost: charged(value.length) });
    stepWrites.set(k, [...(stepWrites.get(k) ?? []), value]);
    written.push(value);
  };
  const remove = (k: string) => {
    remember(k);
    entries.delete(k);
  };
  /** A read (get, getMany, the lookup of getOrSet): an expired entry is removed by it. */
  const read = (k: string): Uint8Array | undefined => {
    const e = entries.get(k);
    if (live(e)) {
      counts.hits++;
      return e.value;
    }
    if (e !== undefined) remove(k);
    counts.misses++;
    return undefined;
  };
  const expect = (p: Promise<unknown>, check: (r: Result) => void) => {
    p.catch(() => {});
    checks.push({ where, p, check });
  };
  const resolvesTo = (p: Promise<unknown>, want: unknown) => {
    const at = where;
    expect(p, (r) => {
      assert.ok(r.ok, `${at}: rejected with ${r.ok ? '' : String(r.err)}`);
      assert.equal(r.value, want, at);
    });
  };
  const rejectsWith = (p: Promise<unknown>, code: string) => {
    const at = where;
    expect(p, (r) => {
      assert.ok(!r.ok, `${at}: resolved, expected ${code}`);
      assert.equal(codeOf(r.err), code, at);
    });
  };

  /**
   * Failures seen inside onEvict and the cost function: the cache catches what they throw (a
   * warning, or the value not cached), so they are kept here and thrown at the end of the step.
   */
  const failures: unknown[] = [];
  const guarded =
    <A extends unknown[], R>(f: (...a: A) => R, fallback: R) =>
    (...a: A): R => {
      try {
        return f(...a);
      } catch (err) {
        failures.push(err);
        return fallback;
      }
    };
  const cache = createMemoryCache({
    maxCost,
    // Below 1 the byte face needs a cost function (at the default cost such a cache is refused at
    // creation); this one is the default cost, so the model's charges are unchanged.
    ...(maxCost < 1 ? { cost: (value: Uint8Array) => value.byteLength } : {}),
    now: () => now,
    loadTimeout: LOAD_TIMEOUT,
    ...(defaultTtl === undefined ? {} : { defaultTtl }),
    onEvict: guarded(
      (k: string, value: Uint8Array, reason: 'capacity' | 'rejected' | 'expired', cost: number) => {
        // Applied when reported: the hook runs once the operation that removed the entry is done.
        counts[reason]++;
        if (reason === 'capacity') costEvicted += cost;
        const cur = entries.get(k);
        const old = stepOld.get(k);
        assert.ok(
          cur?.value === value || old?.value === value || stepWrites.get(k)?.includes(value),
          `${where}: onEvict(${k}, ${reason}) reported a value the key did not hold`,
        );
        if (reason === 'expired') {
          const e = cur?.value === value ? cur : old;
          assert.ok(e && e.expireAt !== 0 && e.expireAt <= now, `${where}: ${k} reported expired while live`);
        }
        assert.equal(cost, charged(value.length), `${where}: the cost reported for ${k}`);
        if (cur?.value === value) entries.delete(k);
      },
      undefined,
    ),
    cost: (value) => {
      // A load's value reaching the cost function is being stored by its load (sync.ts `fill`).
      const load = draining ? loads.find((l) => l.value === value) : undefined;
      if (load !== undefined) {
        if (flights.get(load.key) !== load)
          failures.push(new Error(`${where}: load ${load.id} of ${load.key} stored over a later write`));
        flights.delete(load.key);
        if (charged(value.length) <= maxCost) write(load.key, value, load.ttl);
      }
      return value.byteLength;
    },
  });
  const sync = cache.sync;

  /** A flush saw the loads settle: their callers' outcome is known. */
  const settle = (load: Load) => {
    const timedOut = load.outcome?.ok === false && load.outcome.code === 'timeout';
    if (timedOut && flights.get(load.key) === load) flights.delete(load.key);
    if (load.state === 'pending' || load.settled) return;
    load.settled = true;
    if (load.outcome !== undefined) return; // timed out or closed first
    if (load.state === 'rejected') {
      load.outcome = { ok: false, code: 'loader' };
      if (flights.get(load.key) === load) flights.delete(load.key);
      return;
    }
    load.outcome = { ok: true, value: load.value! };
    assert.ok(closed || flights.get(load.key) !== load, `${where}: load ${load.id} settled without storing`);
  };

  const endStep = () => {
    if (failures.length > 0) throw failures[0];
    if (!closed) {
      assert.deepEqual(sync.keys().sort(), [...entries.keys()].sort(), `${where}: resident keys`);
      const sum = [...entries.values()].reduce((a, e) => a + e.cost, 0);
      assert.equal(sync.cost, sum, `${where}: cost`);
      assert.ok(sync.cost <= maxCost, `${where}: cost ${sync.cost} > maxCost ${maxCost}`);
      assert.equal(sync.size, entries.size, `${where}: size`);
      const st = sync.stats();
      assert.deepEqual(
        st,
        {
          hits: counts.hits,
          misses: counts.misses,
          hitRatio: st.hitRatio,
          keysAdded: counts.keysAdded,
          keysEvicted: counts.capacity,
          keysRejected: counts.rejected,
          keysExpired: counts.expired,
          costAdded: counts.costAdded,
          costEvicted,
        },
        `${where}: stats`,
      );
    }
    for (const c of setChecks.splice(0)) {
      const held = entries.get(c.key)?.value === c.value;
      if (typeof c.got === 'boolean') assert.equal(c.got, held, `${c.where}: set returned ${c.got}`);
      else {
        where = c.where;
        resolvesTo(c.got, held);
      }
    }
    stepWrites = new Map();
    stepOld = new Map();
  };

  const startGetOrSet = (o: Extract<Op, { k: 'getOrSet' }>) => {
    const k = KEYS[o.key]!;
    const hit = read(k);
    let load: Load | undefined;
    if (hit === undefined) {
      load = flights.get(k);
      if (load === undefined) {
        let resolve!: (v: Uint8Array) => void;
        let reject!: (e: Error) => void;
        const promise = new Promise<Uint8Array>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        promise.catch(() => {});
        load = {
          id: loads.length,
          key: k,
          ttl: o.ttl,
          promise,
          resolve,
          reject,
          state: 'pending',
          settled: false,
        };
        flights.set(k, load);
        loads.push(load);
      }
    }
    const mine = load;
    const at = where;
    const loader = () => {
      assert.ok(mine, `${at}: the loader was called on a hit`);
      return mine.promise;
    };
    const p =
      o.face === 'sync'
        ? sync.getOrSet(k, loader, o.ttl === undefined ? undefined : { ttl: o.ttl })
        : cache.getOrSet(k, loader, o.ttl);
    if (mine === undefined) return resolvesTo(p, hit);
    expect(p, (r) => {
      const out = mine.outcome;
      assert.ok(out, `${at}: load ${mine.id} never settled`);
      if (out.ok) {
        assert.ok(r.ok, `${at}: rejected with ${r.ok ? '' : String(r.err)}`);
        assert.equal(r.value, out.value, at);
      } else {
        assert.ok(!r.ok, `${at}: resolved, expected ${out.code}`);
        if (out.code === 'loader') assert.equal((r.err as Error).message, 'loader failed', at);
        else assert.equal(codeOf(r.err), out.code, at);
      }
    });
  };

  const setOp = (o: Extract<Op, { k: 'set' }>) => {
    const k = KEYS[o.key]!;
    const value = fresh(o.len);
    const tooLarge = charged(o.len) > maxCost;
    if (o.face === 'sync' && o.cond === 'none') {
      if (tooLarge)
        return assert.throws(() => sync.set(k, value, { ttl: o.ttl }), { code: 'too_large' }, where);
      write(k, value, o.ttl);
      setChecks.push({ where, key: k, value, got: sync.set(k, value, { ttl: o.ttl }) });
      return;
    }
    let options: { ifAbsent?: boolean; ifEquals?: Uint8Array } | undefined;
    let writes = true;
    const cur = entries.get(k);
    if (o.cond === 'ifAbsent') {
      options = { ifAbsent: true };
      writes = !live(cur);
    } else if (o.cond === 'ifEquals') {
      // A copy of the live value (equal bytes, another array), or any value written so far.
      const eq =
        o.pick % 3 === 0 && live(cur)
          ? Uint8Array.from(cur.value)
          : (written[o.pick % Math.max(1, written.length)] ?? new Uint8Array(0));
      options = { ifEquals: eq };
      writes = live(cur) && Buffer.from(cur.value).equals(Buffer.from(eq));
    }
    if (!writes) return resolvesTo(cache.set(k, value, o.ttl, options), false);
    if (tooLarge) return rejectsWith(cache.set(k, value, o.ttl, options), 'too_large');
    write(k, value, o.ttl);
    setChecks.push({ where, key: k, value, got: cache.set(k, value, o.ttl, options) });
  };

  const afterClose = (o: Op) => {
    const k = 'key' in o ? KEYS[o.key]! : 'a';
    if (o.k === 'get' && o.face === 'sync') assert.throws(() => sync.get(k), { code: 'closed' }, where);
    else if (o.k === 'get') rejectsWith(cache.get(k), 'closed');
    else if (o.k === 'set') rejectsWith(cache.set(k, fresh(1)), 'closed');
    else if (o.k === 'getOrSet')
      rejectsWith(
        cache.getOrSet(k, async () => fresh(1)),
        'closed',
      );
    else if (o.k === 'getMany') rejectsWith(cache.getMany([]), 'closed');
    else if (o.k === 'has') rejectsWith(cache.has(k), 'closed');
  };

  try {
    for (const [i, o] of ops.entries()) {
      where = `step ${i} ${JSON.stringify(o)}`;
      if (closed && !['flush', 'resolve', 'reject', 'advance', 'timeout'].includes(o.k)) {
        afterClose(o);
        continue;
      }
      switch (o.k) {
        case 'get': {
          const want = read(KEYS[o.key]!);
          if (o.face === 'sync') assert.equal(sync.get(KEYS[o.key]!), want, where);
          else resolvesTo(cache.get(KEYS[o.key]!), want);
          break;
        }
        case 'has': {
          const want = live(entries.get(KEYS[o.key]!));
          if (o.face === 'sync') assert.equal(sync.has(KEYS[o.key]!), want, where);
          else resolvesTo(cache.has(KEYS[o.key]!), want);
          break;
        }
        case 'set':
          setOp(o);
          break;
        case 'delete': {
          const k = KEYS[o.key]!;
          flights.delete(k);
          const want = live(entries.get(k));
          remove(k);
          if (o.face === 'sync') assert.equal(sync.delete(k), want, where);
          else resolvesTo(cache.delete(k), want);
          break;
        }
        case 'getMany': {
          const ks = o.keys.map((n) => KEYS[n]!);
          const want = ks.map(read);
          const at = where;
          expect(cache.getMany(ks), (r) => {
            assert.ok(r.ok, at);
            assert.deepEqual(r.value, want, at);
          });
          break;
        }
        case 'setMany': {
          const batch = o.entries.map((e) => ({ key: KEYS[e.key]!, value: fresh(e.len), ttl: e.ttl }));
          // Refused whole when one entry cannot be stored: nothing written.
          if (batch.some((e) => charged(e.value.length) > maxCost)) {
            rejectsWith(cache.setMany(batch), 'too_large');
            break;
          }
          const added = counts.keysAdded;
          for (const e of batch) write(e.key, e.value, e.ttl);
          resolvesTo(cache.setMany(batch), undefined);
          // An entry evicted by an earlier entry of the batch is then added afresh (counted again).
          const extra = (sync.stats().keysAdded ?? 0) - counts.keysAdded;
          assert.ok(extra >= 0 && counts.keysAdded + extra - added <= batch.length, `${where}: keysAdded`);
          counts.keysAdded += extra;
          break;
        }
        case 'deleteMany': {
          const ks = o.keys.map((n) => KEYS[n]!);
          let removed = 0;
          for (const k of ks) {
            flights.delete(k);
            if (live(entries.get(k))) removed++;
            remove(k);
          }
          resolvesTo(cache.deleteMany(ks), removed);
          break;
        }
        case 'clear':
          for (const k of [...entries.keys()]) remove(k);
          flights.clear();
          if (o.face === 'sync') sync.clear();
          else resolvesTo(cache.clear(), undefined);
          break;
        case 'getOrSet':
          startGetOrSet(o);
          break;
        case 'resolve':
        case 'reject': {
          const pending = loads.filter((l) => l.state === 'pending');
          const load = pending[o.pick % Math.max(1, pending.length)];
          if (load === undefined) break;
          if (o.k === 'resolve') {
            load.state = 'resolved';
            load.value = fresh(o.len);
            load.resolve(load.value);
          } else {
            load.state = 'rejected';
            load.reject(new Error('loader failed'));
          }
          break;
        }
        case 'flush':
          draining = true;
          await drain();
          draining = false;
          for (const load of loads) settle(load);
          break;
        case 'timeout':
          // Every load not yet seen settled by a flush has run out of time, settled or not.
          for (const load of loads)
            if (!load.settled && load.outcome === undefined) load.outcome = { ok: false, code: 'timeout' };
          tickTimers(LOAD_TIMEOUT);
          break;
        case 'advance':
          now += o.ms;
          break;
        case 'close':
          closed = true;
          for (const load of loads)
            if (!load.settled && load.outcome === undefined) load.outcome = { ok: false, code: 'closed' };
          flights.clear();
          entries.clear();
          await cache.close();
          break;
      }
      endStep();
    }
    // Settle what is left, then look at every answer.
    where = 'end';
    for (const load of loads) {
      if (load.state !== 'pending') continue;
      load.state = 'resolved';
      load.value = fresh(1);
      load.resolve(load.value);
    }
    draining = true;
    await drain();
    draining = false;
    for (const load of loads) settle(load);
    endStep();
    for (const c of checks) {
      let r: Result;
      try {
        r = { ok: true, value: await c.p };
      } catch (err) {
        r = { ok: false, err };
      }
      c.check(r);
    }
  } finally {
    await cache.close();
  }
}

describe('memory cache: both faces against an exact model', () => {
  it(`answers, resident keys, cost and stats match the model under tiny capacity, TTLs and settled-by-hand loads (${RUNS} sequences)`, async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 2, max: 30 }), fc.constantFrom(0.5, 1, 1.5, 2.5, 6.5)),
        fc.option(fc.integer({ min: 1, max: 4000 }), { nil: undefined, freq: 3 }),
        fc.array(op, { maxLength: 120, size: 'max' }),
        (maxCost, defaultTtl, ops) => runSequence(maxCost, defaultTtl, ops, (ms) => t.mock.timers.tick(ms)),
      ),
      { numRuns: RUNS, ...modelReplay() },
    );
  });
});

/** What an `onEvict` hook (or the sequence itself) does to the cache. */
type Act =
  | {
      readonly a: 'set' | 'getOrSet';
      readonly key: number;
      readonly len: number;
      readonly ttl: number | undefined;
    }
  | { readonly a: 'delete' | 'get' | 'has'; readonly key: number }
  | { readonly a: 'clear' | 'none' | 'throw' | 'close' };
type Step = Act | { readonly a: 'advance'; readonly ms: number } | { readonly a: 'sweep' | 'flush' };

const act = (hook: boolean): fc.Arbitrary<Act> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ a: fc.constantFrom('set' as const, 'getOrSet' as const), key, len, ttl }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ a: fc.constantFrom('delete' as const, 'get' as const, 'has' as const), key }),
    },
    {
      weight: hook ? 3 : 1,
      arbitrary: fc.record({
        a: hook
          ? fc.constantFrom('clear' as const, 'none' as const, 'throw' as const, 'close' as const)
          : fc.constant('clear' as const),
      }),
    },
  );
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: act(false) },
  {
    weight: 3,
    arbitrary: fc.record({ a: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2500 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ a: 'sweep' as const }) },
  { weight: 2, arbitrary: fc.constant({ a: 'flush' as const }) },
);

describe('memory cache: onEvict hooks that call back into the cache', () => {
  it(`keep reads, the cost bound and the counters exact while TTL sweeps run (${RUNS} sequences)`, async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.array(act(true), { minLength: 1, maxLength: 30 }),
        fc.array(step, { maxLength: 80, size: 'max' }),
        async (maxCost, hookActs, steps) => {
          let now = 5_000;
          let serial = 0;
          let hookCalls = 0;
          let closed = false;
          let where = '';
          /** The last value written to each key, and its expiry (0: none): what a read may return. */
          const last = new Map<string, { v: string; at: number }>();
          /** Loaded values and their TTL, recorded in `last` when the cost function sees them stored. */
          const loaded = new Map<string, number | undefined>();
          /** The expiry (0: none) of every value written. */
          const expiries = new Map<string, number>();
          const failures: unknown[] = [];
          let removedByDelete = 0;
          let removedByClear = 0;
          // A value of cost `len`: "<serial>:" padded to len + 8 characters.
          const makeValue = (n: number) => `${++serial}:`.padEnd(n + 8, 'x');
          const costOf = (v: string) => v.length - 8;
          const charged = (c: number) => (c < 1 ? Math.min(1, maxCost) : c);
          const cache = createSyncMemoryCache<string>({
            maxCost,
            now: () => now,
            cost: (v, k) => {
              // A value costlier than maxCost is refused before anything is stored.
              if (loaded.has(v) && charged(costOf(v)) <= maxCost) {
                const ttl = loaded.get(v);
                last.set(k, { v, at: ttl === undefined ? 0 : now + ttl });
                expiries.set(v, last.get(k)!.at);
              }
              return costOf(v);
            },
            onEvict: (k, v, reason) => {
              try {
                if (reason === 'expired') {
                  // The value's own expiry: a hook may have written the key again since.
                  const at = expiries.get(v);
                  assert.ok(
                    at !== undefined && at !== 0 && at <= now,
                    `${where}: ${k} reported expired while live`,
                  );
                }
                // Bounded: a hook that sets keeps evicting others, which calls it again.
                if (hookCalls++ < 300) run(hookActs[hookCalls % hookActs.length]!);
              } catch (err) {
                if ((err as Error).message !== 'hook throws') failures.push(err);
                throw err;
              }
            },
          });
          const run = (x: Act | Step): void => {
            if (closed) return;
            const k = 'key' in x ? KEYS[x.key]! : '';
            switch (x.a) {
              case 'set': {
                const v = makeValue(x.len);
                if (charged(x.len) > maxCost) {
                  assert.throws(() => cache.set(k, v, { ttl: x.ttl }), { code: 'too_large' }, where);
                  break;
                }
                last.set(k, { v, at: x.ttl === undefined ? 0 : now + x.ttl });
                expiries.set(v, last.get(k)!.at);
                cache.set(k, v, { ttl: x.ttl });
                break;
              }
              case 'getOrSet': {
                const v = makeValue(x.len);
                loaded.set(v, x.ttl);
                cache
                  .getOrSet(k, async () => v, { ttl: x.ttl })
                  .catch((err) => {
                    if ((err as { code?: string }).code !== 'closed') failures.push(err);
                  });
                break;
              }
              case 'get': {
                const got = cache.get(k);
                if (got !== undefined) {
                  const l = last.get(k);
                  assert.equal(got, l?.v, `${where}: get ${k}`);
                  assert.ok(l!.at === 0 || l!.at > now, `${where}: get ${k} returned an expired value`);
                }
                break;
              }
              case 'has':
                cache.has(k);
                break;
              case 'delete':
                if (cache.delete(k)) removedByDelete++;
                break;
              case 'clear':
                removedByClear += cache.size;
                cache.clear();
                break;
              case 'throw':
                throw new Error('hook throws');
              case 'close':
                closed = true;
                cache.close();
                break;
              case 'advance':
                now += x.ms;
                break;
              case 'sweep':
                t.mock.timers.tick(1000);
                break;
              default:
                break;
            }
          };
          try {
            for (const [i, s] of steps.entries()) {
              where = `step ${i} ${JSON.stringify(s)}`;
              if (s.a === 'flush') await drain();
              else run(s);
              if (failures.length > 0) throw failures[0];
              if (closed) break;
              assert.ok(cache.cost <= maxCost, `${where}: cost ${cache.cost} > maxCost ${maxCost}`);
              assert.equal(cache.keys().length, cache.size, `${where}: size`);
              let sum = 0;
              for (const k of cache.keys()) sum += charged(costOf(last.get(k)!.v));
              assert.equal(cache.cost, sum, `${where}: cost of the resident values`);
              const st = cache.stats();
              assert.equal(
                st.keysAdded! -
                  st.keysEvicted! -
                  st.keysRejected! -
                  st.keysExpired! -
                  removedByDelete -
                  removedByClear,
                cache.size,
                `${where}: entries added − removed ≠ size (${JSON.stringify(st)})`,
              );
            }
          } finally {
            cache.close();
          }
        },
      ),
      { numRuns: RUNS, ...modelReplay() },
    );
  });
});
