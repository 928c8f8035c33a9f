/**
 * The cache's warnings name the server, as its errors do. Found from outside with a wrong
 * password: the command failed with "redis get failed (127.0.0.1:<port>): authentication failed …",
 * while the log said "redis connection failed: authentication failed …" (a refused TLS handshake
 * the same) — no server, and in a cluster no node — and the operations refused while not
 * connected were logged as `{ op, code: 'unavailable' }`, without the message at all.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { skipRedis, startRedis } from '../../harness/redis.js';
import { sleep } from './helpers.js';

describeWithServers('redis cache connection-error logs', skipRedis(), () => {
  it('name the server in the connection error and in the refused operations', async (t) => {
    const redis = await startRedis({ password: 'right-password' });
    t.after(() => redis.stop());
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn(message, fields) {
        warnings.push({ message, fields: fields ?? {} });
      },
      error() {},
      child: () => logger,
    };
    const cache = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      password: 'wrong-password',
      commandTimeout: 200,
      logger,
    });
    t.after(() => cache.close());
    for (let i = 0; i < 5; i++) {
      await assert.rejects(cache.get('k'));
      await sleep(20);
    }
    // The first line at once; the refused reads held back by the quiet time come when it ends.
    await waitFor(() => warnings.length >= 2, { timeoutMs: 10_000, what: 'two warnings' });
    const seen = JSON.stringify(warnings);
    assert.equal(warnings[0]?.message, 'redis connection error', seen);
    const where = `(127.0.0.1:${redis.port})`;
    for (const w of warnings) {
      assert.ok(String(w.fields.error).includes(where), `${w.message} names the server: ${seen}`);
    }
    assert.ok(
      warnings.some((w) => w.message === 'redis cache operation failed'),
      seen,
    );
    assert.ok(!seen.includes('wrong-password'), seen);
  });
});
