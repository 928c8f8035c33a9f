/**
 * Interleavings of the core's concurrency primitives, explored with fast-check's scheduler
 * (`fc.scheduler()` decides when each pending promise settles): `createSingleflight` under random
 * `do` / `forget` calls whose loads succeed, reject or throw; `createApp`'s disposer stack under
 * random `defer` / `close()` calls, disposers that fail, re-enter `close()` or defer more, and
 * budgets that run out. Properties: every caller settles with the outcome of the call it joined,
 * each disposer runs once, those registered before the close one at a time and newest first, and
 * the failures come back as one `CloseError` as documented. `HYPERION_INTERLEAVING_RUNS` sets the
 * number of cases (default 60; e.g. 2000 for a longer run).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type App, createApp } from '../../lib/core/app.js';
import { CloseError, HyperionError, TimeoutError } from '../../lib/core/errors.js';
import { createSingleflight } from '../../lib/core/singleflight.js';

const RUNS = Number(process.env.HYPERION_INTERLEAVING_RUNS ?? 60);

describe('singleflight under random interleavings', () => {
  type Outcome = 'ok' | 'reject' | 'throw';
  type Op = { kind: 'do'; key: string; outcome: Outcome } | { kind: 'forget'; key: string | undefined };
  const key = fc.constantFrom('a', 'b', '__proto__');
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('do' as const),
        key,
        outcome: fc.constantFrom<Outcome>('ok', 'reject', 'throw'),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('forget' as const), key: fc.option(key, { nil: undefined }) }),
    },
  );

  it('every caller gets the outcome of the call it joined; one load per call; nothing left in flight (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(op, { maxLength: 25 }), async (s, ops) => {
        const sf = createSingleflight<string>();
        // The model: the call each key would join now (the calls are all made before any settles).
        const joinable = new Map<string, { id: number; outcome: Outcome }>();
        let calls = 0;
        let loads = 0;
        const checks: Promise<void>[] = [];
        for (const o of ops) {
          if (o.kind === 'forget') {
            sf.forget(o.key);
            if (o.key === undefined) joinable.clear();
            else joinable.delete(o.key);
            continue;
          }
          let call = joinable.get(o.key);
          if (call === undefined) {
            call = { id: calls++, outcome: o.outcome };
            joinable.set(o.key, call);
          }
          const { id, outcome } = call;
          const p = sf.do(o.key, () => {
            loads++;
            if (outcome === 'throw') throw new Error(`throw ${id}`);
            return s.schedule(Promise.resolve(id), `load ${id}`).then((v) => {
              if (outcome === 'reject') throw new Error(`reject ${id}`);
              return `value ${v}`;
            });
          });
          checks.push(
            p.then(
              (v) => assert.equal(v, `value ${id}`),
              (err: Error) => assert.equal(err.message, `${outcome} ${id}`),
            ),
          );
        }
        await s.waitFor(Promise.all(checks));
        assert.equal(loads, calls, 'one load per call');
        assert.equal(sf.size, 0, 'nothing left in flight');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('createApp: disposers under random interleavings of defer and close()', () => {
  type Behaviour = 'sync' | 'throw' | 'async' | 'reject' | 'close-inside' | 'defer-inside';
  type Op = { kind: 'defer'; behaviour: Behaviour } | { kind: 'close' } | { kind: 'step' };
  const behaviour = fc.constantFrom<Behaviour>(
    'sync',
    'throw',
    'async',
    'reject',
    'close-inside',
    'defer-inside',
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: behaviour.map((b) => ({ kind: 'defer' as const, behaviour: b })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'close' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'step' as const }) },
  );
  const fails = (b: Behaviour) => b === 'throw' || b === 'reject';

  it('each runs once, newest first and one at a time; every close() gets one CloseError naming the failed ones in run order (property)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler(),
          fc.array(behaviour, { maxLength: 3 }),
          fc.array(op, { maxLength: 14 }),
          async (s, componentBehaviours, ops) => {
            const runs = new Map<string, number>();
            const started: string[] = [];
            let running = 0;
            let overlapped = false;
            let app: App | undefined;
            const disposer = (name: string, b: Behaviour, late: boolean) => () => {
              runs.set(name, (runs.get(name) ?? 0) + 1);
              if (!late) {
                started.push(name);
                running++;
                if (running > 1) overlapped = true;
              }
              const done = () => {
                if (!late) running--;
              };
              switch (b) {
                case 'sync':
                  return done();
                case 'throw':
                  done();
                  throw new Error(`boom ${name}`);
                case 'async':
                  return s.schedule(Promise.resolve(), name).then(done);
                case 'reject':
                  return s.schedule(Promise.resolve(), name).then(() => {
                    done();
                    throw new Error(`boom ${name}`);
                  });
                case 'close-inside':
                  // a disposer awaiting the close it is part of gets a promise that resolves at once
                  return app!.close().then(done);
                case 'defer-inside':
                  app!.defer(`late ${name}`, () => {
                    runs.set(`late ${name}`, (runs.get(`late ${name}`) ?? 0) + 1);
                  });
                  return done();
              }
            };
            const components: Record<string, { close(): unknown }> = {};
            const registered: { name: string; b: Behaviour }[] = [];
            componentBehaviours.forEach((b, i) => {
              components[`component ${i}`] = { close: disposer(`component ${i}`, b, false) };
              registered.push({ name: `component ${i}`, b });
            });
            app = createApp({ components });
            const closes: Promise<void>[] = [];
            const late: string[] = [];
            for (const [i, o] of ops.entries()) {
              if (o.kind === 'close') closes.push(app.close());
              else if (o.kind === 'step') {
                if (s.count() > 0) await s.waitOne();
              } else if (closes.length > 0) {
                // registered once the close began: runs at once, in the background
                late.push(`late ${i}`);
                app.defer(`late ${i}`, disposer(`late ${i}`, o.behaviour, true));
              } else {
                registered.push({ name: `deferred ${i}`, b: o.behaviour });
                app.defer(`deferred ${i}`, disposer(`deferred ${i}`, o.behaviour, false));
              }
            }
            if (closes.length === 0) closes.push(app.close());
            const outcomes = await s.waitFor(Promise.allSettled(closes));
            await s.waitAll();

            const order = registered.map((r) => r.name).reverse();
            assert.deepEqual(started, order, 'newest first');
            assert.equal(overlapped, false, 'one at a time');
            for (const [name, n] of runs) assert.equal(n, 1, `${name} ran once`);
            for (const name of late) assert.equal(runs.get(name), 1, `${name} ran`);
            const failed = order.filter((n) => fails(registered.find((r) => r.name === n)!.b));
            for (const outcome of outcomes) {
              if (failed.length === 0) {
                assert.equal(outcome.status, 'fulfilled');
                continue;
              }
              assert.equal(outcome.status, 'rejected');
              const err = (outcome as PromiseRejectedResult).reason;
              assert.ok(err instanceof CloseError && err.code === 'close_failed');
              assert.deepEqual(
                err.errors.map((e) => {
                  assert.ok(e instanceof HyperionError && e.code === 'dispose_failed');
                  assert.equal((e.cause as Error).message, `boom ${/"(.*)"/.exec(e.message)![1]}`);
                  return /"(.*)"/.exec(e.message)![1];
                }),
                failed,
              );
              assert.ok(
                err.message.includes(
                  failed
                    .slice(0, 10)
                    .map((n) => `"${n}"`)
                    .join(', '),
                ),
              );
            }
            assert.equal(app.closed, true);
          },
        ),
        { numRuns: RUNS },
      );
    } finally {
      // late disposers that fail are reported as HyperionDisposeWarning, never as a rejection
      await new Promise((r) => setImmediate(r));
      process.off('warning', onWarning);
    }
    assert.ok(
      warnings.every((w) => w === 'HyperionDisposeWarning'),
      warnings.join(),
    );
  });

  it('a disposer out of budget is a TimeoutError, is told so (signal), and the rest still run (property)', async () => {
    type Slow = 'ok' | 'hang' | 'hang-until-aborted' | 'reject-undefined' | 'throw-null';
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.constantFrom<Slow>('ok', 'hang', 'hang-until-aborted', 'reject-undefined', 'throw-null'),
          {
            maxLength: 4,
          },
        ),
        fc.integer({ min: 1, max: 3 }),
        async (behaviours, concurrentCloses) => {
          const app = createApp({ disposeTimeoutMs: 5 });
          const ran: string[] = [];
          const aborted: string[] = [];
          behaviours.forEach((b, i) => {
            app.defer(`d${i}`, ({ signal }) => {
              ran.push(`d${i}`);
              signal.addEventListener('abort', () => aborted.push(`d${i}`));
              if (b === 'hang') return new Promise<void>(() => {});
              if (b === 'hang-until-aborted')
                return new Promise<void>((_, reject) =>
                  signal.addEventListener('abort', () => reject(signal.reason)),
                );
              if (b === 'reject-undefined') return Promise.reject(undefined);
              if (b === 'throw-null') throw null;
            });
          });
          const outcomes = await Promise.allSettled(
            Array.from({ length: concurrentCloses }, () => app.close()),
          );
          const order = behaviours.map((_, i) => `d${i}`).reverse();
          assert.deepEqual(ran, order);
          const timedOut = order.filter((n) => behaviours[Number(n.slice(1))]!.startsWith('hang'));
          const failed = order.filter((n) => behaviours[Number(n.slice(1))] !== 'ok');
          assert.deepEqual(
            [...aborted].sort(),
            [...timedOut].sort(),
            'only the ones out of budget are aborted',
          );
          for (const outcome of outcomes) {
            if (failed.length === 0) {
              assert.equal(outcome.status, 'fulfilled');
              continue;
            }
            const err = (outcome as PromiseRejectedResult).reason;
            assert.ok(err instanceof CloseError);
            err.errors.forEach((e, k) => {
              const name = failed[k]!;
              assert.ok((e as Error).message.includes(`"${name}"`));
              if (timedOut.includes(name)) assert.ok(e instanceof TimeoutError, `${name}: ${e}`);
              else assert.ok(e instanceof HyperionError && e.code === 'dispose_failed', `${name}: ${e}`);
            });
            assert.equal(err.errors.length, failed.length);
          }
        },
      ),
      { numRuns: Math.max(5, Math.round(RUNS / 4)) },
    );
  });
});
