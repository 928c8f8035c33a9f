/**
 * An address `createRedisCache` cannot use names what is wrong with it: "malformed address" alone
 * left a user with `host:99999`, an unbracketed IPv6 address or a `redis://` URL guessing. The
 * text itself is never echoed (a URL may hold a password).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { ConfigError } from '../../../lib/core/errors.js';

/** The message of the one issue `addresses` (or `sentinel.sentinelAddresses`) gives. */
function problem(options: Record<string, unknown>, path: string): string {
  try {
    createRedisCache({ minIdleConns: 0, ...options } as never);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!inspect(err, { depth: 10 }).includes('s3cret'), inspect(err));
    assert.ok(!JSON.stringify(err).includes('s3cret'));
    const issue = err.issues.find((i) => i.path === path);
    assert.ok(issue, JSON.stringify(err.issues));
    assert.match(issue.expected, /port from 1 to 65535 \(IPv6 in brackets/);
    return issue.message;
  }
  assert.fail('accepted');
}

describe('createRedisCache: a malformed address says what is wrong with it', () => {
  for (const [address, message] of [
    ['127.0.0.1:99999', 'malformed address: port 99999 is outside 1–65535'],
    ['cache.internal:0', 'malformed address: port 0 is outside 1–65535'],
    ['[::1]:70000', 'malformed address: port 70000 is outside 1–65535'],
    ['::1:6379', 'malformed address: an IPv6 address goes in brackets, as in "[::1]:6379"'],
    ['fe80::1:6379', 'malformed address: an IPv6 address goes in brackets, as in "[::1]:6379"'],
    ['localhost', 'malformed address: no port number ("host:port")'],
    ['localhost:63a9', 'malformed address: no port number ("host:port")'],
    [
      'redis://:s3cret@cache.internal:6379',
      'malformed address: a URL where "host:port" is expected (give a password as the password option)',
    ],
  ] as const) {
    it(`${address.replace('s3cret', '…')} → ${message}`, () => {
      assert.equal(problem({ addresses: [address] }, 'addresses.0'), message);
    });
  }

  it('so does a sentinel address', () => {
    assert.equal(
      problem(
        { mode: 'sentinel', addresses: ['127.0.0.1:26379', '::1:26379'], sentinel: { masterName: 'm' } },
        'addresses.1',
      ),
      'malformed address: an IPv6 address goes in brackets, as in "[::1]:6379"',
    );
  });

  it('good ones pass: a name, IPv4, bracketed IPv6 (loopback, nothing listening)', async () => {
    for (const address of ['localhost:1', '127.0.0.1:65535', '[::1]:1']) {
      const cache = createRedisCache({ addresses: [address], minIdleConns: 0 });
      await cache.close();
    }
  });
});
