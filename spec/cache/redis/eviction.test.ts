/**
 * The Redis cache when the server runs out of memory: with an evicting `maxmemory-policy` writes
 * keep succeeding and evicted keys are plain misses; with `noeviction` writes fail with
 * CacheError('oom') while reads, `getOrSet` and a tiered cache keep answering.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Redis } from 'iovalkey';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { deferred, tick, within } from '../../harness/clock.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, rejectsWith, watchUnhandled } from './helpers.js';

const PASSWORD = 'evict-me-not';
const MAXMEMORY = '4mb';
const VALUE_BYTES = 8 * 1024;
/** 1500 × 8 KiB ≈ 12 MiB of values: three times maxmemory. */
const FLOOD = 1500;
/** Writes in flight at once during a flood. */
const BATCH = 50;

/** An 8 KiB value that says which key it belongs to (first 4 bytes) and is otherwise filled. */
function valueFor(i: number): Buffer {
  const b = Buffer.alloc(VALUE_BYTES, i % 251);
  b.writeUInt32BE(i, 0);
  return b;
}

function idOf(value: Uint8Array): number {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(0);
}

/** A field of `INFO <section>` as a number. */
async function info(raw: Redis, section: string, field: string): Promise<number> {
  const text = await raw.info(section);
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(text);
  assert.ok(m, `INFO ${section} has ${field}`);
  return Number(m[1]);
}

/** Keyspace hits/misses as Redis itself counts them: an independent check of the cache's stats. */
async function serverReads(raw: Redis): Promise<{ hits: number; misses: number }> {
  return {
    hits: await info(raw, 'stats', 'keyspace_hits'),
    misses: await info(raw, 'stats', 'keyspace_misses'),
  };
}

interface Server {
  redis: RedisStandalone;
  raw: Redis;
  caches: { close(): Promise<void> }[];
  cache(prefix: string): RedisCache;
  stop(): Promise<void>;
}

async function server(policy: string): Promise<Server> {
  const redis = await startRedis({ password: PASSWORD, maxmemory: MAXMEMORY, maxmemoryPolicy: policy });
  const raw = new Redis({ port: redis.port, password: PASSWORD });
  raw.on('error', () => {});
  const caches: { close(): Promise<void> }[] = [];
  return {
    redis,
    raw,
    caches,
    cache(prefix) {
      const c = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        password: PASSWORD,
        keyPrefix: prefix,
        commandTimeout: 3000,
      });
      caches.push(c);
      return c;
    },
    async stop() {
      await Promise.allSettled(caches.map((c) => c.close()));
      raw.disconnect();
      await redis.stop();
    },
  };
}

/** Writes keys `from`…`to-1` in concurrent batches; resolves every `set` result (rejections included). */
async function flood(
  cache: RedisCache,
  from: number,
  to: number,
  ttl?: (i: number) => number,
): Promise<PromiseSettledResult<boolean>[]> {
  const out: PromiseSettledResult<boolean>[] = [];
  for (let start = from; start < to; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(start + BATCH, to); i++)
      batch.push(cache.set(`k${i}`, valueFor(i), ttl?.(i)));
    out.push(...(await Promise.allSettled(batch)));
  }
  return out;
}

