/**
 * The Redis cache under a step of the host's wall clock (an NTP step), the process's `Date.now`
 * stepped as NTP would. Time spans — how long ago a write was refused with `oom`, the wait a write
 * made before it was sent — are measured on the monotonic clock (lib/cache/redis/steady.ts).
 * Found from outside (/tmp/clocks2/b-health.mts): right after a write was refused with `oom`,
 * `health()` said ok once the wall clock was stepped forward 1 h (the refusal looked an hour old),
 * and stepped back it said "refused with oom -3599998 ms ago" for the hour.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'iovalkey';
import { createGuardedWrites } from '../../../lib/cache/redis/deadline.js';
import { createRedisCache, createRedisLease, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createReporter } from '../../../lib/cache/redis/report.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';

const realNow = Date.now;
let step = 0;
const stepClock = (ms: number) => {
  step = ms;
  Date.now = () => realNow() + step;
};
const restoreClock = () => {
  step = 0;
  Date.now = realNow;
};

describeWithServers('redis cache: a step of the wall clock', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;

  before(async () => {
    redis = await startRedis({ maxmemoryPolicy: 'noeviction' });
    cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], commandTimeout: 2000 });
  });
  after(async () => {
    restoreClock();
    await cache?.close();
    await redis?.stop();
  });

  const used = async () => Number(/^used_memory:(\d+)/m.exec(String(await cache.client.info('memory')))?.[1]);

  it('health() still reports a write refused with oom just now, the clock stepped forward 1 h or back', async () => {
    assert.equal((await cache.health()).ok, true);
    // Redis counts the incoming command in its limit check: a large value is refused while memory
    // stays below maxmemory, which health() reports for OOM_RECENT_MS after the refusal.
    await cache.client.config('SET', 'maxmemory', String((await used()) + 512 * 1024));
    try {
      await assert.rejects(cache.set('big', Buffer.alloc(2 * 1024 * 1024, 1)), { code: 'oom' });
      await cache.client.config('SET', 'maxmemory', String((await used()) + 64 * 1024));
      for (const ms of [3_600_000, -3_600_000]) {
        stepClock(ms);
        try {
          const h = await cache.health();
          assert.equal(h.ok, false, `stepped ${ms} ms: ${JSON.stringify(h)}`);
          assert.match(h.error ?? '', /nearly out of memory .*refused with oom \d+ ms ago/);
        } finally {
          restoreClock();
        }
      }
    } finally {
      await cache.client.config('SET', 'maxmemory', '0');
    }
  });
});

/** Just enough of an iovalkey client: `TIME` (the real clock's) answers when the test says so; SETs are recorded. */
function fakeClient() {
  let answerTime: (() => void) | undefined;
  const sent: { deadline: number }[] = [];
  const client = {
    isCluster: false,
    status: 'ready',
    on() {},
    off() {},
    defineCommand() {},
    call() {
      return new Promise((resolve) => {
        answerTime = () => {
          const now = realNow();
          resolve([String(Math.floor(now / 1000)), String((now % 1000) * 1000)]);
        };
      });
    },
    hyperionSetBefore(_key: string, _value: Buffer, deadline: string) {
      sent.push({ deadline: Number(deadline) });
      return Promise.resolve(1);
    },
  };
  return { client: client as unknown as Redis, sent, answerTime: () => answerTime?.() };
}

describe('redis write deadlines: the wall clock stepped back during the wait before the send', () => {
  // The wait since the call used to be `Date.now() - at`: stepped back meanwhile, it counted as 0,
  // so a write that waited 250 ms (for the first clock measurement, or a connection) was sent with
  // its whole budget still ahead, and could land after its caller was told it timed out.
  it('keeps the deadline of the call', async () => {
    const { client, sent, answerTime } = fakeClient();
    const writes = createGuardedWrites(client, 1000);
    try {
      const called = realNow();
      const p = writes.set('k', Buffer.from('v'), undefined, false, 100);
      stepClock(-3_600_000);
      await new Promise((r) => setTimeout(r, 250)); // the TIME reply is late
      answerTime();
      assert.equal(await p, 1);
      assert.equal(sent.length, 1);
      // The fake server's clock is the real one: 100 ms minus the margin, from the call.
      assert.ok(
        sent[0]!.deadline <= called + 100,
        `deadline ${sent[0]!.deadline - called} ms after the call`,
      );
    } finally {
      restoreClock();
      writes.stop();
    }
  });
});

/** Moves the monotonic clock (`performance.now`) on by `ms`, as time passing would. */
function advanceSteady(ms: number): () => void {
  const realPerfNow = performance.now.bind(performance);
  performance.now = () => realPerfNow() + ms;
  return () => {
    performance.now = realPerfNow;
  };
}

describe('redis cache bookkeeping: the wall clock stepped', () => {
  // Found from outside (/tmp/clocks2/b-report.mts): after one logged failure and the clock stepped
  // back 1 h, a failure 5.2 s later was not logged — the 5 s quiet time ran for the hour.
  it('a step back does not stretch the 5 s quiet time between logged warnings', () => {
    const logged: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn(m: string) {
        logged.push(m);
      },
      child: () => logger,
    };
    const report = createReporter(logger);
    report('first', {});
    stepClock(-3_600_000);
    const restore = advanceSteady(5_100); // 5.1 s pass
    try {
      report('second', {});
    } finally {
      restore();
      restoreClock();
    }
    assert.deepEqual(logged, ['first', 'second']);
  });

  // An acquire whose SET timed out sends a release behind it; not connected, that release waits
  // for 'ready' within the lease's ttl. Counted on Date.now, a clock stepped forward 1 h meanwhile
  // dropped it, and the lease (if its SET landed) stayed held by nobody for its whole ttl.
  it("a forward step does not drop a late release waiting for 'ready'", async () => {
    const evals: unknown[][] = [];
    const fake = Object.assign(new EventEmitter(), {
      status: 'ready',
      options: { commandTimeout: 200 },
      set: () => Promise.reject(new Error('Command timed out')),
      eval(...args: unknown[]) {
        evals.push(args);
        // Not connected any more: the first release fails, the client is reconnecting.
        if (fake.status !== 'ready') return Promise.reject(new Error('Connection is closed.'));
        return Promise.resolve(1);
      },
    });
    const lease = createRedisLease({ client: fake as unknown as Redis, ttl: 10_000 });
    const acquiring = lease.acquire('k');
    fake.status = 'reconnecting';
    await assert.rejects(acquiring, { code: 'timeout' });
    for (let i = 0; i < 10 && evals.length === 0; i++) await new Promise((r) => setImmediate(r));
    assert.equal(evals.length, 1, 'the first release was tried');
    await new Promise((r) => setImmediate(r));
    stepClock(3_600_000);
    try {
      fake.status = 'ready';
      fake.emit('ready');
      assert.equal(evals.length, 2, 'the release was sent once ready again');
    } finally {
      restoreClock();
    }
  });
});
