import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import type { LogFields } from '../../../lib/core/contracts.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { MAX_KEY_BYTES } from '../../../lib/core/validate.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { allBytes, dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

const PASSWORD = 'hunter2-секрет';

describeWithServers('redis cache on a standalone server with requirepass', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  let raw: Redis;
  const unhandled = watchUnhandled();
  const caches: RedisCache[] = [];
  const make = (opts: Parameters<typeof createRedisCache>[0] = {}) => {
    const c = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      password: PASSWORD,
      commandTimeout: 2000,
      ...opts,
    });
    caches.push(c);
    return c;
  };

  before(async () => {
    redis = await startRedis({ password: PASSWORD });
    cache = make({ keyPrefix: 'std:' });
    raw = new Redis({ port: redis.port, password: PASSWORD });
    raw.on('error', () => {});
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    raw?.disconnect();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('gets, sets, deletes and checks keys under its prefix', async () => {
    assert.equal(await cache.get('a'), undefined);
    assert.equal(await cache.set('a', enc('1')), true);
    assert.equal(dec(await cache.get('a')), '1');
    assert.equal(await raw.get('std:a'), '1', 'stored under the prefix');
    assert.equal(await cache.has('a'), true);
    assert.equal(await cache.delete('a'), true);
    assert.equal(await cache.delete('a'), false);
    assert.equal(await cache.has('a'), false);
    assert.equal(cache.name, 'redis');
    assert.equal(cache.mode, 'standalone');
  });

  it('expires entries after their TTL (PX)', async () => {
    await cache.set('ttl', enc('x'), 150);
    const pttl = await raw.pttl('std:ttl');
    assert.ok(pttl > 0 && pttl <= 150, `pttl ${pttl}`);
    assert.equal(dec(await cache.get('ttl')), 'x');
    await waitFor(async () => (await cache.get('ttl')) === undefined, { timeoutMs: 3000, what: 'expiry' });
    await cache.set('forever', enc('y'));
    assert.equal(await raw.pttl('std:forever'), -1, 'no TTL given = no expiry');
  });

  it('applies defaultTtl when set gets none', async () => {
    const c = make({ keyPrefix: 'dttl:', defaultTtl: 60_000 });
    await c.set('k', enc('v'));
    const pttl = await raw.pttl('dttl:k');
    assert.ok(pttl > 50_000 && pttl <= 60_000, `pttl ${pttl}`);
  });

  it('round-trips every byte value; Uint8Array in, Uint8Array out', async () => {
    const value = allBytes();
    await cache.set('bin', value);
    const got = await cache.get('bin');
    assert.ok(got instanceof Uint8Array);
    assert.deepEqual(Buffer.from(got), Buffer.from(value));
    // a view into a larger buffer stores only its own bytes
    const backing = new Uint8Array(300).fill(7);
    backing.set([0, 255, 128], 100);
    await cache.set('view', backing.subarray(100, 103));
    assert.deepEqual([...((await cache.get('view')) ?? [])], [0, 255, 128]);
    const [many] = await cache.getMany(['bin']);
    assert.deepEqual(Buffer.from(many!), Buffer.from(value));
  });

  it('getMany keeps request order with misses; setMany stores all with their TTLs', async () => {
    await cache.setMany([
      { key: 'm1', value: enc('one') },
      { key: 'm2', value: enc('two'), ttl: 60_000 },
      { key: 'm3', value: enc('three') },
    ]);
    const got = await cache.getMany(['m3', 'missing', 'm1', 'm2', 'm1']);
    assert.deepEqual(got.map(dec), ['three', undefined, 'one', 'two', 'one']);
    assert.ok((await raw.pttl('std:m2')) > 0);
    assert.equal(await raw.pttl('std:m1'), -1);
    assert.deepEqual(await cache.getMany([]), []);
    await cache.setMany([]);
  });

  it('isolates key prefixes; clear() removes only its own, even with glob characters in the prefix', async () => {
    const a = make({ keyPrefix: 'tenant*[a]:' });
    const b = make({ keyPrefix: 'tenantX:' });
    const c = make({ keyPrefix: 'tenant' });
    for (const x of [a, b, c]) await x.set('same', enc(x.keyPrefix));
    assert.equal(dec(await a.get('same')), 'tenant*[a]:');
    assert.equal(dec(await b.get('same')), 'tenantX:');
    for (let i = 0; i < 1500; i++) await a.set(`k${i}`, enc('v')); // more than one SCAN page
    await a.clear();
    assert.equal(await a.get('same'), undefined);
    assert.equal((await raw.keys('tenant\\*\\[a\\]:*')).length, 0);
    assert.equal(dec(await b.get('same')), 'tenantX:', 'a glob prefix did not match the other tenant');
    assert.equal(dec(await c.get('same')), 'tenant');
    await b.clear();
    assert.equal(await b.get('same'), undefined);
    assert.equal(
      dec(await c.get('same')),
      'tenant',
      'tenantX: keys also start with "tenant", but this one stays',
    );
  });

  it('pipelines get/set/delete in one exec, results in order', async () => {
    const p = cache.pipeline();
    p.set('p1', enc('a')).set('p2', enc('b'), 60_000).get('p1').get('nope').delete('p2').get('p2');
    assert.equal(p.length, 6);
    const results = await p.exec();
    assert.deepEqual(
      results.map((r) => (r instanceof Uint8Array ? dec(r) : r)),
      [true, true, 'a', undefined, true, undefined],
    );
    assert.equal(p.length, 0, 'exec empties the queue');
    assert.deepEqual(await p.exec(), []);
  });

  it('getOrSet calls the loader once for concurrent callers and caches the value', async () => {
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return enc('loaded');
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, () => cache.getOrSet('gos', loader, 60_000)),
    );
    assert.equal(calls, 1);
    assert.ok(results.every((r) => dec(r) === 'loaded'));
    assert.equal(dec(await cache.getOrSet('gos', loader)), 'loaded');
    assert.equal(calls, 1, 'second call is a hit');
    assert.ok((await raw.pttl('std:gos')) > 0);
  });

  it('getOrSet delivers a loader error to every caller and caches nothing', async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('loader down');
    };
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, () => cache.getOrSet('gos-err', failing)),
    );
    assert.equal(calls, 1);
    assert.ok(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'loader down'));
    assert.equal(await cache.has('gos-err'), false);
    await rejectsWith(
      cache.getOrSet('gos-bad', async () => 'not bytes' as unknown as Uint8Array),
      'invalid_value',
    );
  });

  it('counts hits, misses and errors', async () => {
    const c = make({ keyPrefix: 'stats:' });
    await c.set('h', enc('1'));
    await c.get('h');
    await c.get('h');
    await c.get('miss');
    await c.getMany(['h', 'miss2']);
    const s = c.stats();
    assert.equal(s.hits, 3);
    assert.equal(s.misses, 2);
    assert.equal(s.hitRatio, 3 / 5);
    assert.equal(s.errors, 0);
    assert.equal(s.inflight, 0);
  });

  it('reports health with latency and role', async () => {
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    assert.equal(h.mode, 'standalone');
    assert.equal(h.role, 'master');
    assert.equal(typeof h.latencyMs, 'number');
    assert.deepEqual(h.nodes, [{ address: `127.0.0.1:${redis.port}`, role: 'master', connected: true }]);
  });

  it('rejects bad input with typed errors before sending anything', async () => {
    const errorsBefore = cache.stats().errors;
    await rejectsWith(cache.get(''), 'invalid_key');
    await rejectsWith(cache.get('x'.repeat(MAX_KEY_BYTES + 1)), 'invalid_key');
    await rejectsWith(cache.get(42 as unknown as string), 'invalid_key');
    for (const ttl of [Number.NaN, -1, 0, Number.POSITIVE_INFINITY, 1e300, '5' as unknown as number]) {
      await rejectsWith(cache.set('k', enc('v'), ttl), 'invalid_ttl');
    }
    await rejectsWith(cache.set('k', 'string' as unknown as Uint8Array), 'invalid_value');
    await rejectsWith(cache.set('k', null as unknown as Uint8Array), 'invalid_value');
    await rejectsWith(cache.setMany([{ key: '', value: enc('v') }]), 'invalid_key');
    await rejectsWith(cache.setMany([{ key: 'k', value: [1, 2] as unknown as Uint8Array }]), 'invalid_value');
    await rejectsWith(cache.getMany(['ok', '']), 'invalid_key');
    await rejectsWith(cache.getMany('k' as unknown as string[]), 'invalid_key');
    await rejectsWith(cache.getOrSet('k', enc('v') as unknown as () => Uint8Array), 'invalid_value');
    assert.throws(() => cache.pipeline().set('k', enc('v'), -5), CacheError);
    assert.equal(await raw.exists('std:k'), 0, 'nothing was written');
    assert.equal(cache.stats().errors, errorsBefore, 'misuse is not a backend error');
  });

  it('reports OOM as CacheError("oom"), and getOrSet still answers', async (t) => {
    const small = await startRedis({ maxmemory: '2mb', maxmemoryPolicy: 'noeviction' });
    t.after(() => small.stop());
    const logs: LogFields[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (_m: string, f?: LogFields) => logs.push(f ?? {}),
      error() {},
      child: () => logger,
    };
    const c = createRedisCache({ addresses: [`127.0.0.1:${small.port}`], logger });
    t.after(() => c.close());
    const big = new Uint8Array(3 * 1024 * 1024);
    const err = await rejectsWith(c.set('big', big), 'oom');
    assert.match(err.message, /OOM/);
    assert.ok(err.cause instanceof Error);
    const v = await c.getOrSet('big2', () => big);
    assert.equal(v.byteLength, big.byteLength, 'fail open: the loader value');
    assert.ok(c.stats().errors >= 2);
    assert.ok(logs.length >= 1 && logs[0]?.op === 'set', 'the failure was logged');
  });

  it('never puts the password in an error message', async (t) => {
    const c = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      password: 'wrong-password-xyz',
      commandTimeout: 300,
    });
    t.after(() => c.close());
    const err = await rejectsWith(c.get('k'), 'unavailable', 'backend');
    assert.ok(!err.message.includes('wrong-password-xyz'), err.message);
    const h = await c.health();
    assert.equal(h.ok, false);
    assert.ok(!String(h.error).includes('wrong-password-xyz'));
  });

  it('leaves an injected client open unless ownClient is set', async (t) => {
    const client = new Redis({ port: redis.port, password: PASSWORD, commandTimeout: 1000 });
    client.on('error', () => {});
    t.after(() => client.disconnect());
    const c = createRedisCache({ client, keyPrefix: 'inj:' });
    assert.equal(c.client, client);
    await c.set('k', enc('v'));
    await c.close();
    assert.equal(await client.get('inj:k'), 'v', 'still usable after cache.close()');
    const owned = createRedisCache({ client, ownClient: true });
    await owned.close();
    assert.equal(client.status, 'end');
  });

  it('connects lazily with minIdleConns: 0', async () => {
    const c = make({ minIdleConns: 0, keyPrefix: 'lazy:' });
    assert.equal(c.client.status, 'wait');
    await c.set('k', enc('v'));
    assert.equal(dec(await c.get('k')), 'v');
  });

  it('close() waits for in-flight commands, then rejects new ones; twice is harmless', async () => {
    const c = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      password: PASSWORD,
      keyPrefix: 'close:',
    });
    await c.set('k', enc('v'));
    const pending = c.get('k');
    const closing = c.close();
    assert.equal(dec(await pending), 'v');
    await closing;
    await c.close();
    await rejectsWith(c.get('k'), 'closed');
    await rejectsWith(
      c.getOrSet('k', () => enc('x')),
      'closed',
    );
    assert.equal((await c.health()).ok, false);
    assert.equal(c.client.status, 'end');
  });

  it('validates options eagerly with a ConfigError listing each field', () => {
    assert.throws(
      () =>
        createRedisCache({
          poolSize: 10,
          minIdleConns: 5,
          dialTimeout: -1,
          addresses: ['nohost'],
          mode: 'sentinel',
          tls: 'yes' as unknown as boolean,
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.issues.map((i) => i.path).sort();
        assert.deepEqual(paths, [
          'addresses.0',
          'dialTimeout',
          'minIdleConns',
          'poolSize',
          'sentinel.masterName',
          'tls',
        ]);
        return true;
      },
    );
    assert.throws(() => createRedisCache({ mode: 'cluster', db: 2 }), ConfigError);
    assert.throws(() => createRedisCache({ addresses: ['a:1', 'b:2'] }), ConfigError);
    assert.throws(
      () => createRedisCache({ password: 'pw', poolSize: 0 }),
      (e: Error) => !e.message.includes('pw'),
    );
  });
});