for (const policy of ['allkeys-lfu', 'allkeys-lru']) {
  describeWithServers(`redis cache under maxmemory ${MAXMEMORY}, ${policy}`, skipRedis(), () => {
    let s: Server;
    let cache: RedisCache;
    const unhandled = watchUnhandled();

    before(async () => {
      s = await server(policy);
      cache = s.cache('ev:');
    });
    after(async () => {
      await s?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it('a write flood three times maxmemory never fails a set; Redis evicts instead', async () => {
      const results = await flood(cache, 0, FLOOD);
      const failed = results.filter((r) => r.status === 'rejected');
      assert.deepEqual(failed, [], 'no set failed');
      assert.ok(results.every((r) => r.status === 'fulfilled' && r.value === true));
      const evicted = await info(s.raw, 'stats', 'evicted_keys');
      assert.ok(evicted > 0, 'Redis evicted keys');
      const used = await info(s.raw, 'memory', 'used_memory');
      assert.ok(used <= 4 * 1024 * 1024 * 1.1, `used_memory ${used} stays near maxmemory`);
      assert.equal(cache.stats().errors, 0);
    });

    it('evicted keys read as misses, present keys as correct hits; stats match Redis and our count', async () => {
      const before = cache.stats();
      const server0 = await serverReads(s.raw);
      let hits = 0;
      let misses = 0;
      for (let i = 0; i < FLOOD; i++) {
        const v = await cache.get(`k${i}`);
        if (v === undefined) misses++;
        else {
          hits++;
          assert.equal(idOf(v), i, `k${i} holds its own value`);
          assert.equal(v.byteLength, VALUE_BYTES);
        }
      }
      // getMany counts per key, too.
      const many = await cache.getMany(Array.from({ length: 100 }, (_, i) => `k${FLOOD - 100 + i}`));
      for (const [j, v] of many.entries()) {
        if (v === undefined) misses++;
        else {
          hits++;
          assert.equal(idOf(v), FLOOD - 100 + j);
        }
      }
      assert.ok(misses > FLOOD / 2, `most of the flood was evicted (${misses} misses)`);
      assert.ok(hits > 0, 'some keys survived');
      const after = cache.stats();
      const server1 = await serverReads(s.raw);
      assert.equal(after.hits - before.hits, hits, 'adapter hits = our count');
      assert.equal(after.misses - before.misses, misses, 'adapter misses = our count');
      assert.equal(server1.hits - server0.hits, hits, 'adapter hits = Redis keyspace_hits');
      assert.equal(server1.misses - server0.misses, misses, 'adapter misses = Redis keyspace_misses');
      assert.equal(after.errors, 0);
    });

    it('getOrSet reloads evicted keys through the loader and stores them again', async () => {
      const evictedIds: number[] = [];
      for (let i = 0; i < FLOOD && evictedIds.length < 30; i++) {
        if ((await s.raw.exists(`ev:k${i}`)) === 0) evictedIds.push(i);
      }
      assert.equal(evictedIds.length, 30);
      const before = cache.stats();
      const server0 = await serverReads(s.raw);
      let loads = 0;
      for (const i of evictedIds) {
        const v = await cache.getOrSet(`k${i}`, () => {
          loads++;
          return valueFor(i);
        });
        assert.equal(idOf(v), i);
        // Read back at once (nothing else writes in between, so nothing can evict it yet).
        const back = await cache.get(`k${i}`);
        assert.ok(back, `k${i} stored again`);
        assert.equal(idOf(back), i);
      }
      assert.equal(loads, evictedIds.length, 'one load per evicted key');
      const after = cache.stats();
      const server1 = await serverReads(s.raw);
      assert.equal(after.misses - before.misses, evictedIds.length, 'each getOrSet counted one miss');
      assert.equal(after.hits - before.hits, evictedIds.length, 'each read-back counted one hit');
      assert.equal(server1.misses - server0.misses, evictedIds.length);
      assert.equal(server1.hits - server0.hits, evictedIds.length);
      assert.equal(after.errors, 0);
    });

    // Last: the refused write empties the server. Redis counts the incoming command against
    // maxmemory, evicts every key trying to make room for it, then refuses it. The message said
    // "its maxmemory-policy cannot evict" — wrong under this policy, and no hint of the value.
    it('a value too large for maxmemory is refused with oom saying why, not that the policy cannot evict', async () => {
      // Few keys: Redis checks its eviction time budget only every 16 evicted keys, so with 10 it
      // evicts them all at once (many more could outlast the budget on a loaded machine, and
      // Redis then lets the command run while it goes on evicting in the background).
      await cache.clear();
      for (let i = 0; i < 10; i++) await cache.set(`few${i}`, enc('f'));
      assert.equal(await s.raw.dbsize(), 10, 'the server holds the keys before');
      const err = await rejectsWith(cache.set('huge', Buffer.alloc(3 * 1024 * 1024, 7)), 'oom');
      assert.match(err.message, /out of memory/);
      assert.doesNotMatch(err.message, /policy cannot evict/);
      assert.match(err.message, /more memory than evicting every key frees/);
      assert.equal(await s.raw.dbsize(), 0, 'Redis evicted every key before refusing');
      // A small write right after may meet the same refusal while Redis still holds the large
      // command's buffer; bounded wait for the server to take writes again.
      let stored = false;
      for (let i = 0; i < 50 && !stored; i++) {
        stored = await cache.set('small', enc('s')).then(
          () => true,
          () => false,
        );
        if (!stored) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(stored, 'small writes succeed again');
    });
  });
}

describeWithServers(`redis cache under maxmemory ${MAXMEMORY}, volatile-ttl`, skipRedis(), () => {
  let s: Server;
  let cache: RedisCache;
  const unhandled = watchUnhandled();

  before(async () => {
    s = await server('volatile-ttl');
    cache = s.cache('vt:');
  });
  after(async () => {
    await s?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('evicts only keys with a TTL: a flood of TTL keys never fails and pinned keys survive', async () => {
    for (let i = 0; i < 20; i++) assert.equal(await cache.set(`pinned${i}`, valueFor(i)), true);
    // TTLs from 1 h upward: none expires during the test, so every loss is an eviction.
    const results = await flood(cache, 0, FLOOD, (i) => 3_600_000 + i * 1000);
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected'),
      [],
    );
    assert.ok((await info(s.raw, 'stats', 'evicted_keys')) > 0);
    for (let i = 0; i < 20; i++) {
      const v = await cache.get(`pinned${i}`);
      assert.ok(v, `pinned${i} (no TTL) was not evicted`);
      assert.equal(idOf(v), i);
    }
    // Shortest TTLs go first (approximately: Redis samples); report how the survivors split.
    let early = 0;
    let late = 0;
    for (let i = 0; i < FLOOD; i++) {
      if ((await s.raw.exists(`vt:k${i}`)) === 0) continue;
      if (i < FLOOD / 2) early++;
      else late++;
    }
    console.log(`volatile-ttl survivors: ${early} of the shorter-TTL half, ${late} of the longer-TTL half`);
    assert.ok(late > early, 'keys nearer to expiry are evicted first');
  });

  it('writes without a TTL fail with CacheError("oom") once no key with a TTL is left', async () => {
    let oom: CacheError | undefined;
    for (let i = 0; i < 2000 && !oom; i++) {
      try {
        await cache.set(`plain${i}`, valueFor(i));
      } catch (err) {
        assert.ok(err instanceof CacheError, String(err));
        oom = err;
      }
    }
    assert.ok(oom, 'a set failed once memory held only keys without TTL');
    assert.equal(oom.code, 'oom', oom.message);
    assert.match(oom.message, /out of memory/);
    assert.equal(await s.raw.dbsize().then((n) => n > 0), true);
    // Reads still answer.
    assert.equal(idOf((await cache.get('pinned0'))!), 0);
  });
});

describeWithServers(`redis cache under maxmemory ${MAXMEMORY}, noeviction`, skipRedis(), () => {
  let s: Server;
  let cache: RedisCache;
  let filled = 0;
  let oom: CacheError | undefined;
  const unhandled = watchUnhandled();

  before(async () => {
    s = await server('noeviction');
    cache = s.cache('ne:');
    // Fill until the server refuses a write (bounded: 2000 × 8 KiB is four times maxmemory).
    let timeouts = 0;
    for (let i = 0; i < 2000 && !oom; i++) {
      try {
        await cache.set(`k${i}`, valueFor(i));
        filled++;
      } catch (err) {
        if (!(err instanceof CacheError)) throw err;
        // A loaded machine can time a write out before the server is full: retry that key (bounded),
        // so that only the server's refusal ends the fill.
        if (err.code === 'timeout' && ++timeouts <= 20) {
          i--;
          continue;
        }
        oom = err;
      }
    }
    // The refusal came with an 8 KiB write in the server's query buffer, which counts towards
    // maxmemory; once it is freed, a small write can fit again (CI saw `set('more')` succeed).
    // Pin the full state: maxmemory 256 KiB under what the keys use now, so every later write is
    // refused until the last test frees 200 keys (1.6 MiB).
    const used = await info(s.raw, 'memory', 'used_memory');
    await s.raw.config('SET', 'maxmemory', String(used - 256 * 1024));
  });
  after(async () => {
    await s?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('set fails with CacheError("oom") saying the server is out of memory (no password in it)', async () => {
    assert.ok(oom, `a set failed after ${filled} writes`);
    console.log(`noeviction: ${filled} writes of 8 KiB fitted; then: ${oom.message}`);
    assert.equal(oom.code, 'oom', oom.message);
    assert.match(oom.message, /out of memory/);
    assert.doesNotMatch(oom.message, new RegExp(PASSWORD));
    assert.ok(filled > 100, `${filled} writes fitted before OOM`);
    assert.equal(await s.raw.exists(`ne:k${filled}`), 0, 'the refused write stored nothing');
    const again = await rejectsWith(cache.set('more', enc('x')), 'oom');
    assert.match(again.message, /out of memory/);
    await rejectsWith(
      cache.setMany([
        { key: 'm1', value: enc('1') },
        { key: 'm2', value: enc('2') },
      ]),
      'oom',
    );
    await rejectsWith(cache.pipeline().set('p1', enc('1')).exec(), 'oom');
    assert.equal(await info(s.raw, 'stats', 'evicted_keys'), 0, 'noeviction evicts nothing');
  });

  it('reads keep answering: every stored key is still a correct hit', async () => {
    for (const i of [0, Math.floor(filled / 2), filled - 1]) {
      const v = await cache.get(`k${i}`);
      assert.ok(v, `k${i}`);
      assert.equal(idOf(v), i);
    }
    assert.equal(await cache.has('k0'), true);
  });

  it('getOrSet fails open: answers from the loader (once for concurrent callers) and counts the error', async () => {
    const errorsBefore = cache.stats().errors;
    let loads = 0;
    const called = deferred();
    const release = deferred();
    const loader = async () => {
      loads++;
      called.resolve();
      await release.promise;
      return enc('from-loader');
    };
    const callers = Array.from({ length: 10 }, () => cache.getOrSet('fresh', loader));
    await within(called.promise, 5000, 'the loader to be called');
    // A read of the same key queues behind the callers' own reads on the connection: once it
    // answered, every caller has missed and joined the flight.
    await cache.has('fresh');
    await tick();
    release.resolve();
    const answers = await Promise.all(callers);
    assert.ok(answers.every((a) => dec(a) === 'from-loader'));
    assert.equal(loads, 1, 'singleflight still applies');
    assert.equal(await s.raw.exists('ne:fresh'), 0, 'not stored: the server is full');
    assert.ok(cache.stats().errors > errorsBefore, 'the failed write is counted as an error');
    // An existing key is still served from Redis, without the loader.
    const v = await cache.getOrSet('k0', () => {
      throw new Error('loader must not run for a hit');
    });
    assert.equal(idOf(v), 0);
  });

  it('a tiered cache over the full Redis still answers from the loader and its L1', async (t) => {
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1024 * 1024 }),
      l2: s.cache('tier:'),
      l2Timeout: 2000,
    });
    t.after(() => tiered.close());
    let loads = 0;
    const loader = () => {
      loads++;
      return enc('tiered-value');
    };
    assert.equal(dec(await tiered.getOrSet('t1', loader)), 'tiered-value');
    assert.equal(dec(await tiered.getOrSet('t1', loader)), 'tiered-value');
    assert.equal(loads, 1, 'the second call is an L1 hit');
    assert.equal(await s.raw.exists('tier:t1'), 0, 'L2 could not store it');
    // An explicit write reports the failure as a CacheError rather than crashing.
    await assert.rejects(tiered.set('t2', enc('x')), (e) => e instanceof CacheError);
    assert.equal(dec(await tiered.getOrSet('t3', loader)), 'tiered-value');
  });

  it('a transaction is refused whole: CacheError("oom"), its allowed commands are not applied, the error is counted', async () => {
    const errorsBefore = cache.stats().errors;
    // DELETE is allowed when out of memory, SET is not: EXEC aborts, so the delete must not happen.
    const err = await rejectsWith(
      cache.transaction((tx) => {
        tx.delete('k0').set('tx-new', enc('x'));
      }),
      'oom',
    );
    assert.match(err.message, /out of memory/);
    assert.match(err.message, /nothing was applied/);
    assert.equal(await s.raw.exists('ne:k0'), 1, 'the queued delete was not applied');
    assert.equal(await s.raw.exists('ne:tx-new'), 0);
    assert.equal(cache.stats().errors, errorsBefore + 1);
  });

  it('deletes run while out of memory and report what they removed (delete, deleteMany, pipeline)', async () => {
    // Deletes are deadline-guarded Lua scripts: one flagged without allow-oom would be refused here.
    // The keys come from the top of the fill; the next test frees k0..k199.
    const [a, b, c, d] = [1, 2, 3, 4].map((i) => `k${filled - i}`) as [string, string, string, string];
    assert.equal(await cache.delete(a), true);
    assert.equal(await cache.delete(a), false);
    assert.equal(await cache.deleteMany([b, c, 'missing', b]), 2);
    assert.deepEqual(await cache.pipeline().delete(d).delete(d).exec(), [true, false]);
    assert.equal(await s.raw.exists(`ne:${a}`, `ne:${b}`, `ne:${c}`, `ne:${d}`), 0);
  });

  it('deleting keys frees memory and writes succeed again', async () => {
    for (let i = 0; i < 200; i++) await cache.delete(`k${i}`);
    assert.equal(await cache.set('after-free', enc('ok')), true);
    assert.equal(dec(await cache.get('after-free')), 'ok');
  });
});
