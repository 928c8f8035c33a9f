/**
 * A Redis shared with other programs whose `maxclients` they have taken: the server accepts a new
 * connection, answers `ERR max number of clients reached` and closes it. A command of the cache
 * waiting for its own connection then fails `unavailable` (not connected …), but a transaction,
 * which opens a dedicated connection, failed with code `backend` — the code of an ACL refusal, not
 * of a server that cannot take one more connection — so a caller retrying on `unavailable` gave
 * up. It is `unavailable` now, with the server's words (or the reset that can overtake them), and
 * nothing was applied.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, it } from 'node:test';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

describeWithServers('redis cache: a server whose maxclients other clients have taken', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  const fillers: net.Socket[] = [];
  const unhandled = watchUnhandled();

  before(async () => {
    // Room for the cache's own connection and two other clients.
    redis = await startRedis({ extraConfig: ['maxclients 3'] });
    cache = createRedisCache({ addresses: [`${redis.host}:${redis.port}`], commandTimeout: 2000 });
    await cache.set('k', enc('v0'));
  });
  after(async () => {
    for (const s of fillers) s.destroy();
    await cache?.close();
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('a transaction that cannot get a connection fails unavailable naming the limit; nothing applied', async () => {
    for (let i = 0; i < 2; i++) {
      const s = net.connect(redis.port, redis.host);
      s.on('error', () => {});
      await new Promise((resolve) => s.once('connect', resolve));
      fillers.push(s);
    }
    // Every connection the server allows is taken once it lists three clients.
    await waitFor(
      async () =>
        String(await cache.client.call('CLIENT', 'LIST'))
          .trim()
          .split('\n').length >= 3 || undefined,
      { timeoutMs: 5000, what: 'the fillers to be connected' },
    );
    for (const watch of [undefined, ['k']]) {
      const err = await cache
        .transaction(
          async (tx) => {
            if (watch) await tx.read('k');
            tx.set('k', enc('tx'));
          },
          watch ? { watch } : undefined,
        )
        .then(
          () => assert.fail('the transaction resolved'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof CacheError, String(err));
      assert.equal(err.code, 'unavailable', err.message);
      // The server's words, or a reset: when the client's first command (the ready check) reaches
      // the server before it closes the refused connection, the kernel answers with a reset that
      // can overtake the error line (~1 run in 15 on CI). Either way the code is `unavailable`.
      assert.match(err.message, /max number of clients reached|ECONNRESET/);
    }
    // The cache's own connection still serves, and nothing of the transactions was applied.
    assert.equal(dec(await cache.get('k')), 'v0');
  });
});
