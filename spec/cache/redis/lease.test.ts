/**
 * The loader lease's default key prefix comes from the cache's key prefix: two caches with
 * different `keyPrefix`es on one Redis must not share lease keys (before, both used
 * `hyperion:lease:` + key, so cache A loading its "x" made cache B wait for — and then load
 * anyway — its own, unrelated "x").
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisLease, type RedisCache } from '../../../lib/cache/redis/index.js';
import { defaultLeasePrefix } from '../../../lib/cache/redis/lease.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { MAX_KEY_BYTES } from '../../../lib/core/validate.js';
import { startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { enc } from './helpers.js';

describeWithServers('redis loader lease: one lease keyspace per cache key prefix', skipRedis(), () => {
  let redis: RedisStandalone;
  const closers: (() => Promise<unknown>)[] = [];
  const make = (keyPrefix: string, extra: Parameters<typeof createRedisCache>[0] = {}): RedisCache => {
    const c = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      keyPrefix,
      commandTimeout: 2000,
      ...extra,
    });
    closers.push(() => c.close());
    return c;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.stop();
  });

  it('caches with different key prefixes take their own lease for the same key', async () => {
    const a = make('orders:');
    const b = make('users:');
    await Promise.all([a.get('warm-up'), b.get('warm-up')]); // connected
    const leaseA = createRedisLease({ client: a.client });
    const leaseB = createRedisLease({ client: b.client });
    const releaseA = await leaseA.acquire('x');
    assert.ok(releaseA, 'A takes its lease for "x"');
    assert.equal(await a.client.exists('hyperion:lease:orders:x'), 1, 'under hyperion:lease:<keyPrefix>');
    const releaseB = await leaseB.acquire('x');
    assert.ok(releaseB, 'B takes its own lease for its own "x" while A holds one');
    assert.equal(await b.client.exists('hyperion:lease:users:x'), 1);
    // Within one keyspace the lease still excludes: a second instance of A's cache waits.
    const a2 = make('orders:');
    await a2.get('warm-up');
    const leaseA2 = createRedisLease({ client: a2.client });
    assert.equal(await leaseA2.acquire('x'), undefined, 'another instance of the same keyspace is refused');
    await releaseA();
    await releaseB();
    assert.equal(await a.client.exists('hyperion:lease:orders:x', 'hyperion:lease:users:x'), 0);
    assert.equal(defaultLeasePrefix('orders:'), 'hyperion:lease:orders:');
  });

  it('a tiered cache loading its "x" does not make another keyspace\'s tiered cache wait for its "x"', async () => {
    const tiered = (keyPrefix: string) => {
      const l2 = make(keyPrefix);
      const cache = createTieredCache({
        l1: createMemoryCache({ maxCost: 1 << 20 }),
        l2,
        lease: createRedisLease({ client: l2.client, ttl: 5000 }),
        leaseWait: 5000,
      });
      closers.push(() => cache.close());
      return cache;
    };
    const a = tiered('t-orders:');
    const b = tiered('t-users:');
    let finishA!: () => void;
    const slowA = a.getOrSet('x', () => new Promise((resolve) => (finishA = () => resolve(enc('order')))));
    await new Promise((r) => setTimeout(r, 100)); // A holds its lease and is loading
    const started = performance.now();
    let loadsB = 0;
    const valueB = await b.getOrSet('x', async () => {
      loadsB++;
      return enc('user');
    });
    const waited = performance.now() - started;
    assert.equal(Buffer.from(valueB).toString(), 'user');
    assert.equal(loadsB, 1);
    assert.equal(b.stats().leaseWaits, 0, 'B never waited on a lease');
    // Under the 5 s lease wait by far: B did not wait for A's lease (timed out or not).
    assert.ok(waited < 2500, `B answered in ${waited.toFixed(0)} ms, not after A's lease wait`);
    finishA();
    assert.equal(Buffer.from(await slowA).toString(), 'order');
  });

  // A SET the client gave up on is not withdrawn: through a link delaying commands 600 ms at a
  // 200 ms command timeout, acquire() rejected and the lease landed ~400 ms later, held by nobody
  // for its whole ttl (every instance missing "x" then waited out its leaseWait before loading).
  it('an acquire that timed out leaves no lease behind when its SET lands late', async (t) => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: redis.port } });
    t.after(() => proxy.close());
    const slow = make('late:', { addresses: [`127.0.0.1:${proxy.port}`], commandTimeout: 200 });
    await slow.get('warm-up');
    const lease = createRedisLease({ client: slow.client, ttl: 10_000 });
    proxy.delay = 600;
    await assert.rejects(lease.acquire('x'), /timed out/);
    // Bounded: the delayed SET (and what follows it) reaches Redis ~600 ms after it was sent.
    await waitFor(async () => proxy.held === 0, { timeoutMs: 3000, what: 'the delayed commands to arrive' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:late:x']), 0, 'no orphan lease');
    proxy.delay = 0;
    const other = make('late:');
    await other.get('warm-up');
    const release = await createRedisLease({ client: other.client }).acquire('x');
    assert.ok(release, 'another instance takes the lease at once');
    await release();
  });

  // `acquire(key, { signal })`: the tiered cache aborts its acquires in flight when it is closed.
  // Before, the signal did not exist: an acquire stalled in Redis (SIGSTOP) was given up on, the
  // client was closed, and the SET ran once Redis resumed — a lease held by nobody for its ttl.
  it('an aborted acquire rejects with the reason at once and leaves no lease once Redis resumes', async (t) => {
    const c = make('abort:');
    await c.get('warm-up');
    const lease = createRedisLease({ client: c.client });
    const early = new AbortController();
    early.abort(new Error('not wanted'));
    await assert.rejects(lease.acquire('a', { signal: early.signal }), /not wanted/);
    assert.equal(await c.client.exists('hyperion:lease:abort:a'), 0, 'aborted before: nothing sent');

    const server = redis.server.child;
    server.kill('SIGSTOP');
    t.after(() => server.kill('SIGCONT'));
    await waitFor(() => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${server.pid}/stat`, 'utf8')), {
      timeoutMs: 3000,
      intervalMs: 5,
      what: 'redis stopped',
    });
    const controller = new AbortController();
    const taking = lease.acquire('b', { signal: controller.signal });
    // The SET is written once the (ready) client is checked: a few promise steps.
    await new Promise((r) => setImmediate(r));
    controller.abort(new Error('closing'));
    await assert.rejects(taking, /closing/);
    // The owner closes its client while Redis is still stalled, as a tiered cache's close() does.
    await c.close();
    server.kill('SIGCONT');
    assert.equal(await redisCommand(redis.port, ['EXISTS', 'hyperion:lease:abort:b']), 0, 'no orphan lease');
  });

  // One signal for many acquires at once (an app-wide shutdown signal): each acquire added its own
  // listener on it, and the 11th gave a MaxListenersExceededWarning ("possible EventTarget memory
  // leak") for that signal.
  it('20 acquires sharing one signal at once: one listener on it, no warning; its abort rejects them all', async (t) => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const c = make('shared:');
    await c.get('warm-up');
    const lease = createRedisLease({ client: c.client });
    const shared = new AbortController();
    const granted = await Promise.all(
      Array.from({ length: 20 }, (_, i) => lease.acquire(`k${i}`, { signal: shared.signal })),
    );
    assert.equal(granted.filter(Boolean).length, 20);
    await Promise.all(granted.map((release) => release?.()));
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0, 'none left');

    // Twenty in flight while Redis is stalled: one abort reaches every one of them.
    const server = redis.server.child;
    server.kill('SIGSTOP');
    t.after(() => server.kill('SIGCONT'));
    await waitFor(() => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${server.pid}/stat`, 'utf8')), {
      timeoutMs: 3000,
      intervalMs: 5,
      what: 'redis stopped',
    });
    const taking = Array.from({ length: 20 }, (_, i) => lease.acquire(`s${i}`, { signal: shared.signal }));
    await new Promise((r) => setImmediate(r));
    const listening = getEventListeners(shared.signal, 'abort').length;
    shared.abort(new Error('shutting down'));
    const outcomes = await Promise.allSettled(taking);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'granted')),
      Array(20).fill('shutting down'),
    );
    await c.close();
    server.kill('SIGCONT');
    // A warning is emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
      [],
    );
    assert.equal(listening, 1, 'one listener for all of them');
    // Released behind their SETs once Redis resumes (an orphan would stay for its 10 s ttl).
    await waitFor(
      async () =>
        ((await redisCommand(redis.port, ['KEYS', 'hyperion:lease:shared:s*'])) as string[]).length === 0,
      { timeoutMs: 3000, what: 'no orphan lease' },
    );
  });

  it('an explicit prefix or keyPrefix is kept; a client shared by two key prefixes needs one', async () => {
    const a = make('p1:');
    await a.get('warm-up');
    const explicit = createRedisLease({ client: a.client, prefix: 'mine:' });
    const release = await explicit.acquire('k');
    assert.ok(release);
    assert.equal(await a.client.exists('mine:k'), 1);
    await release();
    const byKeyPrefix = createRedisLease({ client: a.client, keyPrefix: 'other:' });
    const release2 = await byKeyPrefix.acquire('k');
    assert.equal(await a.client.exists('hyperion:lease:other:k'), 1);
    await release2!();

    // One client injected into two caches with different prefixes: no default can be derived.
    const shared = make('s1:');
    make('s2:', { client: shared.client });
    assert.throws(
      () => createRedisLease({ client: shared.client }),
      (err: unknown) => err instanceof ConfigError && err.issues.some((i) => i.path === 'prefix'),
    );
    assert.doesNotThrow(() => createRedisLease({ client: shared.client, keyPrefix: 's1:' }));
  });

  it('an unknown option is refused as by every other factory, with the key it was likely meant as', () => {
    const a = make('u1:');
    // `tll` used to be ignored silently: the lease ran with the default ttl it was meant to replace.
    assert.throws(
      () => createRedisLease({ client: a.client, tll: 5000 } as never),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === 'tll' &&
        /ttl/.test(err.message),
    );
    // Undefined values of known keys stay accepted (the types allow them).
    assert.doesNotThrow(() => createRedisLease({ client: a.client, ttl: undefined, prefix: undefined }));
  });

  it('a client that is not an iovalkey client is named so; none at all is required', () => {
    // `client: {}` read "client: is required", as if the option had been left out.
    for (const client of [{}, 'redis://127.0.0.1:6379', null]) {
      assert.throws(
        () => createRedisLease({ client } as never),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.length === 1 &&
          err.issues[0]!.path === 'client' &&
          err.issues[0]!.message === 'not an iovalkey client',
        JSON.stringify(client),
      );
    }
    assert.throws(
      () => createRedisLease({} as never),
      (err: unknown) => err instanceof ConfigError && err.issues[0]!.message === 'is required',
    );
  });

  it("a ttl of null is a ConfigError naming ttl, as for the caches' own numeric options", () => {
    const a = make('null:');
    // It stood for the default 10 s: `ttl: settings.leaseTtl ?? null` ran with a lease of 10 s.
    assert.throws(
      () => createRedisLease({ client: a.client, ttl: null as never }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.length === 1 && err.issues[0]!.path === 'ttl',
    );
  });

  it("a ttl beyond 2^52 ms is a ConfigError naming ttl; one up to it is Redis's PX as given", async () => {
    const a = make('ttl:');
    await a.get('warm-up');
    // 1e21 is an integer to JavaScript and used to pass: it went out as `PX 1e+21`, and Redis
    // refused every acquire (`ERR value is not an integer or out of range`), so a tiered cache
    // loaded without the lease on every miss.
    for (const ttl of [1e21, 2 ** 52 + 2, Number.MAX_VALUE])
      assert.throws(
        () => createRedisLease({ client: a.client, ttl }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.length === 1 &&
          err.issues[0]!.path === 'ttl' &&
          err.issues[0]!.received === String(ttl),
        String(ttl),
      );
    for (const ttl of [2 ** 31 + 1000, 2 ** 52]) {
      const lease = createRedisLease({ client: a.client, ttl });
      const release = await lease.acquire(`k${ttl}`);
      assert.ok(release, `acquired with ttl ${ttl}`);
      const pttl = await a.client.pttl(`hyperion:lease:ttl:k${ttl}`);
      assert.ok(pttl > ttl - 60_000 && pttl <= ttl, `PTTL ${pttl} for ttl ${ttl}`);
      await release();
    }
  });

  it("a ttl given as duration text ('5s') names ttl, shows it and asks for ms, as the cache options do", () => {
    const a = make('text:');
    for (const [ttl, shown] of [
      [
        '5s',
        '"5s" (a string): in code a duration is a number of milliseconds (5000); duration text like "5s" is read only from a config file',
      ],
      ['5000', '"5000" (a string)'],
      ['redis://user:secret@host', 'string'], // any other string by its type only
    ] as const)
      assert.throws(
        () => createRedisLease({ client: a.client, ttl: ttl as never }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.length === 1 &&
          err.issues[0]!.path === 'ttl' &&
          err.issues[0]!.received === shown &&
          /of ms/.test(err.issues[0]!.expected),
        ttl,
      );
  });

  it('acquire refuses a bad key or bad options with a typed CacheError and takes no lease', async () => {
    const a = make('acq:');
    await a.get('warm-up');
    const lease = createRedisLease({ client: a.client });
    const refused = async (call: () => Promise<unknown>, code: string, message: RegExp, what: string) => {
      let pending: Promise<unknown>;
      try {
        pending = call();
      } catch (err) {
        assert.fail(`${what} threw synchronously instead of rejecting: ${String(err)}`);
      }
      await assert.rejects(
        pending,
        (err: unknown) => err instanceof CacheError && err.code === code && message.test(err.message),
        what,
      );
    };
    // Before: '' took the lease `hyperion:lease:acq:`, 42 and undefined those of '42' and
    // 'undefined', and a lone surrogate one that every other lone surrogate shared (U+FFFD).
    for (const [what, key] of [
      ['empty', ''],
      ['a number', 42],
      ['undefined', undefined],
      ['a lone surrogate', 's\uD800'],
      ['too long', 'k'.repeat(MAX_KEY_BYTES + 1)],
    ] as const)
      await refused(() => lease.acquire(key as string), 'invalid_key', /cache key/, `key ${what}`);
    // Before: { signal: {} } threw a bare TypeError (signal?.throwIfAborted is not a function), and
    // a misspelt `sginal` or options that are no object were ignored (the acquire not abortable).
    await refused(
      () => lease.acquire('k', { signal: {} as AbortSignal }),
      'invalid_value',
      /signal must be an AbortSignal, received object/,
      'signal {}',
    );
    await refused(
      () => lease.acquire('k', { signal: 'x' as unknown as AbortSignal }),
      'invalid_value',
      /signal must be an AbortSignal, received string/,
      "signal 'x'",
    );
    await refused(
      () => lease.acquire('k', { sginal: new AbortController().signal } as never),
      'invalid_value',
      /`sginal` is not a known option; did you mean `signal`\?/,
      'misspelt signal',
    );
    await refused(
      () => lease.acquire('k', 5 as never),
      'invalid_value',
      /options must be an object, received number/,
      'options 5',
    );
    assert.deepEqual(await a.client.keys('hyperion:lease:acq:*'), [], 'no lease was taken');
    // What stays accepted: no options, null, { signal: undefined }, a real signal.
    for (const options of [
      undefined,
      null,
      { signal: undefined },
      { signal: new AbortController().signal },
    ]) {
      const release = await lease.acquire('ok', options as never);
      assert.ok(release, `acquired with ${String(options && JSON.stringify(options))}`);
      await release();
    }
  });
});
