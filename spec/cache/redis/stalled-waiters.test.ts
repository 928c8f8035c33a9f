/**
 * A server that accepts connections but never answers (SIGSTOPped, hung): once its silent
 * connection is dropped, iovalkey reconnects (the kernel accepts) and never gets 'ready', so every
 * command waits for the connection and fails `unavailable` after the command timeout. Those
 * callers waited on one shared promise of the next 'ready', which kept each of them — its promise,
 * its error, its timer, ~2 KB — until a connection came: the heap grew by every call made during
 * the outage, without bound (~100 MB after 48,000 `get`s over 9 s). Now a caller that gave up is
 * forgotten. Counted with weak references to the errors the callers got, not timings.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { skipRedis, startRedis } from '../../harness/redis.js';
import { enc, watchUnhandled } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TIMEOUT = 200;
const CALLS = 500;

describeWithServers('callers that gave up waiting for a connection are not kept', skipRedis(), () => {
  it('stopped server (SIGSTOP): the errors of timed-out waits are collectable while the outage lasts', async (t) => {
    const unhandled = watchUnhandled();
    t.after(() => unhandled.dispose());
    const redis = await startRedis();
    const child = redis.server.child;
    t.after(async () => {
      child.kill('SIGCONT');
      await redis.stop();
    });
    const cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], commandTimeout: TIMEOUT });
    t.after(() => cache.close());
    await cache.set('k', enc('v'));

    child.kill('SIGSTOP');
    await waitFor(() => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${child.pid}/stat`, 'utf8')), {
      timeoutMs: 3000,
      intervalMs: 5,
      what: 'redis stopped',
    });
    // Commands until the silent connection is dropped (three command timeouts, at least 1 s):
    // bounded to 60 rounds and 20 s.
    const end = Date.now() + 20_000;
    for (let round = 0; round < 60 && Date.now() < end && cache.client.status === 'ready'; round++)
      await Promise.allSettled([cache.get('k')]);
    assert.notEqual(cache.client.status, 'ready', 'the silent connection was dropped');

    // Now every call waits for a connection that never becomes ready, and gives up.
    const refs: WeakRef<object>[] = [];
    await Promise.all(
      Array.from({ length: CALLS }, () =>
        cache.get('k').then(
          () => assert.fail('a get answered by a stopped server'),
          (err: unknown) => {
            assert.ok(err instanceof CacheError, String(err));
            assert.equal(err.code, 'unavailable', err.message);
            refs.push(new WeakRef(err));
          },
        ),
      ),
    );
    assert.notEqual(cache.client.status, 'ready', 'still stopped');
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const kept = refs.filter((r) => r.deref() !== undefined).length;
    assert.ok(kept < CALLS / 10, `${kept} of ${CALLS} callers that gave up are still held`);
    unhandled.check();
  });
});
