import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../../lib/core/errors.js';
import { createNextflight, createSingleflight } from '../../lib/core/singleflight.js';
import { deferred } from '../harness/clock.js';

describe('singleflight', () => {
  it('shares one loader call among 1,000 concurrent callers', async () => {
    const sf = createSingleflight<number>();
    let calls = 0;
    const release = deferred();
    const loader = async () => {
      calls++;
      await release.promise;
      return 42;
    };
    const callers = Array.from({ length: 1000 }, () => sf.do('k', loader));
    assert.equal(sf.size, 1, 'one call in flight');
    release.resolve();
    const results = await Promise.all(callers);
    assert.equal(calls, 1);
    assert.ok(results.every((v) => v === 42));
    assert.equal(sf.size, 0);
  });

  it('delivers a loader error to every caller and does not cache it', async () => {
    const sf = createSingleflight<number>();
    let calls = 0;
    const release = deferred();
    const failing = async () => {
      calls++;
      await release.promise;
      throw new Error('boom');
    };
    const callers = Array.from({ length: 1000 }, () => sf.do('k', failing));
    release.resolve();
    const settled = await Promise.allSettled(callers);
    assert.equal(calls, 1);
    assert.ok(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'boom'));
    assert.equal(await sf.do('k', () => 7), 7, 'the next call runs again');
    assert.equal(calls, 1);
  });

  it('turns a synchronous throw into a rejection', async () => {
    const sf = createSingleflight<number>();
    await assert.rejects(
      sf.do('k', () => {
        throw new Error('sync');
      }),
      /sync/,
    );
  });
});

describe('singleflight arguments (found from outside)', () => {
  // From JavaScript, `do('k')` or `do('k', value)` resolved `undefined` (`.then(value)` passes it
  // through) and shared it with every caller of the key; a key that is not a string was a Map key.
  it('a fn that is not a function or a key that is not a string rejects with a ConfigError naming it', async () => {
    const sf = createSingleflight<number>();
    for (const fn of [undefined, 5, 'load', null]) {
      await assert.rejects(
        sf.do('k', fn as unknown as () => number),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues.length === 1 &&
          e.issues[0]!.path === 'fn' &&
          /is not a function/.test(e.message),
      );
    }
    for (const key of [undefined, 1, {}, Symbol('k')]) {
      await assert.rejects(
        sf.do(key as unknown as string, () => 1),
        (e: unknown) => e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === 'key',
      );
    }
    assert.equal(sf.size, 0, 'nothing was left in flight');
    assert.equal(await sf.do('k', () => 7), 7);
  });
});

describe('nextflight', () => {
  it('a call never gets the result of an execution begun before it; one runs at a time per key', async () => {
    // Arrivals and settlements interleaved at random: each step either starts a call or lets the
    // oldest running execution settle (ok or failed).
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(fc.constant<'call'>('call'), fc.constant<'ok'>('ok'), fc.constant<'fail'>('fail')),
          {
            maxLength: 40,
          },
        ),
        async (steps) => {
          const nf = createNextflight<number>();
          let clock = 0;
          let runningNow = 0;
          let most = 0;
          const begun: number[] = []; // execution id -> clock at its start
          const gates: { resolve: () => void; reject: (e: Error) => void }[] = [];
          const calls: { at: number; result: Promise<number> }[] = [];
          const fn = () => {
            const id = begun.length;
            begun.push(++clock);
            most = Math.max(most, ++runningNow);
            return new Promise<number>((resolve, reject) => {
              gates.push({
                resolve: () => resolve(id),
                reject: (e) => reject(e),
              });
            }).finally(() => runningNow--);
          };
          const flush = () => new Promise((r) => setImmediate(r));
          let settled = 0;
          for (const step of steps) {
            if (step === 'call') {
              const at = ++clock;
              const result = nf.do('k', fn);
              result.catch(() => {});
              calls.push({ at, result });
            } else if (settled < gates.length) {
              const g = gates[settled++]!;
              if (step === 'ok') g.resolve();
              else g.reject(new Error('failed'));
            }
            await flush();
          }
          // Settle everything left (each settlement may start the waiting call's execution).
          for (let i = 0; i < 100 && (settled < gates.length || nf.size > 0); i++) {
            if (settled < gates.length) gates[settled++]!.resolve();
            await flush();
          }
          assert.equal(nf.size, 0);
          assert.ok(most <= 1, 'at most one execution at a time');
          for (const c of calls) {
            const r = await c.result.then(
              (id) => id,
              () => undefined,
            );
            if (r !== undefined)
              assert.ok(begun[r]! > c.at, `call at ${c.at} got execution begun at ${begun[r]}`);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('calls that arrive while one runs share the next: two executions for any number of callers', async () => {
    const nf = createNextflight<number>();
    let calls = 0;
    const gates = [deferred(), deferred()];
    const fn = async () => {
      const i = calls++;
      await gates[i]!.promise;
      return i;
    };
    const first = nf.do('k', fn);
    const rest = Array.from({ length: 100 }, () => nf.do('k', fn));
    const other = nf.do('other', async () => 7); // keys are independent
    assert.equal(await other, 7);
    assert.equal(calls, 1);
    gates[0]!.resolve();
    assert.equal(await first, 0);
    gates[1]!.resolve();
    assert.deepEqual(new Set(await Promise.all(rest)), new Set([1]));
    assert.equal(calls, 2);
    assert.equal(nf.size, 0);
  });
});
