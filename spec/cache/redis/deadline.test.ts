/**
 * The write deadline of the Redis cache (lib/cache/redis/deadline.ts) counts from when the write
 * was called, also when the write first waited for the first server clock measurement. Found by
 * the faulted tiered model test (seed 870581875): the first writes of a cache waited for a `TIME`
 * that a dropped connection answered ~300 ms late, and were then sent with a fresh 100 ms budget,
 * so they landed after the caller had been told they timed out (and after a newer delete).
 * Deletes are guarded the same way and keep the deadline of their call too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'iovalkey';
import { createGuardedWrites, steadyNow } from '../../../lib/cache/redis/deadline.js';

/** Just enough of an iovalkey client: `TIME` answers when the test says so; SETs and deletes are recorded. */
function fakeClient() {
  let answerTime: (() => void) | undefined;
  const sent: { key: string; deadline: number; at: number }[] = [];
  const deleted: { keys: string[]; arg: string; deadline: number; at: number }[] = [];
  const client = {
    isCluster: false,
    status: 'ready',
    on() {},
    off() {},
    defineCommand() {},
    call(cmd: string) {
      assert.equal(cmd, 'TIME');
      return new Promise((resolve) => {
        answerTime = () => {
          const now = Date.now();
          resolve([String(Math.floor(now / 1000)), String((now % 1000) * 1000)]);
        };
      });
    },
    hyperionSetBefore(key: string, _value: Buffer, deadline: string) {
      sent.push({ key, deadline: Number(deadline), at: Date.now() });
      return Promise.resolve(1);
    },
    // The delete script's arguments, as one array (iovalkey flattens it): the number of keys, the
    // keys, the deadline.
    hyperionDeleteBefore(...args: unknown[]) {
      const [count, ...rest] = args.flat() as [number, ...string[]];
      const arg = rest[count]!;
      deleted.push({ keys: rest.slice(0, count), arg, deadline: Number(arg), at: Date.now() });
      return Promise.resolve(count);
    },
  };
  return { client: client as unknown as Redis, sent, deleted, answerTime: () => answerTime?.() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis write deadlines', () => {
  it('a write that waited for the first clock measurement keeps the deadline of its call', async () => {
    const { client, sent, answerTime } = fakeClient();
    const writes = createGuardedWrites(client, 1000);
    try {
      const called = Date.now();
      const p = writes.set('k', Buffer.from('v'), undefined, false, 100);
      await sleep(250); // the TIME reply is late (a dropped or slow connection)
      answerTime();
      assert.equal(await p, 1);
      assert.equal(sent.length, 1);
      // Budget 100 ms minus the margin, from the call — not from the send ~250 ms later.
      assert.ok(
        sent[0]!.deadline <= called + 100,
        `deadline ${sent[0]!.deadline - called} ms after the call (sent ${sent[0]!.at - called} ms after it)`,
      );
    } finally {
      writes.stop();
    }
  });

  it('a delete that waited for the first clock measurement keeps the deadline of its call', async () => {
    const { client, deleted, answerTime } = fakeClient();
    const writes = createGuardedWrites(client, 100);
    try {
      const called = Date.now();
      const p = writes.delete(['a', 'b'], undefined, called);
      await sleep(250); // the TIME reply is late
      answerTime();
      assert.equal(await p, 2);
      assert.equal(deleted.length, 1);
      assert.deepEqual(deleted[0]!.keys, ['a', 'b']);
      // The command timeout (100 ms) minus the margin, from the call — not from the send.
      assert.ok(
        deleted[0]!.deadline <= called + 100,
        `deadline ${deleted[0]!.deadline - called} ms after the call (sent ${deleted[0]!.at - called} ms after it)`,
      );
    } finally {
      writes.stop();
    }
  });

  it('a cache without a command timeout sends deletes with no deadline', async () => {
    const { client, deleted } = fakeClient();
    const writes = createGuardedWrites(client, undefined);
    try {
      assert.equal(writes.pending(), undefined, 'nothing waits for a clock measurement');
      assert.equal(await writes.delete(['k']), 1);
      assert.deepEqual(deleted[0]!.keys, ['k']);
      assert.equal(deleted[0]!.arg, '', 'no deadline');
    } finally {
      writes.stop();
    }
  });

  it('an explicit call time is used for the deadline, else now', () => {
    const { client } = fakeClient();
    const writes = createGuardedWrites(client, 1000);
    try {
      const at = Date.now() - 5000;
      const margin = 100; // 10 % of 1000
      assert.ok(Math.abs(Number(writes.deadline(undefined, at)) - (at + 1000 - margin)) <= 2);
      assert.ok(Number(writes.deadline()) >= Date.now() + 1000 - margin - 2);
    } finally {
      writes.stop();
    }
  });
});

