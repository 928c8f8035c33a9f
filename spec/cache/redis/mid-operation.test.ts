/**
 * Redis dying (SIGKILL) or hanging (SIGSTOP) while hundreds of mixed operations (get, set,
 * getOrSet, getMany, setMany, delete, deleteMany, transaction, pipeline) are in flight, and close()
 * in the middle of them against a hung server: every operation settles within its bound, every
 * failure is a typed CacheError, nothing is left unhandled; the same for a tiered cache with
 * tracking. (An outside-in audit: no bug found here; figures are printed.)
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisTracking } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers } from '../../harness/process.js';
import { skipRedis, startRedis } from '../../harness/redis.js';
import { enc, watchUnhandled } from './helpers.js';

const TIMEOUT = 300;

function mixed(cache: ReturnType<typeof createRedisCache>, n: number): Promise<unknown>[] {
  const out: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const k = `k${i % 17}`;
    switch (i % 9) {
      case 0:
        out.push(cache.get(k));
        break;
      case 1:
        out.push(cache.set(k, enc(`v${i}`), 60_000));
        break;
      case 2:
        out.push(cache.getOrSet(k, async () => enc('L')));
        break;
      case 3:
        out.push(cache.getMany([k, 'x', 'y']));
        break;
      case 4:
        out.push(
          cache.setMany([
            { key: k, value: enc('m') },
            { key: 'z', value: enc('z') },
          ]),
        );
        break;
      case 5:
        out.push(cache.delete(k));
        break;
      case 6:
        out.push(
          cache.transaction((tx) => {
            tx.set(k, enc('t')).get(k);
          }),
        );
        break;
      case 7:
        out.push(cache.pipeline().get(k).set(k, enc('p')).exec());
        break;
      case 8:
        out.push(cache.deleteMany([k, 'z']));
        break;
    }
  }
  return out;
}

async function settleAll(ps: Promise<unknown>[], boundMs: number) {
  const start = performance.now();
  const timer = new Promise<'hang'>((r) => setTimeout(() => r('hang'), boundMs).unref());
  const res = await Promise.race([Promise.allSettled(ps), timer]);
  assert.notEqual(res, 'hang', `operations still pending after ${boundMs} ms`);
  const settled = res as PromiseSettledResult<unknown>[];
  const codes = new Map<string, number>();
  for (const r of settled) {
    const c =
      r.status === 'fulfilled'
        ? 'ok'
        : r.reason instanceof CacheError
          ? r.reason.code
          : `untyped:${String(r.reason)}`;
    codes.set(c, (codes.get(c) ?? 0) + 1);
  }
  return { ms: performance.now() - start, codes };
}

describeWithServers('Redis dying or hanging mid-operation', skipRedis(), () => {
  for (const how of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`${how} while 450 operations are in flight`, async (t) => {
      const unhandled = watchUnhandled();
      t.after(() => unhandled.dispose());
      const redis = await startRedis();
      t.after(async () => {
        redis.server.child.kill('SIGCONT');
        await redis.stop();
      });
      const cache = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        commandTimeout: TIMEOUT,
        keyPrefix: 'mid:',
      });
      await cache.set('warm', enc('x'));
      const ps = mixed(cache, 450);
      redis.server.child.kill(how);
      const { ms, codes } = await settleAll(ps, 5000);
      console.log(`# ${how}: settled in ${ms.toFixed(0)} ms`, Object.fromEntries(codes));
      for (const c of codes.keys()) assert.ok(!c.startsWith('untyped'), c);
      const after = await Promise.allSettled(mixed(cache, 45));
      for (const r of after)
        if (r.status === 'rejected') assert.ok(r.reason instanceof CacheError, String(r.reason));
      const closing = performance.now();
      await cache.close();
      console.log(`# close after ${how}: ${(performance.now() - closing).toFixed(0)} ms`);
      unhandled.check();
    });
  }

  it('close() while 450 operations are in flight against a hung server', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    const redis = await startRedis();
    t.after(async () => {
      redis.server.child.kill('SIGCONT');
      await redis.stop();
    });
    const cache = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      commandTimeout: 2000,
      keyPrefix: 'cl:',
    });
    await cache.set('warm', enc('x'));
    redis.server.child.kill('SIGSTOP');
    const ps = mixed(cache, 450);
    const settling = settleAll(ps, 6000);
    const closing = performance.now();
    await cache.close();
    const closeMs = performance.now() - closing;
    const { ms, codes } = await settling;
    console.log(
      `# close took ${closeMs.toFixed(0)} ms, ops settled ${ms.toFixed(0)} ms later`,
      Object.fromEntries(codes),
    );
    for (const c of codes.keys()) assert.ok(!c.startsWith('untyped'), c);
    unhandled.check();
  });

  it('tiered + tracking: SIGSTOP then SIGKILL while reads and writes run', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    const redis = await startRedis();
    t.after(async () => {
      redis.server.child.kill('SIGCONT');
      await redis.stop();
    });
    const l2 = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      commandTimeout: 1000,
      keyPrefix: 'tt:',
    });
    const cache = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 100, timeout: 200 }),
      l1Ttl: 60_000,
      l2Timeout: 200,
    });
    await cache.ready;
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, enc(`v${i}`), 60_000);
    for (let i = 0; i < 20; i++) await cache.get(`k${i}`);
    const ops = () => {
      const ps: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        const k = `k${i % 20}`;
        if (i % 4 === 0) ps.push(cache.set(k, enc('n'), 60_000));
        else if (i % 4 === 1) ps.push(cache.getOrSet(k, async () => enc('L'), 60_000));
        else if (i % 4 === 2) ps.push(cache.getMany([k, 'q']));
        else ps.push(cache.getWithMeta(k));
      }
      return ps;
    };
    const a = ops();
    redis.server.child.kill('SIGSTOP');
    const r1 = await settleAll(a, 5000);
    console.log('# tiered SIGSTOP', r1.ms.toFixed(0), Object.fromEntries(r1.codes));
    const b = ops();
    redis.server.child.kill('SIGKILL');
    const r2 = await settleAll(b, 5000);
    console.log('# tiered SIGKILL', r2.ms.toFixed(0), Object.fromEntries(r2.codes));
    for (const c of [...r1.codes.keys(), ...r2.codes.keys()]) assert.ok(!c.startsWith('untyped'), c);
    await cache.close();
    unhandled.check();
  });
});
