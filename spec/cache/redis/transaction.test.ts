import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import {
  createTransactionRunner,
  retryTransaction,
  type TransactionResult,
  type TransactionRunner,
} from '../../../lib/cache/redis/transaction/index.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { deferred, tick, within } from '../../harness/clock.js';
import { startFaultProxy } from '../../harness/fault-proxy.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisSentinelSet,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../../harness/redis.js';
import { allBytes, dec, enc, rejectsWith, sleep, watchUnhandled } from './helpers.js';

const PASSWORD = 'tx-secret-пароль';

/** The runner the cache will expose as `cache.transaction`, built the same way. */
function runnerFor(cache: RedisCache, extra: { maxConnections?: number; commandTimeout?: number } = {}) {
  return createTransactionRunner({
    client: cache.client,
    keyPrefix: cache.keyPrefix,
    mode: cache.mode,
    commandTimeout: extra.commandTimeout ?? 2000,
    ...(extra.maxConnections ? { maxConnections: extra.maxConnections } : {}),
  });
}

/** CAS increment of `key` (and its `mirror`, in the same transaction). */
function increment(runner: TransactionRunner, key: string, mirror?: string): Promise<TransactionResult> {
  return runner.transaction(
    async (tx) => {
      const next = String(Number(dec(await tx.read(key)) ?? '0') + 1);
      tx.set(key, enc(next));
      if (mirror) tx.set(mirror, enc(next));
    },
    { watch: [key] },
  );
}

