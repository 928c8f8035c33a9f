/**
 * Memory-cache defects found by a second outside-in audit (each test failed before its fix): what
 * the byte face keeps of a view into a larger buffer, the default cost of byte values other than
 * Uint8Array and ArrayBuffer, and loads still running when the cache is closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache, createSyncMemoryCache } from '../../../lib/cache/memory/index.js';
import { CacheError } from '../../../lib/core/errors.js';

const isClosed = (e: unknown) => e instanceof CacheError && e.code === 'closed';

/** `p`'s rejection, or a failure if it has not settled within `ms` (a bound, not a timing assert). */
async function rejection(p: Promise<unknown>, ms = 5000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, guard]);
  } catch (err) {
    return err;
  } finally {
    clearTimeout(timer);
  }
  assert.fail('resolved, expected a rejection');
}

describe('memory cache: byte values that are views into a larger buffer', () => {
  it('set, setMany and getOrSet keep only the bytes charged, not the whole buffer behind a view', async () => {
    const cache = createMemoryCache({ maxCost: 1_000_000 });
    const big = new Uint8Array(100_000).fill(7);
    await cache.set('a', big.subarray(10, 20));
    await cache.setMany([{ key: 'b', value: Buffer.from(big.buffer, 500, 4) }]);
    await cache.getOrSet('c', async () => big.subarray(0, 3));
    // A small Buffer is a slice of Node's shared 8 KiB pool.
    const pooled = Buffer.from('pooled');
    await cache.set('d', pooled);
    assert.equal(cache.sync.cost, 10 + 4 + 3 + 6);
    for (const [k, len] of [
      ['a', 10],
      ['b', 4],
      ['c', 3],
      ['d', 6],
    ] as const) {
      const v = (await cache.get(k))!;
      assert.equal(v.byteLength, len);
      // What the entry keeps alive is what it is charged for.
      assert.equal(v.buffer.byteLength, len, `${k} holds ${v.buffer.byteLength} bytes`);
    }
    assert.equal(Buffer.from((await cache.get('d'))!).toString(), 'pooled');
    // A later write into the big buffer does not reach the copies.
    big.fill(1);
    assert.deepEqual([...(await cache.get('a'))!], new Array(10).fill(7));
    // An array that owns its whole buffer is stored as it is (no copy).
    const whole = new Uint8Array(8);
    await cache.set('e', whole);
    assert.equal(await cache.get('e'), whole);
    await cache.close();
  });
});

describe('memory cache: a cost function on the byte face', () => {
  it('prices the value stored in set, setMany and getOrSet alike (the copy of a view, not the view)', async () => {
    // Charging the memory a value really holds: its whole ArrayBuffer.
    const priced: Uint8Array[] = [];
    const cache = createMemoryCache({
      maxCost: 4096,
      cost: (v) => {
        priced.push(v);
        return v.buffer.byteLength;
      },
    });
    // Small Buffers are slices of Node's shared 8 KiB pool: more than this cache's maxCost.
    assert.equal(await cache.set('a', Buffer.from('hello')), true);
    // setMany used to price the caller's pooled view (8 KiB: too_large), not the copy it stores.
    await cache.setMany([
      { key: 'b', value: Buffer.from('hello') },
      { key: 'c', value: new Uint8Array(100).subarray(0, 3) },
    ]);
    await cache.getOrSet('d', async () => Buffer.from('hello'));
    assert.equal(cache.sync.cost, 5 + 5 + 3 + 5);
    assert.equal(priced.length, 4);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) {
      assert.equal(priced[i], cache.sync.peek(k), `${k}: the value priced is the value stored`);
    }
    await cache.close();
  });
});

