/**
 * A per-call write budget (`WriteOptions.timeout`) of a few ms on a real, healthy Redis: the
 * server-side deadline of a write ends a margin (10 % of the budget, at least 5 ms) before the
 * budget, so a budget of 5 ms or less can never be met — every `set` and `delete` rejects with
 * `timeout`, also through a tiered cache, which passes the budget on. The budget is accepted (every
 * cache accepts any positive one), so this was a silent trap: the contract said only "a positive
 * number of ms", while `commandTimeout` and a tiered `l2Timeout` over Redis must be at least 10 ms
 * for this very reason. Found by replaying issue 13 from outside (on loopback, of 400 sets each:
 * none accepted at 4 and 5 ms, 266 at 6 ms, all at 7 ms). The docs now say it; this pins the
 * behaviour (at 3 ms, whose deadline lies before the call, so no timing can let it through) and
 * that they do.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { createTieredCache, type TieredCache } from '../../../lib/cache/tiered/index.js';
import { describeWithServers } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { enc } from './helpers.js';

/** A page's text on one line (a doc comment's leading `*` dropped). */
const page = (path: string) =>
  readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8')
    .replace(/\n\s*\*/g, ' ')
    .replace(/\s+/g, ' ');

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

describeWithServers('redis write budget of a few ms', skipRedis(), () => {
  let redis: RedisStandalone;
  let cache: RedisCache;
  let tiered: TieredCache;
  before(async () => {
    redis = await startRedis();
    cache = createRedisCache({ addresses: [`127.0.0.1:${redis.port}`], keyPrefix: 'short:' });
    tiered = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2: cache, ttl: 60_000 });
    await cache.set('warm', enc('x')); // the first clock measurement is behind us
  });
  after(async () => {
    await tiered?.close();
    await redis?.stop();
  });

  it('a budget of 3 ms refuses every write against a healthy server; 500 ms does not', async () => {
    for (const c of [cache, tiered]) {
      for (let i = 0; i < 3; i++) {
        assert.equal(await codeOf(c.set('k', enc('v'), undefined, { timeout: 3 })), 'timeout', c.name);
        assert.equal(await codeOf(c.delete('k', { timeout: 3 })), 'timeout', c.name);
      }
      assert.equal(await codeOf(c.set('k', enc('v'), undefined, { timeout: 500 })), 'ok', c.name);
      assert.equal(await codeOf(c.delete('k', { timeout: 500 })), 'ok', c.name);
    }
  });

  it('the contract and the READMEs say so', () => {
    assert.match(page('lib/core/contracts.ts'), /a budget of 5 ms or less refuses every write/);
    assert.match(page('lib/core/README.md'), /a budget of 5 ms or less is accepted but refuses every write/);
    assert.match(page('lib/cache/redis/README.md'), /a budget of 5 ms or less refuses every write/);
    assert.match(page('lib/cache/tiered/README.md'), /a budget of 5 ms or less refuses every write/);
  });
});