describeWithServers('redis transactions on a standalone server', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  let tx: TransactionRunner;
  let raw: Redis;
  const unhandled = watchUnhandled();
  const cleanup: (() => Promise<unknown> | undefined)[] = [];

  before(async () => {
    redis = await startRedis({ password: PASSWORD });
    cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      password: PASSWORD,
      keyPrefix: 'tx:',
      commandTimeout: 2000,
    });
    tx = runnerFor(cache);
    raw = new Redis({ port: redis.port, password: PASSWORD });
    raw.on('error', () => {});
  });
  after(async () => {
    for (const fn of cleanup.reverse()) await fn()?.catch(() => {});
    await tx?.close();
    await cache?.close();
    raw?.disconnect();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('applies a multi-key update under the key prefix; results in order', async () => {
    await raw.set('tx:gone', 'x');
    const r = await tx.transaction((t) => {
      t.set('a', enc('1'))
        .set('b', enc('2'), 60_000)
        .get('a')
        .delete('gone')
        .delete('never')
        .expire('a', 30_000);
      t.get('missing');
    });
    assert.equal(r.ok, true);
    assert.ok(r.ok);
    assert.equal(r.results.length, 7);
    const [setA, setB, getA, delGone, delNever, expA, getMissing] = r.results;
    assert.equal(setA, true);
    assert.equal(setB, true);
    assert.ok(getA instanceof Uint8Array);
    assert.equal(dec(getA as Uint8Array), '1', 'a GET inside the transaction sees the earlier SET');
    assert.equal(delGone, true);
    assert.equal(delNever, false);
    assert.equal(expA, true);
    assert.equal(getMissing, undefined);
    assert.equal(await raw.get('tx:a'), '1');
    assert.equal(await raw.get('tx:b'), '2');
    assert.equal(await raw.exists('tx:gone'), 0);
    const pttlA = await raw.pttl('tx:a');
    const pttlB = await raw.pttl('tx:b');
    assert.ok(pttlA > 0 && pttlA <= 30_000, `a expires in ${pttlA}`);
    assert.ok(pttlB > 30_000 && pttlB <= 60_000, `b expires in ${pttlB}`);
    assert.equal(await raw.exists('a'), 0, 'nothing written outside the prefix');
    assert.equal(dec(await cache.get('b')), '2', 'the cache sees transaction writes');
  });

  it('applies nothing when one queued command is refused (EXECABORT), and says so', async (t) => {
    // A user that may write only `tx:ok*`: the second SET is refused when queued, so EXEC aborts.
    await raw.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~tx:ok*', '+@all');
    const limited = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      username: 'limited',
      password: 'limited-pw',
      keyPrefix: 'tx:',
      commandTimeout: 2000,
    });
    const runner = runnerFor(limited);
    t.after(async () => {
      await runner.close();
      await limited.close();
    });
    await raw.set('tx:ok-existing', 'before');
    const err = await rejectsWith(
      runner.transaction((b) => {
        b.set('ok-1', enc('new')).delete('ok-existing').set('forbidden', enc('x'));
      }),
      'backend',
    );
    assert.match(err.message, /NOPERM|no permissions/i);
    assert.match(err.message, /nothing was applied/);
    assert.doesNotMatch(err.message, /limited-pw/);
    assert.equal(await raw.exists('tx:ok-1'), 0, 'first SET not applied');
    assert.equal(await raw.get('tx:ok-existing'), 'before', 'DELETE not applied');
    assert.equal(await raw.exists('tx:forbidden'), 0);
    // The connection is still usable afterwards.
    const ok = await runner.transaction((b) => {
      b.set('ok-1', enc('later'));
    });
    assert.equal(ok.ok, true);
    assert.equal(await raw.get('tx:ok-1'), 'later');
  });

  it('reports a WATCH conflict as a value when another client writes the watched key', async () => {
    await raw.set('tx:balance', '100');
    const r = await tx.transaction(
      async (t) => {
        const seen = dec(await t.read('balance'));
        assert.equal(seen, '100');
        await raw.set('tx:balance', '250'); // someone else, between our WATCH and EXEC
        t.set('balance', enc(String(Number(seen) - 30))).set('audit', enc('debited'));
      },
      { watch: ['balance'] },
    );
    assert.deepEqual(r, { ok: false, conflict: true });
    assert.equal(await raw.get('tx:balance'), '250', 'the other write stands');
    assert.equal(await raw.exists('tx:audit'), 0, 'nothing of the transaction applied');

    // A write through the cache itself (its shared connection) is "someone else" too.
    const r2 = await tx.transaction(
      async (t) => {
        await t.read('balance');
        await cache.set('balance', enc('7'));
        t.set('balance', enc('8'));
      },
      { watch: ['balance'] },
    );
    assert.equal(r2.ok, false);
    assert.equal(await raw.get('tx:balance'), '7');

    // Without interference the same check-and-set commits.
    const r3 = await tx.transaction(
      async (t) => {
        const seen = Number(dec(await t.read('balance')));
        t.set('balance', enc(String(seen + 1)));
      },
      { watch: ['balance'] },
    );
    assert.equal(r3.ok, true);
    assert.equal(await raw.get('tx:balance'), '8');
  });

  it('retryTransaction succeeds after a conflict and gives up after `attempts`', async () => {
    await raw.set('tx:stock', '10');
    let runs = 0;
    const r = await retryTransaction(
      () =>
        tx.transaction(
          async (t) => {
            runs++;
            const stock = Number(dec(await t.read('stock')));
            if (runs === 1) await raw.decr('tx:stock'); // a competing buyer, once
            t.set('stock', enc(String(stock - 1)));
          },
          { watch: ['stock'] },
        ),
      { attempts: 5, backoffMs: 1 },
    );
    assert.equal(r.ok, true);
    assert.equal(r.attempts, 2);
    assert.equal(runs, 2);
    assert.equal(await raw.get('tx:stock'), '8', 'both decrements count, none lost');

    let tries = 0;
    const lost = await retryTransaction(
      () =>
        tx.transaction(
          async (t) => {
            tries++;
            await t.read('stock');
            await raw.incr('tx:stock');
            t.set('stock', enc('0'));
          },
          { watch: ['stock'] },
        ),
      { attempts: 3, backoffMs: 0 },
    );
    assert.deepEqual(lost, { ok: false, conflict: true, attempts: 3 });
    assert.equal(tries, 3);
    assert.equal(await raw.get('tx:stock'), '11');

    const boom = new Error('not retried');
    await assert.rejects(
      retryTransaction(() => Promise.reject(boom), { attempts: 3 }),
      (e) => e === boom,
    );
  });

  it('keeps concurrent check-and-set transactions isolated: no lost update', async () => {
    const n = 25;
    const results = await Promise.all(
      Array.from({ length: n }, () =>
        retryTransaction(() => increment(tx, 'hits', 'hits-mirror'), { attempts: 200, backoffMs: 1 }),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, n);
    assert.ok(
      results.some((r) => r.attempts > 1),
      'with 25 racing increments some must have conflicted',
    );
    assert.equal(await raw.get('tx:hits'), String(n));
    assert.equal(await raw.get('tx:hits-mirror'), String(n));
  });

  it('is binary-safe: every byte value in and out, Uint8Array in, Uint8Array out', async () => {
    const bytes = allBytes();
    const r = await tx.transaction((t) => {
      t.set('bin', bytes).get('bin');
    });
    assert.ok(r.ok);
    const got = r.results[1];
    assert.ok(got instanceof Uint8Array);
    assert.deepEqual(new Uint8Array(got as Uint8Array), bytes);
    const read = await tx.transaction(
      async (t) => {
        const v = await t.read('bin');
        assert.ok(v instanceof Uint8Array);
        assert.deepEqual(new Uint8Array(v), bytes);
      },
      { watch: ['bin'] },
    );
    assert.deepEqual(read, { ok: true, results: [] }, 'queueing nothing is a valid no-op');
  });

  it('rejects bad input with typed errors and applies nothing', async () => {
    await rejectsWith(
      tx.transaction((t) => void t.set('', enc('x'))),
      'invalid_key',
    );
    await rejectsWith(
      tx.transaction(() => {}, { watch: [''] }),
      'invalid_key',
    );
    await rejectsWith(
      tx.transaction(() => {}, { watch: 'k' as unknown as string[] }),
      'invalid_key',
    );
    await rejectsWith(
      tx.transaction((t) => void t.set('k', 'text' as unknown as Uint8Array)),
      'invalid_value',
    );
    await rejectsWith(
      tx.transaction((t) => void t.set('k', enc('x'), -1)),
      'invalid_ttl',
    );
    await rejectsWith(
      tx.transaction((t) => void t.expire('k', Number.NaN)),
      'invalid_ttl',
    );
    await rejectsWith(
      tx.transaction((t) => void t.expire('k', undefined as unknown as number)),
      'invalid_ttl',
    );
    await rejectsWith(tx.transaction(null as unknown as () => void), 'invalid_value');
    const unwatched = await rejectsWith(
      tx.transaction(async (t) => void (await t.read('k'))),
      'invalid_key',
    );
    assert.match(unwatched.message, /only watched keys/);
    // The key is quoted as JSON: a quote or a line break in it was printed raw.
    const odd = await rejectsWith(
      tx.transaction(async (t) => void (await t.read('say "hi"\nnow'))),
      'invalid_key',
    );
    assert.ok(odd.message.startsWith('tx.read("say \\"hi\\"\\nnow"): '), odd.message);
    assert.equal(await raw.exists('tx:k'), 0);

    await assert.rejects(
      retryTransaction(() => tx.transaction(() => {}), { attempts: 0 }),
      (e) => e instanceof ConfigError && /attempts/.test(e.message),
    );
    // `null` stood for the default (5 tries, 10 ms), where every other numeric option refuses it.
    for (const key of ['attempts', 'backoffMs'])
      await assert.rejects(
        retryTransaction(() => tx.transaction(() => {}), { [key]: null } as never),
        (e) => e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === key,
        key,
      );
  });

  it('tx.set copies its value: a scratch buffer refilled per key stores each key its own bytes', async () => {
    // It used to queue a view of the caller's buffer, read when the transaction was sent: every
    // key got the last bytes, and the result said { ok: true }.
    const scratch = new Uint8Array(1);
    const r = await tx.transaction((t) => {
      for (const [i, c] of ['a', 'b', 'c'].entries()) {
        scratch[0] = c.charCodeAt(0);
        t.set(`scratch${i}`, scratch);
      }
    });
    assert.deepEqual(r, { ok: true, results: [true, true, true] });
    assert.deepEqual(await raw.mget('tx:scratch0', 'tx:scratch1', 'tx:scratch2'), ['a', 'b', 'c']);
  });

  it('refuses a misspelt or misplaced `watch` option instead of running unguarded', async () => {
    // `{ wacth: [...] }` and the key list passed as the options used to run the transaction
    // without WATCH: the set below was applied and reported { ok: true }.
    const write = (t: { set(key: string, value: Uint8Array): unknown }) => void t.set('guarded', enc('x'));
    for (const run of [tx.transaction.bind(tx), cache.transaction.bind(cache)]) {
      const typo = await rejectsWith(
        run(write, { wacth: ['guarded'] } as unknown as { watch: string[] }),
        'invalid_value',
      );
      assert.match(typo.message, /`wacth` is not a known option; did you mean `watch`\?/);
      await rejectsWith(run(write, ['guarded'] as unknown as { watch: string[] }), 'invalid_value');
      await rejectsWith(run(write, 'guarded' as unknown as { watch: string[] }), 'invalid_value');
    }
    assert.equal(await raw.exists('tx:guarded'), 0, 'nothing was written');
    // No options, `null` and `{ watch: undefined }` still mean "nothing watched".
    for (const options of [undefined, null, {}, { watch: undefined }]) {
      const r = await cache.transaction((t) => void t.get('guarded'), options as { watch?: string[] });
      assert.deepEqual(r, { ok: true, results: [undefined] });
    }
    // retryTransaction's options likewise: `{ attempt: 20 }` used to retry 5 times, silently.
    await assert.rejects(
      retryTransaction(() => tx.transaction(() => {}), { attempt: 20 } as unknown as { attempts: number }),
      (e) =>
        e instanceof ConfigError &&
        /attempt: is not a known option; did you mean `attempts`\?/.test(e.message),
    );
  });

  it('retryTransaction rejects a run() that resolves no transaction result with invalid_value', async () => {
    // A run() that does not return the transaction (braces, no `return`) used to throw a bare
    // TypeError ("Cannot read properties of undefined (reading 'ok')").
    const missingReturn = await rejectsWith(
      retryTransaction((() => {
        void tx.transaction(() => {});
      }) as unknown as () => Promise<TransactionResult>),
      'invalid_value',
    );
    assert.match(missingReturn.message, /must return the promise of cache\.transaction/);
    await rejectsWith(
      retryTransaction((async () => cache) as unknown as () => Promise<TransactionResult>),
      'invalid_value',
    );
  });

  it('rethrows an error of fn, applies nothing, and leaves the connection clean', async () => {
    const oops = new Error('fn failed');
    await assert.rejects(
      tx.transaction(
        async (t) => {
          await t.read('clean');
          t.set('clean', enc('half'));
          throw oops;
        },
        { watch: ['clean'] },
      ),
      (e) => e === oops,
    );
    assert.equal(await raw.exists('tx:clean'), 0);
    // The builder refuses use after the transaction was sent.
    let leaked: Parameters<Parameters<TransactionRunner['transaction']>[0]>[0] | undefined;
    await tx.transaction((t) => {
      leaked = t;
    });
    assert.throws(
      () => leaked?.set('late', enc('x')),
      (e) => e instanceof CacheError && e.code === 'closed',
    );
    // If the WATCH of the failed transaction had leaked onto a pooled connection, an unrelated
    // write to `clean` would make this next transaction conflict.
    await raw.set('tx:clean', 'other');
    const r = await tx.transaction((t) => void t.set('fresh', enc('1')));
    assert.equal(r.ok, true);
  });

  it('a WATCH transaction that queues nothing resolves ok even when its connection was killed while fn ran', async () => {
    // Nothing is applied either way; the UNWATCH that only frees the connection used to reject
    // with iovalkey's bare Error ("Connection is closed."), not a CacheError.
    const killTx = async () => {
      const ids = String(await raw.client('LIST'))
        .split('\n')
        .filter((line) => line.includes(' name=hyperion:tx '))
        .map((line) => /^id=(\d+)/.exec(line)?.[1]);
      for (const id of ids) if (id) await raw.client('KILL', 'ID', id);
      return ids.length;
    };
    let killed = 0;
    const r = await tx.transaction(
      async (t) => {
        await t.read('killed-idle');
        killed = await killTx();
        await sleep(100); // lets the client see the close (either way its UNWATCH fails)
      },
      { watch: ['killed-idle'] },
    );
    assert.ok(killed > 0, 'the dedicated connection was found and killed');
    assert.deepEqual(r, { ok: true, results: [] });
    // The dead connection was discarded: the next transaction gets a working one.
    const next = await tx.transaction((t) => void t.set('killed-idle', enc('1')), { watch: ['killed-idle'] });
    assert.equal(next.ok, true);
    assert.equal(await raw.get('tx:killed-idle'), '1');
  });

  it('close() drops the connection of a transaction whose fn never returns, and that transaction applies nothing', async () => {
    const own = runnerFor(cache, { commandTimeout: 300 });
    const named = async () => String(await raw.client('LIST')).split(' name=hyperion:tx ').length - 1;
    const before = await named();
    const stuck = deferred<void>();
    const read = deferred<void>();
    const running = own.transaction(
      async (t) => {
        await t.read('stuck');
        read.resolve();
        await stuck.promise; // an fn waiting on something that never answers
        t.set('stuck', enc('late'));
      },
      { watch: ['stuck'] },
    );
    const outcome = running.then(
      (r) => r,
      (e: unknown) => e,
    );
    await read.promise;
    assert.equal(await named(), before + 1);
    await own.close();
    // Its WATCH connection stayed open after close() (and kept the process alive).
    await waitFor(async () => (await named()) === before || undefined, {
      timeoutMs: 5000,
      what: 'the stuck transaction connection to be closed',
    });
    stuck.resolve();
    const err = await outcome;
    assert.ok(err instanceof CacheError && err.code === 'closed', String(err));
    assert.equal(await raw.exists('tx:stuck'), 0);
  });

  // close() waits for the operations in flight, and a set/get/pipeline called just before it
  // completed — but a transaction called just before it (still at the connection gate), or one
  // whose fn was awaiting a tx.read when close() began, rejected with `closed`, nothing applied.
  it('close() lets the transactions in flight complete, and refuses later ones', async () => {
    const own = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      password: PASSWORD,
      keyPrefix: 'tx:',
      commandTimeout: 2000,
    });
    cleanup.push(() => own.close());
    assert.equal(await own.get('close-warm'), undefined); // connected
    const read = deferred<void>();
    const go = deferred<void>();
    const watched = own.transaction(
      async (t) => {
        await t.read('close-watched');
        read.resolve();
        await go.promise;
        t.set('close-watched', enc('w'));
      },
      { watch: ['close-watched'] },
    );
    await read.promise;
    const plain = own.transaction((t) => void t.set('close-plain', enc('p')));
    const closing = own.close();
    go.resolve();
    assert.deepEqual(await plain, { ok: true, results: [true] });
    assert.deepEqual(await watched, { ok: true, results: [true] });
    await closing;
    assert.equal(await raw.get('tx:close-plain'), 'p');
    assert.equal(await raw.get('tx:close-watched'), 'w');
    await rejectsWith(
      own.transaction((t) => void t.set('close-late', enc('l'))),
      'closed',
    );
    assert.equal(await raw.exists('tx:close-late'), 0);
  });

  it('bounds its connections: a waiter gets a freed connection, or times out with a typed error', async (t) => {
    const runner = runnerFor(cache, { maxConnections: 1, commandTimeout: 300 });
    t.after(() => runner.close());
    let letGo: () => void = () => {};
    const held = new Promise<void>((r) => {
      letGo = r;
    });
    const holding = deferred();
    const first = runner.transaction(
      async (b) => {
        await b.read('pool-a');
        holding.resolve();
        await held;
        b.set('pool-a', enc('1'));
      },
      { watch: ['pool-a'] },
    );
    await within(holding.promise, 5000, 'the first transaction to hold the only connection');
    const timedOut = await rejectsWith(
      runner.transaction(() => {}, { watch: ['pool-b'] }),
      'timeout',
    );
    assert.match(timedOut.message, /maxConnections 1/);
    const waiting = runner.transaction(async (b) => void b.set('pool-b', enc('2')).get('pool-a'), {
      watch: ['pool-b'],
    });
    // With the pool full, a standalone transaction queues for a connection without any I/O first:
    // once this turn's microtasks ran, it is a waiter.
    await tick();
    letGo();
    assert.equal((await first).ok, true);
    const second = await waiting;
    assert.ok(second.ok);
    assert.equal(dec(second.results[1] as Uint8Array), '1', 'ran after the first one committed');
  });

  it('validates its options with one ConfigError naming each field', () => {
    assert.throws(
      () =>
        createTransactionRunner({
          client: cache.client,
          mode: 'cluster',
          commandTimeout: -1,
          maxConnections: 0,
          defaultTtl: Number.NaN,
        }),
      (e) =>
        e instanceof ConfigError &&
        ['mode', 'commandTimeout', 'maxConnections', 'defaultTtl'].every((p) =>
          e.issues.some((i) => i.path === p),
        ),
    );
    assert.throws(
      () => createTransactionRunner({ client: undefined as unknown as Redis }),
      (e) => e instanceof ConfigError && e.issues[0]?.path === 'client',
    );
  });

  it('sends a transaction of 100,000 operations (its arguments overflowed the JS stack before)', async () => {
    await raw.set('tx:many-99999', 'x');
    const r = await cache.transaction((b) => {
      for (let i = 0; i < 100_000; i++) b.delete(`many-${i}`);
    });
    assert.ok(r.ok);
    assert.equal(r.results.length, 100_000);
    assert.equal(r.results.filter((x) => x === true).length, 1);
    assert.equal(r.results[99_999], true);
    assert.equal(await raw.exists('tx:many-99999'), 0);
  });

  it('applies the runner defaultTtl to sets without a TTL', async (t) => {
    const runner = createTransactionRunner({ client: cache.client, keyPrefix: 'tx:', defaultTtl: 5000 });
    t.after(() => runner.close());
    await runner.transaction((b) => void b.set('dttl', enc('x')).set('own-ttl', enc('y'), 60_000));
    const pttl = await raw.pttl('tx:dttl');
    assert.ok(pttl > 0 && pttl <= 5000, `pttl ${pttl}`);
    assert.ok((await raw.pttl('tx:own-ttl')) > 5000);
  });

  it('a GET of a key of another type fails alone: the writes were applied, and the error says so', async () => {
    await raw.del('tx:list');
    await raw.rpush('tx:list', 'x');
    const err = await rejectsWith(
      tx.transaction((b) => void b.set('beside-list', enc('w')).get('list')),
      'invalid_value',
    );
    assert.match(err.message, /was applied, but get of "list" failed/);
    assert.match(err.message, /WRONGTYPE/);
    assert.equal(await raw.get('tx:beside-list'), 'w');
  });

  it('an EXEC that reaches the server after its timeout applies nothing (it never lands late)', async () => {
    // The server is blocked by a busy script from another client while the EXEC waits in its socket:
    // the client gives up after 200 ms, and when the server reads the EXEC ~700 ms later it must not
    // apply it (before the fix it did, overwriting a write the caller was told failed).
    const runner = runnerFor(cache, { maxConnections: 1, commandTimeout: 200 });
    const blocker = new Redis({ port: redis.port, password: PASSWORD });
    const probe = new Redis({ port: redis.port, password: PASSWORD, commandTimeout: 50 });
    for (const c of [blocker, probe]) c.on('error', () => {});
    cleanup.push(
      () => runner.close(),
      async () => blocker.disconnect(),
      async () => probe.disconnect(),
    );
    // Other runners of this suite keep idle connections with the same name: count ours by difference.
    const txConnections = async () => String(await raw.client('LIST')).split('name=hyperion:tx ').length - 1;
    const others = await txConnections();
    // Warm up: the dedicated connection is open and has measured the server's clock.
    assert.equal((await runner.transaction((b) => void b.set('late', enc('v1')))).ok, true);
    const busy = `local s = redis.call('TIME')
local start = s[1] * 1000 + s[2] / 1000
while true do
  local n = redis.call('TIME')
  if n[1] * 1000 + n[2] / 1000 - start > tonumber(ARGV[1]) then return 1 end
end`;
    const blocked = blocker.eval(busy, 0, '700');
    // The server is blocked once a PING gets no answer within 50 ms.
    await waitFor(
      () =>
        probe.ping().then(
          () => false,
          () => true,
        ),
      { timeoutMs: 5000, what: 'the busy script' },
    );
    const started = performance.now();
    await rejectsWith(
      runner.transaction((b) => void b.set('late', enc('v2')).delete('other')),
      'timeout',
    );
    assert.ok(performance.now() - started < 600, 'the caller was told before the server read the EXEC');
    assert.equal(await blocked, 1);
    // The timed-out connection was discarded; once the server has read its EXEC (and the close
    // behind it), no transaction connection is left.
    await waitFor(async () => (await txConnections()) === others, {
      timeoutMs: 5000,
      what: 'the server to drop the timed-out transaction connection',
    });
    assert.equal(await raw.get('tx:late'), 'v1', 'the late EXEC was not applied');
    // The runner works again on a new connection.
    assert.equal((await runner.transaction((b) => void b.set('late', enc('v3')))).ok, true);
    assert.equal(await raw.get('tx:late'), 'v3');
  });

  it('a lost EXEC reply says the outcome is unknown (it was applied here), and the connection is dropped, not sent an UNWATCH', async () => {
    // The server runs the EXEC, but its reply never reaches the client (a network fault between
    // them): the transaction is applied. Before the fix the error said "nothing was applied", and
    // the runner sent UNWATCH behind the unanswered EXEC and waited a second command timeout for it.
    const proxy = await startFaultProxy({ target: { host: redis.host, port: redis.port } });
    const c = createRedisCache({
      addresses: [`${proxy.host}:${proxy.port}`],
      password: PASSWORD,
      keyPrefix: 'tx:',
      commandTimeout: 300,
    });
    cleanup.push(
      () => c.close(),
      () => proxy.close(),
    );
    const unwatches = async () => {
      const m = /cmdstat_unwatch:calls=(\d+)/.exec(String(await raw.info('commandstats')));
      return Number(m?.[1] ?? 0);
    };
    for (const watch of [[], ['lost']]) {
      // Warm up: a dedicated connection is open and has measured the server's clock.
      assert.equal((await c.transaction((b) => void b.set('lost', enc('before')), { watch })).ok, true);
      const before = await unwatches();
      const err = await rejectsWith(
        c.transaction(
          (b) => {
            // From here on (after the WATCH, if any) the replies are lost.
            proxy.droppingReplies = true;
            b.set('lost', enc(`applied-${watch.length}`));
          },
          { watch },
        ),
        'timeout',
      );
      proxy.droppingReplies = false;
      assert.match(err.message, /applied completely or not at all/);
      assert.doesNotMatch(err.message, /nothing was applied/);
      assert.equal(await raw.get('tx:lost'), `applied-${watch.length}`, 'the server did apply it');
      assert.equal(await unwatches(), before, 'no UNWATCH was queued behind the lost EXEC');
    }
    // The next transaction gets a fresh connection.
    assert.deepEqual(await c.transaction((b) => void b.get('lost')), {
      ok: true,
      results: [enc('applied-1')],
    });
  });

  it("cache.transaction fails like the cache's other commands when it cannot reach Redis: at once on a wrong password, naming the fault and counted", async () => {
    const wrong = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      password: 'not-the-password',
      keyPrefix: 'tx:',
      commandTimeout: 3000,
    });
    cleanup.push(() => wrong.close());
    // The cache's own connection meets the refusal first.
    await rejectsWith(wrong.get('k'), 'unavailable');
    for (const watch of [[], ['k']]) {
      const started = performance.now();
      const err = await rejectsWith(
        wrong.transaction((t) => void t.set('k', enc('v')), { watch }),
        'unavailable',
      );
      const ms = performance.now() - started;
      // The old code waited the command timeout for a dedicated connection, then said only
      // "connecting took longer than 3000 ms" (code timeout).
      assert.match(err.message, /authentication failed/);
      assert.ok(ms < 1500, `surfaced after ${ms.toFixed(0)} ms`);
      assert.ok(!err.message.includes('not-the-password'));
    }
    assert.ok(wrong.stats().errors >= 3);
    // Misuse is still reported as misuse while the cache cannot connect.
    await rejectsWith(wrong.transaction('nope' as never), 'invalid_value');
    await rejectsWith(
      wrong.transaction(() => {}, { watch: [''] }),
      'invalid_key',
    );
    assert.equal(await raw.get('tx:k'), null);
  });

  it('a WATCH transaction whose server dies while fn runs fails with unavailable and says nothing was applied', async () => {
    const other = await startRedis();
    const c = createRedisCache({ addresses: [`${other.host}:${other.port}`], commandTimeout: 1000 });
    cleanup.push(
      () => c.close(),
      () => other.stop(),
    );
    await c.set('k', enc('v0'));
    const err = await rejectsWith(
      c.transaction(
        async (t) => {
          await t.read('k');
          await other.stop();
          // Every connection to it is closed; the cache's own shows it first in health().
          await waitFor(async () => !(await c.health()).ok, {
            timeoutMs: 5000,
            what: 'the server to be gone',
          });
          t.set('k', enc('v1'));
        },
        { watch: ['k'] },
      ),
      'unavailable',
    );
    // EXEC was never sent: not "the reply was lost" (applied or not), but nothing applied.
    assert.match(err.message, /nothing was applied/);
    assert.doesNotMatch(err.message, /reply was lost/);
  });

  it("a value the server's limits refuse: the server's reason and nothing applied, or a lost connection as unavailable", async () => {
    // proto-max-bulk-len 1mb: a 2 MiB value is answered "Protocol error: invalid bulk length"
    // (`too_large`, was `backend`) and the server closes the connection. Then client-query-buffer-limit 1mb (bulks up to 512mb): the
    // same value makes it close the connection without a word, after MULTI's reply: iovalkey
    // rejects the rest with "Command aborted due to connection close", which was code `backend`.
    const limited = await startRedis({ extraConfig: ['proto-max-bulk-len 1mb'] });
    const c = createRedisCache({ addresses: [`${limited.host}:${limited.port}`], commandTimeout: 2000 });
    cleanup.push(
      () => c.close(),
      () => limited.stop(),
    );
    const big = Buffer.alloc(2 * 1024 * 1024);
    const send = (watch: string[]) =>
      c.transaction((b) => void b.set('other', enc('x')).set('big', big), { watch });
    for (const watch of [[], ['big']]) {
      // The error reply can be lost with the connection (the client was still sending the value,
      // so the server's close may reset the connection): then it is a lost connection.
      const refused = await rejectsWith(send(watch), 'too_large', 'unavailable');
      if (refused.code === 'too_large') {
        assert.match(refused.message, /invalid bulk length/);
        assert.match(refused.message, /nothing was applied/);
      }
    }
    const config = (name: string, value: string) =>
      redisCommand(limited.port, ['CONFIG', 'SET', name, value]);
    await config('proto-max-bulk-len', '512mb');
    await config('client-query-buffer-limit', '1mb');
    for (const watch of [[], ['big']]) {
      const lost = await rejectsWith(send(watch), 'unavailable');
      assert.match(lost.message, /connection (close|is closed)/i);
    }
    assert.equal(await redisCommand(limited.port, ['EXISTS', 'other', 'big']), 0);
    // The connections were replaced: a transaction within the limits applies.
    assert.deepEqual(await c.transaction((b) => void b.set('other', enc('x'))), {
      ok: true,
      results: [true],
    });
  });

  it('fails with a typed error when Redis is down, then close() makes it reject with closed', async () => {
    const other = await startRedis();
    const c = createRedisCache({ addresses: [`${other.host}:${other.port}`], commandTimeout: 1000 });
    const runner = runnerFor(c, { commandTimeout: 1000 });
    cleanup.push(
      () => runner.close(),
      () => c.close(),
      () => other.stop(),
    );
    assert.equal((await runner.transaction((t) => void t.set('k', enc('v')))).ok, true);
    await other.stop();
    await rejectsWith(
      runner.transaction((t) => void t.set('k', enc('v'))),
      'unavailable',
      'timeout',
    );
    await rejectsWith(
      runner.transaction(() => {}, { watch: ['k'] }),
      'unavailable',
      'timeout',
    );
    await runner.close();
    await runner.close();
    await rejectsWith(
      runner.transaction(() => {}),
      'closed',
    );
  });
});