/**
 * Found from outside (a client whose `Date.now` was stepped back 1 h, an NTP step, right after the
 * cache measured Redis's clock): every SET and delete was refused as late (`timeout`) until the
 * next measurement, up to 30 s later; stepped forward, deadlines lay 1 h out, so a write reported
 * as timed out could land. Deadlines now count on the monotonic clock the offset is measured against.
 */
describe('redis write deadlines: a step of the client wall clock', () => {
  it('moves no deadline (stepped back or forward 1 h after the clock measurement)', async () => {
    const { client, answerTime } = fakeClient();
    const writes = createGuardedWrites(client, 1000);
    const realNow = Date.now;
    try {
      const first = writes.pending();
      answerTime();
      await first;
      const margin = 100; // 10 % of 1000
      for (const step of [-3_600_000, 3_600_000]) {
        Date.now = () => realNow() + step;
        // The fake server's clock is the real one: the deadline is in its time.
        const expected = realNow() + 1000 - margin;
        const got = Number(writes.deadline());
        assert.ok(Math.abs(got - expected) <= 20, `stepped ${step} ms: deadline ${got - expected} ms off`);
        // A call time taken (on the steady clock, as the cache does) before a wait still counts.
        const waited = Number(writes.deadline(undefined, steadyNow() - 300));
        assert.ok(
          Math.abs(waited - (expected - 300)) <= 20,
          `stepped ${step} ms: ${waited - expected + 300} ms off`,
        );
      }
    } finally {
      Date.now = realNow;
      writes.stop();
    }
  });
});

/**
 * Found from outside (`npm run demo` with a REDIS_URL, /tmp/w31/obs/demo-redis-dbg.mts): the event
 * loop stalled ~90 ms (the embedded database starting) while a service's `TIME` reply waited in the
 * socket, so the measurement's round trip was ~180 ms. Its offset (−88 ms) and uncertainty (92 ms)
 * were both right as bounds, but together they shortened every deadline by 180 of the 200 ms
 * budget: Redis refused every SET and delete of that service as late (`timeout`) until the next
 * measurement 30 s later — its L2 had 0 % hits for the whole run. A wide measurement is now taken
 * again at once and the narrower one kept.
 */
describe('redis write deadlines: a clock measurement stretched by a stall', () => {
  it('is measured again at once, so deadlines get their budget back', async () => {
    let calls = 0;
    const client = {
      isCluster: false,
      status: 'ready',
      on() {},
      off() {},
      defineCommand() {},
      call(cmd: string) {
        assert.equal(cmd, 'TIME');
        calls++;
        // Redis reads its clock when the command arrives; the first reply is read 300 ms later
        // (the client's event loop was busy), the others at once.
        const now = Date.now();
        const reply = [String(Math.floor(now / 1000)), String((now % 1000) * 1000)];
        return calls === 1 ? sleep(300).then(() => reply) : Promise.resolve(reply);
      },
    };
    const writes = createGuardedWrites(client as unknown as Redis, 200);
    try {
      await sleep(400); // the stretched measurement, then the one after it
      const margin = 20; // 10 % of 200
      const left = Number(writes.deadline()) - Date.now();
      // 200 ms minus the margin and a couple of ms of measurement error; with the stretched
      // measurement alone it was about 200 − 150 − 150 − 20 = −120 ms: every write was late.
      assert.ok(left >= 200 - margin - 10, `a write called now may reach Redis ${left} ms from now`);
      assert.ok(calls >= 2, `measured ${calls} time(s)`);
    } finally {
      writes.stop();
    }
  });
});
