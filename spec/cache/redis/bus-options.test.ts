/**
 * `createRedisInvalidationBus` checks its options like every other factory (lib/config/README.md:
 * "reject unknown option keys"): a misspelt `channel` used to be ignored, so the bus published and
 * listened on the default channel while the other instances used the one meant — no invalidation
 * ever crossed. The check runs before any connection is opened, so no server is needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Redis } from 'iovalkey';
import { createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { ConfigError } from '../../../lib/core/errors.js';

// Never used: the options are refused before the client is touched (shaped like one: a bus
// refuses a client without `duplicate`).
const client = { duplicate() {} } as unknown as Redis;

describe('createRedisInvalidationBus options', () => {
  it('rejects an unknown key with the nearest known one, before connecting', () => {
    assert.throws(
      () => createRedisInvalidationBus({ client, chanel: 'users:inv' } as never),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.length === 1 &&
        e.issues[0]!.path === 'chanel' &&
        /did you mean `channel`\?/.test(e.issues[0]!.message),
    );
  });

  it('lists every bad field in one ConfigError', () => {
    assert.throws(
      () => createRedisInvalidationBus({ client, channel: '', redis: {}, loger: console } as never),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues
          .map((i) => i.path)
          .sort()
          .join() === 'channel,loger,redis',
    );
  });

  // `client: {}` threw a bare TypeError, `client: null` built a publisher the bus never closed,
  // and a logger without `warn` crashed the process (uncaught TypeError) at the first connection error.
  it('refuses a client that is not an iovalkey client and a logger without warn', () => {
    for (const [options, path] of [
      [{ client: {} }, 'client'],
      [{ client: null }, 'client'],
      [{ client, logger: {} }, 'logger'],
      [{ redis: { host: '127.0.0.1', port: 1 }, logger: { info() {} } }, 'logger'],
    ] as const) {
      assert.throws(
        () => createRedisInvalidationBus(options as never),
        (e: unknown) => e instanceof ConfigError && e.issues.map((i) => i.path).join() === path,
        JSON.stringify(options),
      );
    }
  });

  // `redis` is spread into iovalkey's options: a URL string, a port or null spread to nothing, so
  // the bus connected to 127.0.0.1:6379, not the server named (scratch: `ready` of a tiered cache
  // over it never settled, subscriber `reconnecting`; with a Redis on 6379 it would have published
  // there), and beside a `client` it was ignored.
  it('refuses redis options that are not an object, and redis beside a client', async () => {
    const cases: [unknown, RegExp][] = [
      ['redis://127.0.0.1:6380', /a URL is not read here/],
      [6380, /must be an options object/],
      [['127.0.0.1', 6380], /must be an options object/],
      [null, /must be an options object/],
    ];
    const made = async (options: unknown): Promise<ConfigError | undefined> => {
      try {
        // A bus that was made (the options taken) is closed at once, so the check fails here
        // rather than leaving a connection that retries for good.
        await createRedisInvalidationBus(options as never).close();
        return undefined;
      } catch (e) {
        return e instanceof ConfigError ? e : undefined;
      }
    };
    for (const [redis, pattern] of cases) {
      const err = await made({ redis, channel: 'inv' });
      assert.ok(err, `redis: ${JSON.stringify(redis)} was taken`);
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ['redis'],
      );
      assert.match(err.issues[0]!.message, pattern);
    }
    const both = await made({ client, redis: { host: '127.0.0.1', port: 6380 } });
    assert.ok(both, 'client and redis were both taken');
    assert.deepEqual(
      both.issues.map((i) => i.path),
      ['redis'],
    );
    assert.match(both.issues[0]!.message, /is not used when a client is given/);
  });

  it('refuses options that are not an object, an array included (it was taken as every default)', () => {
    for (const options of [[], [client], null, 'redis://127.0.0.1:1']) {
      assert.throws(
        () => createRedisInvalidationBus(options as never),
        (e: unknown) => e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === '',
        JSON.stringify(options),
      );
    }
  });

  it('refuses a channel that is not well-formed UTF-16', () => {
    // Redis receives a lone surrogate as U+FFFD: the messages then came back on a channel named
    // otherwise than the one subscribed to and were all ignored, so no invalidation ever reached
    // this bus (scratch: a tiered cache read v1 after another instance wrote v2).
    for (const channel of ['inv\uD800', 'inv\uDBFF:x', '\uDC00']) {
      assert.throws(
        () => createRedisInvalidationBus({ client, channel }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues.length === 1 &&
          e.issues[0]!.path === 'channel' &&
          /lone surrogate/.test(e.issues[0]!.message),
      );
    }
  });
});
