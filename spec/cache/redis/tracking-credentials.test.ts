/**
 * Server-assisted tracking whose connections are refused for credentials or TLS (found from
 * outside, /tmp probe): the tracker's subscriber failed with iovalkey's bare "Connection is
 * closed.", which it took for an outage and retried, so the first confirmation — a tiered cache's
 * `ready` — never settled (standalone, sentinel and cluster alike), while the L2's own commands
 * failed at once naming the fault. Now `ready` rejects at once with CacheError('unavailable') saying
 * which fault (and, in sentinel mode, that a sentinel refused), the retries go on, and once the
 * fault is fixed on the server the tracker confirms and the cache uses L1 again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import {
  type RedisSentinelSet,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisSentinel,
} from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { sleep, watchUnhandled } from './helpers.js';

const RIGHT = 'tracking-right-password';
const WRONG = 'tracking-wrong-password-planted';
const SENTINEL = 'tracking-sentinel-password';
/** Liveness bound only: a fault surfaces in milliseconds; the old code never settled. */
const BOUND_MS = 10_000;

type RedisCacheOptions = NonNullable<Parameters<typeof createRedisCache>[0]>;

/** A tiered cache with tracking over a Redis cache made of `options`, and its `ready` outcome. */
async function readyOutcome(options: RedisCacheOptions) {
  const l2 = createRedisCache({ commandTimeout: 2000, ...options });
  const tracking = createRedisTracking({ cache: l2 });
  const tiered = createTieredCache({ l1: createMemoryCache({ maxCost: 100 }), l2, tracking });
  let bound: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    tiered.ready.then(
      () => 'ready' as const,
      (err: unknown) => err,
    ),
    new Promise<'pending'>((r) => {
      bound = setTimeout(() => r('pending'), BOUND_MS);
    }),
  ]);
  clearTimeout(bound);
  return {
    outcome,
    tracking,
    close: async () => {
      await tiered.close();
      await tracking.close();
      await l2.close();
    },
  };
}

function assertFault(outcome: unknown, reason: RegExp): void {
  assert.notEqual(outcome, 'pending', 'ready never settled');
  assert.ok(outcome instanceof CacheError, `expected a CacheError, got ${inspect(outcome)}`);
  assert.equal(outcome.code, 'unavailable');
  assert.match(outcome.message, /^redis tracking failed \(\S+\): /);
  assert.match(outcome.message, reason);
  const printed = `${inspect(outcome, { depth: 20, showHidden: true })}${JSON.stringify(outcome.cause)}`;
  assert.ok(!printed.includes(WRONG), 'the password is in the error');
}

describe('tracking refused for credentials or TLS: ready rejects naming the fault', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let redis: RedisStandalone;
  let tlsRedis: RedisStandalone;
  let pki: TestPki;
  const unhandled = watchUnhandled();
  before(async () => {
    pki = await createTestPki();
    redis = await startRedis({ password: RIGHT });
    tlsRedis = await startRedis({ tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key } });
  });
  after(async () => {
    unhandled.dispose();
    await redis?.stop();
    await tlsRedis?.stop();
    await pki?.remove();
  });

  it('wrong password: rejects as an authentication failure, then confirms once the server accepts it', async () => {
    const t = await readyOutcome({ addresses: [`${redis.host}:${redis.port}`], password: WRONG });
    let password = RIGHT;
    try {
      assertFault(t.outcome, /authentication failed/);
      // The password is fixed on the server: the retries go on and the tracker confirms
      // (bounded: 200 × 50 ms).
      await redisCommand(redis.port, ['CONFIG', 'SET', 'requirepass', WRONG], { password: RIGHT });
      password = WRONG;
      for (let i = 0; i < 200 && !t.tracking.confirmed; i++) await sleep(50);
      assert.ok(t.tracking.confirmed, 'tracking never confirmed after the password was fixed');
    } finally {
      await t.close();
      await redisCommand(redis.port, ['CONFIG', 'SET', 'requirepass', RIGHT], { password });
    }
    unhandled.check();
  });

  it('wrong CA: rejects as an untrusted certificate', async () => {
    const t = await readyOutcome({
      addresses: [`${tlsRedis.host}:${tlsRedis.port}`],
      tls: { ca: pki.otherCa.certPem },
    });
    try {
      assertFault(t.outcome, /TLS: the server certificate is not signed by a trusted CA/);
    } finally {
      await t.close();
    }
    unhandled.check();
  });
});

describe('tracking in sentinel mode refused for credentials', { skip: skipRedis() }, () => {
  let set: RedisSentinelSet;
  const unhandled = watchUnhandled();
  before(async () => {
    set = await startRedisSentinel({ password: RIGHT, sentinelPassword: SENTINEL });
  });
  after(async () => {
    unhandled.dispose();
    await set?.stop();
  });
  const options = (password: string, sentinelPassword: string): RedisCacheOptions => ({
    mode: 'sentinel',
    password,
    sentinel: {
      masterName: set.masterName,
      sentinelAddresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      password: sentinelPassword,
    },
  });

  it("the data nodes' password: an authentication failure at the master", async () => {
    const t = await readyOutcome(options(WRONG, SENTINEL));
    try {
      assertFault(t.outcome, /authentication failed at the master/);
    } finally {
      await t.close();
    }
    unhandled.check();
  });

  it("the sentinels' password: an authentication failure at a sentinel", async () => {
    const t = await readyOutcome(options(RIGHT, WRONG));
    try {
      assertFault(t.outcome, /authentication failed at a sentinel/);
    } finally {
      await t.close();
    }
    unhandled.check();
  });
});
