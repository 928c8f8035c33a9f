/**
 * A transaction whose connection the server killed or closed just before EXEC was sent (found
 * from outside, /tmp probe: CLIENT KILL of the transaction's connection while its function ran).
 * Once the socket is ended iovalkey still says `ready` until 'close', and refuses MULTI, the
 * script and EXEC at once, writing none of them: "Stream isn't writeable…". The error said "the
 * reply was lost: the transaction was applied completely or not at all"; nothing was sent, so it
 * now says "nothing was applied" (code `unavailable` as before).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'iovalkey';
import type { Op } from '../../../lib/cache/redis/transaction/builder.js';
import { execOps } from '../../../lib/cache/redis/transaction/exec.js';
import { txFailure } from '../../../lib/cache/redis/transaction/failure.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describe('a transaction on a connection ended before EXEC was sent', { skip: skipRedis() }, () => {
  let redis: RedisStandalone | undefined;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('fails unavailable saying nothing was applied, and nothing was', async () => {
    const server = redis!;
    // As the transaction pool opens its connections: no offline queue, no reconnection.
    const conn = new Redis({
      host: server.host,
      port: server.port,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    try {
      await conn.connect();
      // The state a killed connection is in between the server's FIN and iovalkey's 'close'.
      (conn as unknown as { stream: { end(): void } }).stream.end();
      assert.equal(conn.status, 'ready');
      const op: Op = { kind: 'set', key: 'k', value: Buffer.from('v'), px: undefined };
      const err = await execOps(conn, 'tx:', [op], '', (e) => txFailure(e, 'exec', conn, [])).then(
        () => assert.fail('the transaction was sent'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CacheError);
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /nothing was applied/);
      assert.doesNotMatch(err.message, /applied completely or not at all/);
      assert.equal(await redisCommand(server.port, ['EXISTS', 'tx:k'], {}), 0);
    } finally {
      conn.disconnect();
    }
  });
});