describeWithServers('redis transactions on a cluster', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  let tx: TransactionRunner;
  let raw: Cluster;
  const unhandled = watchUnhandled();

  before(async () => {
    cluster = await startRedisCluster();
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      keyPrefix: 'app:',
      commandTimeout: 2000,
    });
    tx = runnerFor(cache, { maxConnections: 2 });
    raw = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
    raw.on('error', () => {});
  });
  after(async () => {
    await tx?.close();
    await cache?.close();
    raw?.disconnect();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('updates hash-tagged keys atomically on their master', async () => {
    const r = await tx.transaction((t) => {
      t.set('{user:1}:name', enc('Ada')).set('{user:1}:email', enc('ada@example.org')).get('{user:1}:name');
    });
    assert.ok(r.ok);
    assert.equal(dec(r.results[2] as Uint8Array), 'Ada');
    assert.equal(await raw.get('app:{user:1}:name'), 'Ada');
    assert.equal(dec(await cache.get('{user:1}:email')), 'ada@example.org');
  });

  it('rejects a cross-slot transaction before sending, naming the keys and explaining hash tags', async () => {
    assert.notEqual(keySlot('app:alpha'), keySlot('app:beta'), 'test keys must be on different slots');
    const err = await rejectsWith(
      tx.transaction((t) => {
        t.set('alpha', enc('1')).set('beta', enc('2'));
      }),
      'cross_slot',
    );
    assert.match(err.message, /"alpha" \(slot \d+\)/);
    assert.match(err.message, /"beta" \(slot \d+\)/);
    assert.match(err.message, /hash tag/);
    assert.match(err.message, /\{user:1\}:/);
    assert.equal(await raw.exists('app:alpha'), 0, 'nothing sent');

    // Watched keys are checked before the WATCH is sent; mixing a watched slot with another fails too.
    await rejectsWith(
      tx.transaction(() => {}, { watch: ['alpha', 'beta'] }),
      'cross_slot',
    );
    await rejectsWith(
      tx.transaction(
        async (t) => {
          await t.read('{user:1}:name');
          t.set('{user:1}:name', enc('Bob')).set('beta', enc('2'));
        },
        { watch: ['{user:1}:name'] },
      ),
      'cross_slot',
    );
    assert.equal(await raw.get('app:{user:1}:name'), 'Ada', 'nothing applied');
    assert.equal(await raw.exists('app:beta'), 0);
  });

  it('a refused transaction names its slot and the master it ran on, and says out of memory once', async (t) => {
    // That master alone is out of memory (maxmemory 1 byte, noeviction): the transaction is refused.
    const key = '{oom:1}:a';
    const slot = keySlot(`app:${key}`);
    const owner = (raw.slots[slot] ?? [])[0];
    assert.ok(owner, 'the slot has a master');
    const [host, port] = owner.split(':') as [string, string];
    const config = (value: string) =>
      redisCommand(Number(port), ['CONFIG', 'SET', 'maxmemory', value], { host });
    await config('1');
    t.after(() => config('0'));
    for (const watch of [[], [key]]) {
      const err = await rejectsWith(
        cache.transaction((b) => void b.set(key, enc('v')), { watch }),
        'oom',
      );
      // Before: "… (cluster nodes A, B, C)", every master, and "out of memory" twice.
      assert.match(err.message, new RegExp(`slot ${slot} on ${owner.replace(/\./g, '\\.')}`));
      assert.equal(err.message.split('out of memory').length - 1, 1, err.message);
      assert.match(err.message, /nothing was applied/);
    }
    await config('0');
    assert.equal(await raw.exists(`app:${key}`), 0);
  });

  it('detects a WATCH conflict on a cluster node', async () => {
    await raw.set('app:{acct:7}:balance', '50');
    const r = await tx.transaction(
      async (t) => {
        const seen = Number(dec(await t.read('{acct:7}:balance')));
        await raw.set('app:{acct:7}:balance', '60');
        t.set('{acct:7}:balance', enc(String(seen + 5))).set('{acct:7}:log', enc('+5'));
      },
      { watch: ['{acct:7}:balance'] },
    );
    assert.deepEqual(r, { ok: false, conflict: true });
    assert.equal(await raw.get('app:{acct:7}:balance'), '60');
    assert.equal(await raw.exists('app:{acct:7}:log'), 0);
  });

  it('runs concurrent check-and-set increments on several masters without lost updates', async () => {
    const tags = ['{a}', '{b}', '{c}', '{d}', '{e}', '{f}'];
    const masters = new Set(tags.map((tag) => (raw.slots[keySlot(`app:${tag}:n`)] ?? [])[0]));
    assert.ok(masters.size >= 2, 'the tags should spread over several masters');
    const perTag = 8;
    const results = await Promise.all(
      tags.flatMap((tag) =>
        Array.from({ length: perTag }, () =>
          retryTransaction(() => increment(tx, `${tag}:n`, `${tag}:m`), { attempts: 200, backoffMs: 1 }),
        ),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, tags.length * perTag);
    for (const tag of tags) {
      assert.equal(await raw.get(`app:${tag}:n`), String(perTag), tag);
      assert.equal(await raw.get(`app:${tag}:m`), String(perTag), tag);
    }
  });

  // Last in this suite: it moves a slot to another master.
  it('follows ASK during a slot migration when nothing is watched; with WATCH fails, nothing applied', async () => {
    const key = '{migrating}:k';
    const slot = keySlot(`app:${key}`);
    const source = (raw.slots[slot] ?? [])[0]!;
    const target = raw
      .nodes('master')
      .map((n) => `${n.options.host}:${n.options.port}`)
      .find((a) => a !== source)!;
    const port = (addr: string) => Number(addr.split(':')[1]);
    const id = async (addr: string) => String(await redisCommand(port(addr), ['CLUSTER', 'MYID']));
    const [sourceId, targetId] = [await id(source), await id(target)];
    await redisCommand(port(target), ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId]);
    await redisCommand(port(source), ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', targetId]);
    // The key is not on the source: it answers ASK, pointing at the target. Before, the
    // transaction failed with `unavailable` (ASK …); it now goes to the target, after ASKING.
    assert.deepEqual(await cache.transaction((b) => void b.set(key, enc('moved')).get(key)), {
      ok: true,
      results: [true, enc('moved')],
    });
    const onTarget = new Redis({ port: port(target) });
    onTarget.on('error', () => {});
    try {
      await onTarget.asking();
      assert.equal(await onTarget.get(`app:${key}`), 'moved', 'stored on the importing node');
    } finally {
      onTarget.disconnect();
    }
    // The guard of WATCH cannot move with it: an error, and nothing applied.
    const err = await rejectsWith(
      cache.transaction((b) => void b.set('{migrating}:w', enc('x')), { watch: ['{migrating}:w'] }),
      'unavailable',
    );
    assert.match(err.message, /ASK/);
    for (const master of raw.nodes('master'))
      await redisCommand(master.options.port!, ['CLUSTER', 'SETSLOT', slot, 'NODE', targetId]);
  });
});

describeWithServers('redis transactions across a sentinel failover', skipRedis(), () => {
  let set: RedisSentinelSet;
  const unhandled = watchUnhandled();

  before(async () => {
    set = await startRedisSentinel({ password: PASSWORD });
  });
  after(async () => {
    await set?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('each transaction commits whole or reports failure — never half-applied', async (t) => {
    const cache = createRedisCache({
      mode: 'sentinel',
      addresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      sentinel: { masterName: set.masterName },
      password: PASSWORD,
      keyPrefix: 'fo:',
      commandTimeout: 1000,
      dialTimeout: 1000,
    });
    const runner = runnerFor(cache, { commandTimeout: 1000 });
    t.after(async () => {
      await runner.close();
      await cache.close();
    });

    const outcomes = { ok: 0, conflict: 0, failed: 0, okAfterFailover: 0 };
    const codes = new Set<string>();
    let killedAt: number | undefined;
    let recoveredMs: number | undefined;
    const deadline = Date.now() + 40_000;
    for (let i = 0; i < 5000 && Date.now() < deadline; i++) {
      if (outcomes.ok === 20 && killedAt === undefined) {
        await set.master.kill();
        killedAt = Date.now();
      }
      try {
        const r = await increment(runner, 'a', 'b');
        if (r.ok) {
          outcomes.ok++;
          if (killedAt !== undefined) {
            recoveredMs ??= Date.now() - killedAt;
            if (++outcomes.okAfterFailover >= 20) break;
          }
        } else outcomes.conflict++;
      } catch (err) {
        assert.ok(err instanceof CacheError, `a CacheError, got ${String(err)}`);
        codes.add(err.code);
        outcomes.failed++;
        await sleep(50);
      }
    }
    console.log(
      `transactions across failover: ${JSON.stringify(outcomes)}, error codes ${[...codes].join(',') || '-'}, ` +
        `first commit ${recoveredMs ?? '?'} ms after the kill`,
    );
    assert.ok(killedAt !== undefined, 'the master was killed');
    assert.ok(outcomes.okAfterFailover >= 20, 'transactions commit again after the promotion');
    for (const code of codes) assert.ok(['unavailable', 'timeout'].includes(code), `unexpected code ${code}`);

    // Read both keys from the promoted master: the pair is always equal.
    const promoted = await waitFor(
      async () => {
        const role = (await redisCommand(set.replica.port, ['ROLE'], { password: PASSWORD })) as unknown[];
        return role[0] === 'master';
      },
      { timeoutMs: 10_000, what: 'the replica to be promoted' },
    );
    assert.ok(promoted);
    const a = await redisCommand(set.replica.port, ['GET', 'fo:a'], { password: PASSWORD });
    const b = await redisCommand(set.replica.port, ['GET', 'fo:b'], { password: PASSWORD });
    assert.equal(a, b, 'both keys of every transaction applied together');
    // A committed increment applies once: the counter never exceeds the attempts that could commit.
    assert.ok(Number(a) <= outcomes.ok + outcomes.failed, `counter ${a} vs ${JSON.stringify(outcomes)}`);
    assert.ok(Number(a) >= outcomes.okAfterFailover, 'commits after the promotion are all there');
  });

  it('with every sentinel down, a transaction that needs a new connection fails at once with unavailable', async (t) => {
    // The master is up (the cache's own connection still works); only opening a dedicated
    // connection needs a sentinel. Before, it asked the dead sentinels again and again until the
    // command timeout and then reported `timeout` ("connecting took longer than …").
    const cache = createRedisCache({
      mode: 'sentinel',
      addresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      sentinel: { masterName: set.masterName },
      password: PASSWORD,
      keyPrefix: 'sd:',
      commandTimeout: 5000,
    });
    t.after(() => cache.close());
    await cache.set('k', enc('v'));
    for (const s of set.sentinelServers) await s.stop();
    assert.equal(dec(await cache.get('k')), 'v', 'the master still answers');
    const err = await rejectsWith(
      cache.transaction((b) => void b.set('k', enc('w'))),
      'unavailable',
    );
    assert.match(err.message, /sentinels/);
    assert.match(err.message, /unreachable/);
    assert.equal(dec(await cache.get('k')), 'v', 'nothing was applied');
  });
});

describeWithServers(
  'redis transactions across a manual sentinel failover (both nodes up)',
  skipRedis(),
  () => {
    let set: RedisSentinelSet;
    const unhandled = watchUnhandled();

    before(async () => {
      set = await startRedisSentinel({ password: PASSWORD });
    });
    after(async () => {
      await set?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it("follows the cache's own connection to the promoted master: never a write to the demoted one", async (t) => {
      // After SENTINEL FAILOVER the old master keeps accepting writes until the sentinels reconfigure
      // it (seconds later), and those writes are then lost. The cache's own connection follows
      // +switch-master; before the fix, transactions kept using their pooled connections to the old
      // master and reported { ok: true } for writes that were lost.
      const cache = createRedisCache({
        mode: 'sentinel',
        addresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
        sentinel: { masterName: set.masterName },
        password: PASSWORD,
        keyPrefix: 'mf:',
        commandTimeout: 2000,
      });
      t.after(() => cache.close());
      const onNode = async (port: number, key: string) =>
        redisCommand(port, ['GET', `mf:${key}`], { password: PASSWORD });
      // Two pooled connections to the original master: one idle, one inside a WATCH transaction.
      const warm = (key: string) => cache.transaction((b) => void b.set(key, enc('0')), { watch: [key] });
      await Promise.all([warm('a'), warm('b')]);
      const promoted = `127.0.0.1:${set.replica.port}`;
      const switched = () =>
        waitFor(async () => (await cache.health()).nodes?.[0]?.address === promoted, {
          timeoutMs: 20_000,
          what: "the cache's connection to follow the failover",
        });
      const inFlight = cache.transaction(
        async (b) => {
          await b.read('a');
          await redisCommand(set.sentinels[0]!.port, ['SENTINEL', 'FAILOVER', set.masterName]);
          await switched();
          b.set('a', enc('in-flight'));
        },
        { watch: ['a'] },
      );
      const err = await rejectsWith(inFlight, 'unavailable');
      assert.match(err.message, /master changed/);
      assert.match(err.message, /nothing was applied/);
      // A new transaction (the pool holds an idle connection to the old master) goes to the new one.
      assert.deepEqual(await cache.transaction((b) => void b.set('b', enc('after'))), {
        ok: true,
        results: [true],
      });
      assert.equal(await onNode(set.replica.port, 'b'), 'after');
      assert.equal(await onNode(set.replica.port, 'a'), '0');
      assert.equal(
        await onNode(set.master.port, 'a'),
        '0',
        'the in-flight EXEC never reached the old master',
      );
    });
  },
);
