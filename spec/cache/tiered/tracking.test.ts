/**
 * Server-assisted invalidation (CLIENT TRACKING) of the tiered cache on a real standalone Redis:
 * writes by another program (a redis-cli process) reach L1 in both modes, with the lag measured
 * over 1,000 writes each; DEL / EXPIRE / FLUSHALL; our own instances without a bus; the per-key
 * fence against a read racing an invalidation; and the loss windows (subscriber or data
 * connection killed): L1 is bypassed until tracking is confirmed again, and nothing written
 * meanwhile is missed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking, type RedisCache } from '../../../lib/cache/redis/index.js';
import {
  createTieredCache,
  type TieredCache,
  type TieredCacheOptions,
} from '../../../lib/cache/tiered/index.js';
import type { Cache, Logger } from '../../../lib/core/contracts.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { startRedisOnPort } from './restart.js';
import {
  holdInL1,
  measureLag,
  type OutsideWriter,
  outsideWriter,
  summary,
  text,
  tick,
} from './tracking-helpers.js';

let unique = 0;
const bytes = (s: string) => Buffer.from(s);

describeWithServers('tiered cache with Redis CLIENT TRACKING (standalone)', skipRedis(), () => {
  let redis: RedisStandalone;
  let cli: OutsideWriter;
  const closers: (() => Promise<unknown>)[] = [];
  before(async () => {
    redis = await startRedis();
    cli = outsideWriter(redis.port);
  });
  after(async () => {
    cli?.close();
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  function instance(
    ns: string,
    mode: 'default' | 'bcast',
    extra: Partial<TieredCacheOptions> & { wrapL2?: (c: RedisCache) => Cache } = {},
  ): { cache: TieredCache; l2: RedisCache } {
    const { wrapL2, ...options } = extra;
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: `${ns}:`,
      commandTimeout: 1000,
    });
    const tracking = createRedisTracking({ cache: l2, mode, heartbeat: 200 });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2: wrapL2 ? wrapL2(l2) : l2,
      tracking,
      l1Ttl: 60_000,
      ...options,
    });
    closers.push(() => cache.close());
    return { cache, l2 };
  }

  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode} mode: 1,000 redis-cli SETs each reach L1; lag from the write's reply to the first fresh read`, async () => {
      const ns = `lag${++unique}`;
      const { cache } = instance(ns, mode);
      await cache.ready;
      await cache.set('k', bytes('start'), 60_000);
      const delays = await measureLag(cache, cli, 'k', `${ns}:k`, 1000);
      const s = summary(delays);
      console.log(
        `# ${mode} mode, 1000 outside writes: write reply → first fresh read median ${s.median.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, max ${s.max.toFixed(3)} ms`,
      );
      assert.equal(delays.length, 1000);
      assert.ok(cache.stats().trackingInvalidations >= 1000);
      assert.equal(cache.stats().trackingConfirmed, 1);
    });
  }

  it('DEL, EXPIRE and FLUSHALL from outside: the next read after the invalidation sees them', async () => {
    const ns = `ops${++unique}`;
    const { cache } = instance(ns, 'default');
    await cache.ready;
    await cache.set('d', bytes('v'), 60_000);
    assert.equal(await holdInL1(cache, 'd'), 'v');
    let n = cache.stats().trackingInvalidations;
    assert.equal(await cli.run(`DEL ${ns}:d`), '1');
    await waitFor(() => cache.stats().trackingInvalidations > n, { what: 'DEL invalidation' });
    assert.equal(await cache.get('d'), undefined);

    await cache.set('e', bytes('v'), 60_000);
    assert.equal(await holdInL1(cache, 'e'), 'v');
    n = cache.stats().trackingInvalidations;
    assert.equal(await cli.run(`EXPIRE ${ns}:e 0`), '1');
    await waitFor(() => cache.stats().trackingInvalidations > n, { what: 'EXPIRE invalidation' });
    assert.equal(await cache.get('e'), undefined);

    // A shorter TTL set from outside: dropped at once (EXPIRE is a change), gone once it expires.
    await cache.set('p', bytes('v'), 60_000);
    assert.equal(await holdInL1(cache, 'p'), 'v');
    assert.equal(await cli.run(`PEXPIRE ${ns}:p 150`), '1');
    await waitFor(async () => (await cache.get('p')) === undefined, {
      timeoutMs: 3000,
      what: 'the key to expire out of L1 too',
    });

    await cache.set('f', bytes('v'), 60_000);
    assert.equal(await holdInL1(cache, 'f'), 'v');
    const clears = cache.stats().l1Clears;
    assert.equal(await cli.run('FLUSHALL'), 'OK');
    await waitFor(() => cache.stats().l1Clears > clears, { what: 'the null invalidation to clear L1' });
    assert.equal(await cache.get('f'), undefined);
  });

  for (const mode of ['default', 'bcast'] as const) {
    it(`${mode} mode: our own instances invalidate each other through tracking alone (no bus)`, async () => {
      const ns = `own${++unique}`;
      const { cache: a } = instance(ns, mode);
      const { cache: b } = instance(ns, mode);
      await Promise.all([a.ready, b.ready]);
      await a.set('k', bytes('v0'), 60_000);
      for (let i = 1; i <= 50; i++) {
        assert.equal(await holdInL1(b, 'k'), `v${i - 1}`);
        const n = b.stats().trackingInvalidations;
        await a.set('k', bytes(`v${i}`), 60_000);
        // The writer never serves its old copy: its write dropped it.
        assert.equal(text(await a.get('k')), `v${i}`);
        await waitFor(() => b.stats().trackingInvalidations > n, { what: 'B to get the invalidation' });
        assert.equal(text(await b.get('k')), `v${i}`);
      }
    });
  }

  it('a read whose L2 reply arrives after the invalidation does not store its (old) value in L1', async () => {
    const ns = `race${++unique}`;
    let hold: Promise<void> | undefined;
    let held: (() => void) | undefined;
    const { cache } = instance(ns, 'default', {
      wrapL2: (c) => ({
        ...c,
        name: c.name,
        async get(key) {
          const value = await c.get(key);
          if (hold) await hold;
          return value;
        },
      }),
    });
    await cache.ready;
    await cache.set('k', bytes('old'), 60_000);
    hold = new Promise((r) => {
      held = r;
    });
    const n = cache.stats().trackingInvalidations;
    // The GET has been answered by Redis (so Redis tracks the key) but its reply is held back.
    const reading = cache.get('k');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await cli.run(`SET ${ns}:k new`), 'OK');
    await waitFor(() => cache.stats().trackingInvalidations > n, { what: 'the invalidation' });
    hold = undefined;
    held?.();
    assert.equal(text(await reading), 'old', 'the racing read itself returns what it read');
    const next = await cache.getWithMeta('k');
    assert.equal(text(next?.value), 'new', 'the old reply was not put into L1');
    assert.equal(next?.source, 'l2');
  });

  for (const victim of ['pubsub', 'normal'] as const) {
    it(`${victim === 'pubsub' ? 'subscriber' : 'data'} connection killed: L1 bypassed until tracking is confirmed again; a write in the gap is not missed`, async () => {
      const ns = `kill${victim}${++unique}`;
      const { cache } = instance(ns, 'default');
      await cache.ready;
      await cache.set('k', bytes('v1'), 60_000);
      assert.equal(await holdInL1(cache, 'k'), 'v1');
      const losses = cache.stats().trackingLosses;
      // From outside: kill every connection of that type but this redis-cli.
      await cli.run(`CLIENT KILL TYPE ${victim} SKIPME yes`);
      assert.equal(await cli.run(`SET ${ns}:k v2`), 'OK');
      await waitFor(() => cache.stats().trackingLosses > losses, { what: 'the loss to be noticed' });
      // Until confirmed again, every read goes to L2 (and L1 stays empty).
      let bypassed = 0;
      while (cache.stats().trackingConfirmed === 0) {
        const r = await cache.getWithMeta('k');
        if (r !== undefined) {
          assert.notEqual(r.source, 'l1', 'no L1 answer while tracking is not confirmed');
          assert.equal(text(r.value), 'v2');
          bypassed++;
        }
        await tick();
      }
      assert.equal(text(await cache.get('k')), 'v2', 'the write made in the gap is seen');
      assert.equal(await holdInL1(cache, 'k'), 'v2');
      assert.equal(await cli.run(`SET ${ns}:k v3`), 'OK');
      await waitFor(async () => text(await cache.get('k')) === 'v3', { what: 'tracking works again' });
      console.log(`# ${victim} connection killed: ${bypassed} reads answered by L2 until re-confirmed`);
    });
  }

  it('a logger that throws (tracker and cache): a loss still bypasses L1, no uncaught error, trust comes back', async () => {
    // The tracker logged the loss before telling the cache, from a connection event, and the
    // cache logged before clearing L1: a throwing logger ended the process (or left L1 trusted).
    const failures: unknown[] = [];
    const onFailure = (reason: unknown) => failures.push(reason);
    process.on('unhandledRejection', onFailure);
    process.on('uncaughtException', onFailure);
    try {
      const throwing: Logger = {
        debug() {},
        info() {
          throw new Error('logger bug (info)');
        },
        warn() {
          throw new Error('logger bug (warn)');
        },
        error() {},
        child: () => throwing,
      };
      const ns = `throwlog${++unique}`;
      const l2 = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: `${ns}:`,
        commandTimeout: 1000,
      });
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        tracking: createRedisTracking({ cache: l2, heartbeat: 200, logger: throwing }),
        l1Ttl: 60_000,
        logger: throwing,
      });
      closers.push(() => cache.close());
      await cache.ready;
      await cache.set('k', bytes('v1'), 60_000);
      assert.equal(await holdInL1(cache, 'k'), 'v1');
      const losses = cache.stats().trackingLosses;
      await cli.run('CLIENT KILL TYPE pubsub SKIPME yes');
      assert.equal(await cli.run(`SET ${ns}:k v2`), 'OK');
      await waitFor(() => cache.stats().trackingLosses > losses, { what: 'the loss to be noticed' });
      assert.equal(text(await cache.get('k')), 'v2', 'the write made in the gap is seen, not the L1 copy');
      await waitFor(() => cache.stats().trackingConfirmed === 1, { what: 'tracking confirmed again' });
      assert.equal(await cli.run(`SET ${ns}:k v3`), 'OK');
      await waitFor(async () => text(await cache.get('k')) === 'v3', { what: 'tracking works again' });
      assert.deepEqual(failures, [], 'no unhandled rejection or uncaught exception');
    } finally {
      process.off('unhandledRejection', onFailure);
      process.off('uncaughtException', onFailure);
    }
  });

  it('a server that stops answering (CLIENT PAUSE) is noticed by the heartbeat: L1 bypassed until it answers again', async () => {
    const ns = `pause${++unique}`;
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix: `${ns}:`,
      commandTimeout: 2000,
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 100, timeout: 200 }),
      l1Ttl: 60_000,
    });
    closers.push(() => cache.close());
    await cache.ready;
    await cache.set('k', bytes('v1'), 60_000);
    assert.equal(await holdInL1(cache, 'k'), 'v1');
    const losses = cache.stats().trackingLosses;
    const paused = performance.now();
    assert.equal(await cli.run('CLIENT PAUSE 1500 ALL'), 'OK');
    await waitFor(() => cache.stats().trackingLosses > losses, {
      timeoutMs: 2000,
      what: 'the heartbeat to fail',
    });
    const noticed = performance.now() - paused;
    // One heartbeat interval plus its timeout, with room for a loaded machine's late timers (the
    // pause outlasts the bound, so a heartbeat that came late still meets the paused server).
    assert.ok(noticed < 100 + 200 + 600, `noticed after ${noticed} ms`);
    assert.equal(cache.stats().trackingConfirmed, 0);
    await waitFor(() => cache.stats().trackingConfirmed === 1, { timeoutMs: 5000, what: 'tracking back' });
    assert.equal(text(await cache.get('k')), 'v1');
    console.log(`# heartbeat noticed an unresponsive server ${noticed.toFixed(0)} ms after CLIENT PAUSE`);
  });

  it('Redis restarted empty (no persistence): L1 does not serve the lost values; tracking resumes on the new process', async () => {
    const { freePort } = await import('../../harness/process.js');
    const port = await freePort();
    let server = await startRedisOnPort(port);
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${port}`], keyPrefix: 'rs:', commandTimeout: 500 });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 100, timeout: 300 }),
      l1Ttl: 60_000,
      breaker: false,
    });
    try {
      await cache.ready;
      await cache.set('k', bytes('before'), 60_000);
      assert.equal(await holdInL1(cache, 'k'), 'before');
      const losses = cache.stats().trackingLosses;
      await server.kill();
      await waitFor(() => cache.stats().trackingLosses > losses, { what: 'the loss' });
      await server.stop();
      server = await startRedisOnPort(port);
      await waitFor(() => cache.stats().trackingConfirmed === 1, {
        timeoutMs: 10_000,
        what: 'tracking back',
      });
      assert.equal(await cache.get('k'), undefined, 'the restarted server lost the key; so did L1');
      const w = outsideWriter(port);
      try {
        assert.equal(await w.run('SET rs:k after'), 'OK');
        await waitFor(async () => text(await cache.get('k')) === 'after', { what: 'the outside write' });
        assert.equal(await holdInL1(cache, 'k'), 'after');
        assert.equal(await w.run('SET rs:k again'), 'OK');
        await waitFor(async () => text(await cache.get('k')) === 'again', {
          what: 'tracking on the new process',
        });
      } finally {
        w.close();
      }
    } finally {
      await cache.close().catch(() => {});
      await server.stop();
    }
  });

  it('stats: the confirmation age stays under the heartbeat; the subscriber connection is named', async () => {
    const ns = `stats${++unique}`;
    const { cache } = instance(ns, 'bcast');
    await cache.ready;
    // Heartbeats every 200 ms renew it: after 1.5 s an age never renewed since ready is >= 1.5 s.
    // The bound leaves room for late heartbeats on a loaded machine (with 450 ms and < 400, one
    // event-loop stall made it 418 with 350 ms stalls injected at random).
    await new Promise((r) => setTimeout(r, 1500));
    const s = cache.stats();
    assert.equal(s.trackingConfirmed, 1);
    assert.ok(s.trackingConfirmedAgo >= 0 && s.trackingConfirmedAgo < 1000, `age ${s.trackingConfirmedAgo}`);
    const info = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
    assert.ok(/name=hyperion:redis:tracking .*cmd=(subscribe|ping)/.test(info), 'the subscriber is named');
  });

  it("a user whose ACL lacks CLIENT TRACKING: the cache's ready rejects (NOPERM), L1 stays bypassed", async () => {
    await redisCommand(redis.port, [
      'ACL',
      'SETUSER',
      'notrack',
      'on',
      '>pw',
      '~*',
      '&*',
      '+@all',
      '-client|tracking',
    ]);
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      username: 'notrack',
      password: 'pw',
      keyPrefix: 'acl:',
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 200 }),
    });
    closers.push(() => cache.close());
    await assert.rejects(cache.ready, /NOPERM|permission/i);
    await cache.set('k', bytes('v'));
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2');
    assert.equal((await cache.getWithMeta('k'))?.source, 'l2', 'never trusted: every read goes to L2');
    assert.equal(cache.stats().trackingConfirmed, 0);
  });

  it('rejects bad options', () => {
    assert.throws(() => createRedisTracking({} as never), ConfigError);
    const l2 = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], minIdleConns: 0 });
    closers.push(() => l2.close());
    assert.throws(() => createRedisTracking({ cache: l2, mode: 'x' as never }), ConfigError);
    assert.throws(() => createRedisTracking({ cache: l2, heartbeat: 0 }), ConfigError);
    // The value is shown where its type alone says nothing: `heartbeat: -5` said "received number"
    // against "a number of ms above 0", `timeout: '1000'` and `mode: 'BCAST'` "received string".
    assert.throws(
      () =>
        createRedisTracking({ cache: l2, heartbeat: -5, timeout: '1000' as never, mode: 'BCAST' as never }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const received = Object.fromEntries(err.issues.map((i) => [i.path, i.received]));
        assert.deepEqual(received, {
          mode: '"BCAST" (a string)',
          heartbeat: '-5',
          timeout: '"1000" (a string)',
        });
        return true;
      },
    );
    // A logger without warn was taken; every report of the tracker was then lost silently.
    assert.throws(() => createRedisTracking({ cache: l2, logger: {} as never }), ConfigError);
    assert.throws(
      () => createTieredCache({ l1: createMemoryCache({ maxCost: 1024 }), l2, tracking: {} as never }),
      ConfigError,
    );
  });
});
