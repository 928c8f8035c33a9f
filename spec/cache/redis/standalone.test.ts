import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import type { LogFields } from '../../../lib/core/contracts.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

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

  // The Cache contract itself (get/set/delete, batches, TTLs, getOrSet, typed errors, close):
  // redis.conformance.test.ts. Here: what is particular to Redis.

  it('stores under its key prefix; is named redis, in standalone mode', async () => {
    assert.equal(await cache.set('a', enc('1')), true);
    assert.equal(await raw.get('std:a'), '1', 'stored under the prefix');
    assert.equal(cache.name, 'redis');
    assert.equal(cache.mode, 'standalone');
  });

  // Redis refuses a client name with a space, newline or non-ASCII letter, iovalkey ignored the
  // refusal: a cache named `orders cache` had unnamed connections, its health probe's too.
  it('names its connections hyperion:<name>, with characters Redis refuses in a name as _', async () => {
    const named = make({ keyPrefix: 'named:', name: 'orders cache ü' });
    assert.equal(await named.set('a', enc('1')), true);
    assert.equal((await named.health()).ok, true);
    const names: string[] = String(await raw.client('LIST')).match(/ name=\S*/g) ?? [];
    assert.ok(names.includes(' name=hyperion:orders_cache__'), names.join(','));
    assert.ok(names.includes(' name=hyperion:orders_cache__:health'), names.join(','));
    assert.equal(named.name, 'orders cache ü', 'the cache keeps its name (the metrics label)');
  });

  it('sends a TTL as PX, and no TTL as none', async () => {
    await cache.set('ttl', enc('x'), 150);
    const pttl = await raw.pttl('std:ttl');
    assert.ok(pttl > 0 && pttl <= 150, `pttl ${pttl}`);
    await cache.set('forever', enc('y'));
    assert.equal(await raw.pttl('std:forever'), -1, 'no TTL given = no expiry');
  });

  it('applies defaultTtl when set gets none', async () => {
    const c = make({ keyPrefix: 'dttl:', defaultTtl: 60_000 });
    await c.set('k', enc('v'));
    const pttl = await raw.pttl('dttl:k');
    assert.ok(pttl > 50_000 && pttl <= 60_000, `pttl ${pttl}`);
  });

  it('deleteMany of 200,000 keys is sent (its arguments overflowed the JS stack before)', async () => {
    await raw.set('std:bulk-199999', 'x');
    const keys = Array.from({ length: 200_000 }, (_, i) => `bulk-${i}`);
    assert.equal(await cache.deleteMany(keys), 1);
    assert.equal(await raw.exists('std:bulk-199999'), 0);
  });

  it('setMany sends the TTL of each entry as PX', async () => {
    await cache.setMany([
      { key: 'm1', value: enc('one') },
      { key: 'm2', value: enc('two'), ttl: 60_000 },
    ]);
    assert.ok((await raw.pttl('std:m2')) > 0);
    assert.equal(await raw.pttl('std:m1'), -1);
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

  it('pipeline().set copies its value: a scratch buffer refilled per key stores each key its own bytes', async () => {
    // It used to queue a view of the caller's buffer, read at exec(): every key got the last bytes.
    const scratch = Buffer.alloc(1);
    const p = cache.pipeline();
    for (const [i, c] of ['a', 'b', 'c'].entries()) {
      scratch.write(c);
      p.set(`scratch${i}`, scratch);
    }
    assert.deepEqual(await p.exec(), [true, true, true]);
    const values = await cache.getMany(['scratch0', 'scratch1', 'scratch2']);
    assert.deepEqual(values.map(dec), ['a', 'b', 'c']);
  });

  it('reports health with latency and role', async () => {
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    assert.equal(h.mode, 'standalone');
    assert.equal(h.role, 'master');
    assert.equal(typeof h.latencyMs, 'number');
    assert.deepEqual(h.nodes, [{ address: `127.0.0.1:${redis.port}`, role: 'master', connected: true }]);
  });

  it('rejects Redis-specific bad input before sending anything, and does not count it as an error', async () => {
    const errorsBefore = cache.stats().errors;
    await rejectsWith(cache.set('k', enc('v'), 1e300), 'invalid_ttl'); // beyond MAX_TTL_MS
    await rejectsWith(cache.setMany([{ key: '', value: enc('v') }]), 'invalid_key');
    await rejectsWith(cache.getMany('k' as unknown as string[]), 'invalid_key');
    await rejectsWith(cache.getManyWithTtl('k' as unknown as string[]), 'invalid_key');
    await rejectsWith(cache.getManyWithTtl(['ok', '']), 'invalid_key');
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

  it('takes a logger without child (console-like) and logs through it', async (t) => {
    const small = await startRedis({ maxmemory: '2mb', maxmemoryPolicy: 'noeviction' });
    t.after(() => small.stop());
    const warnings: string[] = [];
    // No `child`: as `console` is. createRedisCache threw a bare TypeError on it.
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const c = createRedisCache({ addresses: [`127.0.0.1:${small.port}`], logger: logger as never });
    t.after(() => c.close());
    await rejectsWith(c.set('big', new Uint8Array(3 * 1024 * 1024)), 'oom');
    assert.ok(warnings.length >= 1, 'the failure went to the given logger');
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

  it('close() waits for in-flight commands, then reports down and ends the client', async () => {
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
    assert.equal((await c.health()).ok, false);
    assert.equal(c.client.status, 'end');
  });

  it('after close(), empty batches and an empty pipeline reject with closed too (they resolved)', async () => {
    const c = make({ keyPrefix: 'closed-empty:' });
    const p = c.pipeline();
    await c.close();
    await rejectsWith(c.getMany([]), 'closed');
    await rejectsWith(c.getManyWithTtl([]), 'closed');
    await rejectsWith(c.setMany([]), 'closed');
    await rejectsWith(c.deleteMany([]), 'closed');
    await rejectsWith(p.exec(), 'closed');
    await rejectsWith(c.pipeline().exec(), 'closed');
    // Bad input is still named first, as by every cache.
    await rejectsWith(c.getMany([''] as string[]), 'invalid_key');
  });

  it('a GET answered after its timeout fails once as timeout, is never counted as a hit, and leaves nothing in flight', async () => {
    // cache.get sends its own command whose reply transform counts (direct-get.ts): a reply that
    // arrives after the timeout already rejected must not count a second time.
    const c = make({ keyPrefix: 'late:', commandTimeout: 100 });
    await c.set('k', enc('v'));
    const before = c.stats();
    await raw.call('CLIENT', 'PAUSE', '400', 'ALL');
    await rejectsWith(c.get('k'), 'timeout');
    await new Promise((r) => setTimeout(r, 600)); // the late reply has arrived by now
    const after = c.stats();
    assert.equal(after.errors, before.errors + 1);
    assert.equal(after.hits, before.hits);
    assert.equal(after.misses, before.misses);
    assert.equal(after.inflight, 0);
    assert.equal(dec(await c.get('k')), 'v', 'the next GET works and counts');
    assert.equal(c.stats().hits, before.hits + 1);
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