describe('memory cache: default cost of byte values', () => {
  it('charges the byte length of every typed array, DataView and SharedArrayBuffer, not 1', () => {
    const cache = createSyncMemoryCache<unknown>({ maxCost: 100_000 });
    cache.set('f64', new Float64Array(1000));
    assert.equal(cache.cost, 8000);
    cache.set('dv', new DataView(new ArrayBuffer(300)));
    assert.equal(cache.cost, 8300);
    cache.set('sab', new SharedArrayBuffer(50));
    assert.equal(cache.cost, 8350);
    cache.set('i16', new Int16Array(new SharedArrayBuffer(64), 8, 4));
    assert.equal(cache.cost, 8358);
    // Plain objects are still charged 1.
    cache.set('obj', { a: 1 });
    assert.equal(cache.cost, 8359);
    const small = createSyncMemoryCache<unknown>({ maxCost: 100 });
    assert.throws(
      () => small.set('big', new Float64Array(1000)),
      // The refusal names the key (it did not: which write was refused was a guess).
      (e: unknown) => e instanceof CacheError && e.code === 'too_large' && e.message.includes('"big"'),
    );
    assert.throws(
      () => small.set('gone', undefined),
      (e: unknown) => e instanceof CacheError && e.code === 'invalid_value' && e.message.includes('"gone"'),
    );
    cache.close();
    small.close();
  });
});

describe('memory cache: close() with loads in flight', () => {
  it('rejects the callers of a running load with closed at once; the late result is dropped', async () => {
    // A loadTimeout far beyond the test's bound: its timer must not be what ends the wait.
    const cache = createSyncMemoryCache<number>({ maxCost: 100, loadTimeout: 600_000 });
    let settle!: (v: number) => void;
    let fail!: (e: Error) => void;
    const first = cache.getOrSet('k', () => new Promise<number>((r) => (settle = r)));
    const joined = cache.getOrSet('k', async () => 2);
    const other = cache.getOrSet('j', () => new Promise<number>((_, r) => (fail = r)));
    await new Promise((r) => setImmediate(r));
    cache.close();
    assert.ok(isClosed(await rejection(first)));
    assert.ok(isClosed(await rejection(joined)));
    assert.ok(isClosed(await rejection(other)));
    // The loaders settle later: nothing is stored, no unhandled rejection.
    settle(1);
    fail(new Error('late'));
    await new Promise((r) => setImmediate(r));
    assert.equal(cache.size, 0);
  });

  it('the byte face too, and a loader that never settles does not hold its caller', async () => {
    const cache = createMemoryCache({ maxCost: 100 });
    const hung = cache.getOrSet('k', () => new Promise<Uint8Array>(() => {}));
    await new Promise((r) => setImmediate(r));
    await cache.close();
    assert.ok(isClosed(await rejection(hung)));
  });

  // The loader starts on the tick after getOrSet: a close() in between rejected the callers, and
  // the loader was still started afterwards (a backend call for nobody, during shutdown).
  it('a loader not started yet when close() is called is never started (both faces)', async () => {
    const sync = createSyncMemoryCache<number>({ maxCost: 100 });
    const bytes = createMemoryCache({ maxCost: 100 });
    let started = 0;
    const p = sync.getOrSet('k', async () => {
      started++;
      return 1;
    });
    const q = bytes.getOrSet('k', async () => {
      started++;
      return new Uint8Array(1);
    });
    sync.close();
    await bytes.close();
    assert.ok(isClosed(await rejection(p)));
    assert.ok(isClosed(await rejection(q)));
    await new Promise((r) => setImmediate(r));
    assert.equal(started, 0);
  });
});

describe('memory cache: batches after close()', () => {
  it('getMany, setMany and deleteMany reject with closed, an empty batch too', async () => {
    const cache = createMemoryCache({ maxCost: 100 });
    await cache.close();
    assert.ok(isClosed(await rejection(cache.getMany([]))));
    assert.ok(isClosed(await rejection(cache.setMany([]))));
    assert.ok(isClosed(await rejection(cache.deleteMany([]))));
    assert.ok(isClosed(await rejection(cache.getMany(['a']))));
    assert.ok(isClosed(await rejection(cache.setMany([{ key: 'a', value: new Uint8Array(1) }]))));
    assert.ok(isClosed(await rejection(cache.deleteMany(['a']))));
  });
});
