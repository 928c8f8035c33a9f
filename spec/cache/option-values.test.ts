/**
 * A numeric cache option refused at creation shows the value given, the same way in the three
 * caches: `createTieredCache({ ttl: -1 })` said "received number" against "a number of ms > 0"
 * (and `ttl: '5s'` "received string"), where the memory cache said "received -1"; the Redis cache's
 * durations and counts said "received number" too. A string is shown quoted and said to be one.
 * Options that may hold a secret still show only their type.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { ConfigError } from '../../lib/core/errors.js';

/** What a duration option adds for duration text: the number of ms to give, where text is read. */
const IN_CODE = (ms: number) =>
  `: in code a duration is a number of milliseconds (${ms}); duration text like "5s" is read only from a config file`;

function received(fn: () => unknown, path: string): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    const issue = e.issues.find((i) => i.path === path);
    assert.ok(issue, `no issue for ${path}: ${e.message}`);
    assert.ok(e.message.includes(`received ${issue.received})`), e.message);
    return issue.received;
  }
  assert.fail(`${path}: accepted`);
}

describe('a refused numeric cache option shows the value given', () => {
  it('createTieredCache', async () => {
    const l1 = createMemoryCache({ maxCost: 1000 });
    const l2 = createMemoryCache({ maxCost: 1000 });
    try {
      const tiered = (o: Record<string, unknown>) => () => createTieredCache({ l1, l2, ...o } as never);
      const cases: [Record<string, unknown>, string, string][] = [
        [{ ttl: -1 }, 'ttl', '-1'],
        [{ ttl: '5s' }, 'ttl', `"5s" (a string)${IN_CODE(5000)}`],
        [{ l1Ttl: Number.NaN }, 'l1Ttl', 'NaN'],
        [{ l2Timeout: 0 }, 'l2Timeout', '0'],
        [{ grace: -5 }, 'grace', '-5'],
        [{ jitter: 2 }, 'jitter', '2'],
        [{ earlyRefresh: '0.1' }, 'earlyRefresh', '"0.1" (a string)'],
        [{ leaseWait: -1 }, 'leaseWait', '-1'],
        [{ breaker: { failures: 0.5 } }, 'breaker.failures', '0.5'],
        [{ breaker: { cooldown: '5s' } }, 'breaker.cooldown', `"5s" (a string)${IN_CODE(5000)}`],
      ];
      for (const [options, path, shown] of cases) assert.equal(received(tiered(options), path), shown);
      // The options that `Infinity` turns off name it (`loadTimeout: 0` meant as "off" was told
      // only "> 0 and ≤ 2147483647"); the others do not offer it.
      for (const path of ['l2Timeout', 'loadTimeout'])
        assert.throws(tiered({ [path]: 0 }), (e: ConfigError) =>
          e.issues.some((i) => i.path === path && i.expected.endsWith(', or Infinity (off)')),
        );
      assert.throws(tiered({ leaseWait: -1 }), (e: ConfigError) =>
        e.issues.some((i) => i.path === 'leaseWait' && !i.expected.includes('Infinity')),
      );
      // Not a numeric option: its type only (an L2 given as a URL could carry a password).
      assert.equal(
        received(() => createTieredCache({ l1, l2: 'redis://:sekrit@127.0.0.1:6379' } as never), 'l2'),
        'string',
      );
    } finally {
      await l1.close();
      await l2.close();
    }
  });

  it('createMemoryCache and createRedisCache say it the same way', () => {
    assert.equal(
      received(() => createMemoryCache({ maxCost: 1000, defaultTtl: -1 }), 'defaultTtl'),
      '-1',
    );
    assert.equal(
      received(() => createMemoryCache({ maxCost: 1000, defaultTtl: '5s' as never }), 'defaultTtl'),
      `"5s" (a string)${IN_CODE(5000)}`,
    );
    // Refused at creation, before any connection (port 1: nothing is reached).
    const redis = (o: Record<string, unknown>) => () =>
      createRedisCache({ addresses: ['127.0.0.1:1'], ...o } as never);
    assert.equal(received(redis({ defaultTtl: -1 }), 'defaultTtl'), '-1');
    assert.equal(
      received(redis({ commandTimeout: '1s' }), 'commandTimeout'),
      `"1s" (a string)${IN_CODE(1000)}`,
    );
    assert.equal(received(redis({ db: 16 }), 'db'), '16');
    // A secret option still shows its type only.
    assert.equal(received(redis({ password: 12345 }), 'password'), 'number');
  });

  it('a string that does not read as a number is shown by its type only (it may be a secret)', async () => {
    // `db: process.env.REDIS_URL` (a mix-up) echoed the URL, its password with it, in the message.
    const url = 'redis://:sekrit@127.0.0.1:6379';
    const redis = (o: Record<string, unknown>) => () =>
      createRedisCache({ addresses: ['127.0.0.1:1'], ...o } as never);
    assert.equal(received(redis({ db: url }), 'db'), 'string');
    assert.equal(received(redis({ commandTimeout: 'sekrit' }), 'commandTimeout'), 'string');
    assert.equal(
      received(() => createMemoryCache({ maxCost: 1000, defaultTtl: url as never }), 'defaultTtl'),
      'string',
    );
    const l1 = createMemoryCache({ maxCost: 1000 });
    const l2 = createMemoryCache({ maxCost: 1000 });
    try {
      for (const path of ['ttl', 'earlyRefresh', 'leaseWait'])
        assert.equal(
          received(() => createTieredCache({ l1, l2, [path]: url } as never), path),
          'string',
        );
    } finally {
      await l1.close();
      await l2.close();
    }
  });
});
