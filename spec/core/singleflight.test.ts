import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSingleflight } from '../../lib/core/singleflight.js';
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
