/**
 * `addresses`, `sentinel.sentinelAddresses`, `dialTimeout` and `minIdleConns` beside an injected
 * `client`. The client connects with its own options, so these were ignored without a word (as
 * `db`, `tls` … were, injected-client-options.test.ts). Found from outside:
 * `createRedisCache({ client, addresses: ['redis-b:6379'] })` over a client of server A read and
 * wrote A, and its `clear()` emptied A; `dialTimeout: 2000` left the client's 10 s connect
 * timeout; `minIdleConns: 0` over a client already connected (or 1 over a lazy one) changed
 * nothing. Each is now a ConfigError naming the option when it differs from the client's own
 * (its host and port, a Cluster's startup nodes, a sentinel client's sentinels, its
 * `connectTimeout`, its `lazyConnect`); the same value (options shared with the cache that
 * built the client) is still taken.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, freePort } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

/** The paths of the ConfigError `make()` throws, or `undefined` when it made a cache (closed then). */
async function refusedPaths(make: () => ReturnType<typeof createRedisCache>): Promise<string[] | undefined> {
  let made: ReturnType<typeof createRedisCache>;
  try {
    made = make();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    for (const i of e.issues) assert.match(i.message, /differs from the injected client/);
    return e.issues.map((i) => i.path);
  }
  await made.close();
  return undefined;
}

describeWithServers('addresses and connection settings beside an injected client', skipRedis(), () => {
  let a: RedisStandalone;
  let b: RedisStandalone;
  let client: Redis;
  const unhandled = watchUnhandled();
  before(async () => {
    [a, b] = await Promise.all([startRedis(), startRedis()]);
    client = new Redis({ host: a.host, port: a.port, commandTimeout: 1000 });
    client.on('error', () => {});
  });
  after(async () => {
    client?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    unhandled.check();
    unhandled.dispose();
  });

  it("refuses addresses naming another server than the client's: that one would be written and cleared", async () => {
    await client.set('other-program', 'kept');
    const addresses = [`${b.host}:${b.port}`];
    let made: ReturnType<typeof createRedisCache> | undefined;
    let refused: unknown;
    try {
      made = createRedisCache({ client, addresses });
    } catch (e) {
      refused = e;
    }
    if (made) {
      // What its user expects: the cache's keyspace is server B's db 0, whole.
      await made.set('mine', enc('v'));
      await made.clear();
      await made.close();
    }
    assert.equal(await client.get('other-program'), 'kept', "a key of the client's server was removed");
    assert.ok(refused instanceof ConfigError, `not refused: ${String(refused)}`);
    assert.deepEqual(
      refused.issues.map((i) => i.path),
      ['addresses'],
    );
    assert.match(refused.issues[0]!.expected, /its host and port/);
  });

  it("refuses a dialTimeout or minIdleConns other than the client's own", async () => {
    // The client: iovalkey's connect timeout (10 s), connected at creation (lazyConnect false).
    assert.deepEqual(await refusedPaths(() => createRedisCache({ client, dialTimeout: 2000 })), [
      'dialTimeout',
    ]);
    assert.deepEqual(await refusedPaths(() => createRedisCache({ client, minIdleConns: 0 })), [
      'minIdleConns',
    ]);
    const lazy = new Redis({ host: a.host, port: a.port, lazyConnect: true, connectTimeout: 2000 });
    try {
      assert.deepEqual(await refusedPaths(() => createRedisCache({ client: lazy, minIdleConns: 1 })), [
        'minIdleConns',
      ]);
      assert.equal(lazy.status, 'wait');
      // The client's own values are taken.
      assert.equal(
        await refusedPaths(() => createRedisCache({ client: lazy, minIdleConns: 0, dialTimeout: 2000 })),
        undefined,
      );
    } finally {
      lazy.disconnect();
    }
    assert.equal(
      await refusedPaths(() =>
        createRedisCache({
          client,
          minIdleConns: 1,
          dialTimeout: 10_000,
          // `localhost` is the loopback address the client connects to.
          addresses: [`localhost:${a.port}`],
        }),
      ),
      undefined,
    );
  });

  it('takes the options of the cache that built the client', async () => {
    const options = { addresses: [`${b.host}:${b.port}`], dialTimeout: 1500, minIdleConns: 0 as const };
    const first = createRedisCache({ ...options, keyPrefix: 'a:' });
    const second = createRedisCache({ ...options, client: first.client as Redis, keyPrefix: 'b:' });
    try {
      assert.equal(await second.set('k', enc('v')), true);
      assert.equal(dec(await second.get('k')), 'v');
      const direct = new Redis({ host: b.host, port: b.port });
      assert.equal(await direct.get('b:k'), 'v');
      direct.disconnect();
    } finally {
      await second.close();
      await first.close();
    }
  });

  it("refuses a Cluster's or a sentinel client's other addresses", async () => {
    // Lazy clients of ports kept closed: the options are checked at creation, nothing connects.
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    const cluster = new Cluster([{ host: '127.0.0.1', port: p1 }, `127.0.0.1:${p2}`], { lazyConnect: true });
    const sentinel = new Redis({
      sentinels: [{ host: '127.0.0.1', port: p1 }],
      name: 'mymaster',
      lazyConnect: true,
    });
    try {
      assert.deepEqual(
        await refusedPaths(() =>
          createRedisCache({ client: cluster, addresses: [`127.0.0.1:${p1}`, `127.0.0.1:${p3}`] }),
        ),
        ['addresses'],
      );
      assert.equal(
        await refusedPaths(() =>
          createRedisCache({ client: cluster, addresses: [`127.0.0.1:${p2}`, `127.0.0.1:${p1}`] }),
        ),
        undefined,
      );
      const sentinelMode = {
        mode: 'sentinel' as const,
        client: sentinel,
        sentinel: { masterName: 'mymaster' },
      };
      assert.deepEqual(
        await refusedPaths(() =>
          createRedisCache({
            ...sentinelMode,
            sentinel: { masterName: 'mymaster', sentinelAddresses: [`127.0.0.1:${p2}`] },
          }),
        ),
        ['sentinel.sentinelAddresses'],
      );
      assert.deepEqual(
        await refusedPaths(() => createRedisCache({ ...sentinelMode, addresses: [`127.0.0.1:${p3}`] })),
        ['addresses'],
      );
      assert.equal(
        await refusedPaths(() =>
          createRedisCache({
            ...sentinelMode,
            sentinel: { masterName: 'mymaster', sentinelAddresses: [`127.0.0.1:${p1}`] },
          }),
        ),
        undefined,
      );
    } finally {
      cluster.disconnect();
      sentinel.disconnect();
    }
  });
});
