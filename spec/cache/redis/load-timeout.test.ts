/**
 * `loadTimeout` on a real standalone Redis: a getOrSet loader that never settles no longer holds
 * its key for good (every later getOrSet of the key in the process used to join the hung load,
 * whatever loader it brought), and its late value is never stored.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/load-close-child.ts', import.meta.url));

/** Runs the child (killed after 30 s at most); resolves with its output and exit code. */
function runChild(env: Record<string, string>): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const hard = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(hard);
      resolve({ out, code });
    });
  });
}

describeWithServers('redis cache loadTimeout', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      commandTimeout: 2000,
      keyPrefix: 'load-timeout:',
      loadTimeout: 60,
    });
  });
  after(async () => {
    await cache?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('a hung load rejects every joined caller with timeout; the next caller loads and stores; the late value is dropped', async () => {
    const timedOut = (e: unknown) =>
      e instanceof CacheError && e.code === 'timeout' && /within 60 ms/.test(e.message);
    let finishHung!: (v: Uint8Array) => void;
    const first = cache.getOrSet('k', () => new Promise<Uint8Array>((resolve) => (finishHung = resolve)));
    const joined = cache.getOrSet('k', async () => enc('joined'));
    await assert.rejects(first, timedOut);
    await assert.rejects(joined, timedOut);
    assert.equal(await cache.get('k'), undefined, 'a timed-out load stores nothing');
    assert.equal(dec(await cache.getOrSet('k', async () => enc('fresh'))), 'fresh');
    finishHung(enc('late'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(dec((await cache.get('k'))!), 'fresh');
  });

  it('a load in flight at close() (loadTimeout 60 s, a loader that never settles) leaves no timer behind', async () => {
    // Audit: the load's loadTimeout timer stayed ref'd after close(), so the process of a closed
    // cache lived on until the bound ran out (a minute here), against "nothing of the cache keeps
    // the process alive" once close() resolved.
    const { out, code } = await runChild({ REDIS_PORT: String(redis.port) });
    assert.equal(code, 0, out);
    assert.match(out, /timers 0\n/, `timers still keeping the process alive 300 ms after close: ${out}`);
  });

  it('off by default; Infinity accepted; a bad value is a ConfigError naming loadTimeout', () => {
    const addresses = [`${redis.host}:${redis.port}`];
    for (const bad of [0, -5, Number.NaN, 2 ** 31, '100'])
      assert.throws(
        () => createRedisCache({ addresses, loadTimeout: bad as number, minIdleConns: 0 }),
        (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === 'loadTimeout'),
        String(bad),
      );
  });
});
