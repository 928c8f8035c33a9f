/** Unit tests of the tiered cache's parts: envelope, breaker, deadline queue, seeded RNG, jitter. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBreaker } from '../../../lib/cache/tiered/breaker.js';
import { createFence } from '../../../lib/cache/tiered/coherence.js';
import { decodeEnvelope, encodeEnvelope, HEADER_BYTES } from '../../../lib/cache/tiered/envelope.js';
import { createDeadlineQueue, jitterTtl, withTimeout } from '../../../lib/cache/tiered/timing.js';
import { CacheError } from '../../../lib/core/errors.js';
import { createSeededRandom } from '../../../lib/core/random.js';
import { deferred, within } from '../../harness/clock.js';
import { bytes, fakeClock, text } from './fakes.js';

describe('tiered cache parts', () => {
  it('envelope: round trip, no-expiry, and plain values are not mistaken for envelopes', () => {
    const e = decodeEnvelope(encodeEnvelope(bytes('hello'), 1000.5, 2000, 750))!;
    assert.deepEqual(
      { v: text(e.value), f: e.freshUntil, s: e.staleUntil, t: e.ttl },
      { v: 'hello', f: 1000.5, s: 2000, t: 750 },
    );
    const inf = decodeEnvelope(encodeEnvelope(new Uint8Array(0), Infinity, Infinity, 0))!;
    assert.equal(inf.freshUntil, Infinity);
    assert.equal(inf.value.byteLength, 0);
    assert.equal(decodeEnvelope(bytes('{"json": true, "padding": "........................"}')), undefined);
    assert.equal(decodeEnvelope(new Uint8Array(HEADER_BYTES - 1).fill(0xc1)), undefined);
    // A view into a larger buffer (as Redis clients return) decodes too.
    const big = new Uint8Array(100);
    big.set(encodeEnvelope(bytes('x'), 1, 2, 3), 10);
    assert.equal(text(decodeEnvelope(big.subarray(10, 10 + HEADER_BYTES + 1))!.value), 'x');
  });

  it('envelope: foreign binary values that start with the marker and version are not cut as envelopes', () => {
    const withHeader = (fresh: number, stale: number, ttl: number) => {
      const out = encodeEnvelope(bytes('payload'), 0, 0, 0);
      const view = new DataView(out.buffer);
      view.setFloat64(2, fresh);
      view.setFloat64(10, stale);
      view.setFloat64(18, ttl);
      return out;
    };
    const now = Date.now();
    const impossible: [number, number, number][] = [
      [Number.NaN, now, 0],
      [now, Number.NaN, 0],
      [now, now, Number.NaN],
      [now, now - 1, 10], // stale before fresh
      [now, now + 1e15, 10], // a grace no option allows
      [now, now, -5],
      [now, now, 2 ** 60],
      [Infinity, Infinity, 5], // no expiry is written with ttl 0
      [Infinity, now, 0],
      [-Infinity, -Infinity, 0],
    ];
    for (const [fresh, stale, ttl] of impossible) {
      assert.equal(
        decodeEnvelope(withHeader(fresh, stale, ttl)),
        undefined,
        `header ${fresh}/${stale}/${ttl}`,
      );
    }
    // Random binary that happens to begin with the two header bytes is mostly refused.
    const random = createSeededRandom(7);
    let taken = 0;
    for (let i = 0; i < 2000; i++) {
      const b = new Uint8Array(40).map(() => Math.floor(random() * 256));
      b[0] = 0xc1;
      b[1] = 0x01;
      if (decodeEnvelope(b) !== undefined) taken++;
    }
    assert.ok(taken < 200, `${taken} of 2000 random values read as envelopes`);
    // What writers make still decodes, at the edges of the bounds and with any clock.
    const year = 365 * 24 * 3600 * 1000;
    assert.ok(decodeEnvelope(withHeader(now, now + year, 2 * 2 ** 52)));
    assert.ok(decodeEnvelope(withHeader(now + 2 ** 52, now + 2 ** 52 + year, 2 ** 52)));
    assert.ok(decodeEnvelope(withHeader(0, 0, 0)));
    assert.ok(decodeEnvelope(withHeader(-50, -40, 1e-300)));
  });

  it('breaker: closed → open after N failures → half-open single probe → closed or open again', () => {
    const clock = fakeClock();
    const b = createBreaker(2, 100, clock.now);
    b.failure();
    b.success();
    b.failure();
    assert.equal(b.state(), 'closed', 'failures must be consecutive');
    b.failure();
    assert.equal(b.state(), 'open');
    assert.equal(b.allow(), false);
    clock.advance(100);
    assert.equal(b.state(), 'half-open');
    assert.equal(b.allow(), true, 'the probe');
    assert.equal(b.allow(), false, 'only one probe at a time');
    b.failure();
    assert.equal(b.state(), 'open');
    assert.equal(b.opens, 2);
    clock.advance(100);
    assert.equal(b.allow(), true);
    b.success();
    assert.equal(b.state(), 'closed');
    assert.equal(b.allow(), true);
  });

  it('breaker: a released probe (no verdict) hands the probe to the next call, the breaker still open', () => {
    const clock = fakeClock();
    const b = createBreaker(1, 100, clock.now);
    b.failure();
    clock.advance(100);
    assert.equal(b.allow(), true, 'the probe');
    assert.equal(b.allow(), false);
    b.release();
    assert.equal(b.state(), 'half-open');
    assert.equal(b.opens, 1);
    assert.equal(b.allow(), true, 'the next call probes at once');
    b.success();
    assert.equal(b.state(), 'closed');
    b.release();
    assert.equal(b.state(), 'closed', 'nothing changes with no probe out');
  });

  it('fence: a mark stays valid until its key (or everything) is invalidated', () => {
    const f = createFence();
    const m = f.mark();
    assert.equal(f.stillValid('a', m), true);
    f.invalidate('b');
    assert.equal(f.stillValid('a', m), true);
    assert.equal(f.stillValid('b', m), false);
    const m2 = f.mark();
    assert.equal(f.stillValid('b', m2), true);
    f.invalidateAll();
    assert.equal(f.stillValid('a', m2), false);
  });

  it('deadline queue: fires expired deadlines in order, skips cancelled ones', async () => {
    // The queue runs on performance.now() and a real timer (no clock option): wait for the fires.
    const q = createDeadlineQueue(20);
    const fired: string[] = [];
    const cFired = deferred();
    q.track(() => fired.push('a'));
    const b = q.track(() => fired.push('b'));
    b.fire = undefined;
    q.track(() => {
      fired.push('c');
      cFired.resolve();
    });
    assert.deepEqual(fired, [], 'nothing fires before its deadline');
    await within(cFired.promise, 5000, 'deadline c to fire');
    assert.deepEqual(fired, ['a', 'c'], 'in order, and the cancelled b (queued before c) never fired');
  });

  it('deadline queue: re-arms after going idle', async () => {
    const q = createDeadlineQueue(20);
    const first = deferred();
    q.track(() => first.resolve());
    await within(first.promise, 5000, 'the first deadline to fire');
    const second = deferred();
    q.track(() => second.resolve());
    await within(second.promise, 5000, 'a deadline tracked after the queue went idle to fire');
  });

  it('withTimeout rejects with CacheError timeout and swallows the late rejection', async () => {
    let rejectLate!: (e: Error) => void;
    const slow = new Promise<never>((_, reject) => {
      rejectLate = reject;
    });
    await assert.rejects(
      withTimeout(slow, 10, 'thing'),
      (e: unknown) => e instanceof CacheError && e.code === 'timeout',
    );
    rejectLate(new Error('late'));
    assert.equal(await withTimeout(Promise.resolve(5), Infinity, 'x'), 5);
  });

  it('seeded random is deterministic; jitter stays within ± fraction', () => {
    const a = createSeededRandom(1);
    const b = createSeededRandom(1);
    const xs = Array.from({ length: 5 }, a);
    assert.deepEqual(xs, Array.from({ length: 5 }, b));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, createSeededRandom(2)));
    assert.equal(jitterTtl(1000, 0, a), 1000);
    assert.equal(
      jitterTtl(1000, 0.5, () => 0),
      500,
    );
    assert.ok(Math.abs(jitterTtl(1000, 0.5, () => 0.999999) - 1499.999) < 1e-6);
    assert.equal(
      jitterTtl(1, 1, () => 0),
      1,
      'never below 1 ms',
    );
  });
});
