/**
 * The mode of a cache over an injected client is the client's own. Found from outside: a sentinel
 * client (`new Redis({ sentinels, name })`) passed as `client` without `mode` made a standalone
 * cache — `cache.mode` and `health().mode` said `standalone` and `health()` never asked the
 * sentinels, so with every sentinel down (no failover possible) it still said ok — and
 * `mode: 'sentinel'` over a client of one server was taken (health said `sentinel`, with no
 * sentinel behind it). Now the mode follows the client, and a stated mode that contradicts it is a
 * ConfigError, as a Cluster with `mode: 'standalone'` already was. Without a client, a `sentinel` or
 * `cluster` section without `mode` is refused as the config refuses it (the section was ignored).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Cluster, Redis } from 'iovalkey';
import { createRedisCache, type RedisMode } from '../../../lib/cache/redis/index.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { describeWithServers, freePort } from '../../harness/process.js';
import { type RedisSentinelSet, skipRedis, startRedisSentinel } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

/** The ConfigError `make` throws (asserted), as `path: message` lines. */
function refusal(make: () => unknown): string[] {
  let refused: unknown;
  try {
    make();
  } catch (e) {
    refused = e;
  }
  assert.ok(refused instanceof ConfigError, `not refused: ${String(refused)}`);
  return refused.issues.map((i) => `${i.path}: ${i.message}`);
}

it("the mode is the stated one, else the client's, else standalone; a contradiction or an ignored section is refused", async () => {
  // Every combination of stated mode, client kind and sections. Lazy clients of a port kept
  // closed: options are checked at creation, nothing connects.
  const port = await freePort();
  const made: { disconnect(): void }[] = [];
  const clientOf = {
    none: () => undefined,
    standalone: () => new Redis({ port, lazyConnect: true }),
    sentinel: () =>
      new Redis({ sentinels: [{ host: '127.0.0.1', port }], name: 'mymaster', lazyConnect: true }),
    cluster: () => new Cluster([{ host: '127.0.0.1', port }], { lazyConnect: true }),
  };
  const modes = [undefined, 'standalone', 'cluster', 'sentinel'] as const;
  const kinds = ['none', 'standalone', 'sentinel', 'cluster'] as const;
  let combinations = 0;
  try {
    for (const mode of modes)
      for (const kind of kinds)
        for (const clusterSection of [false, true])
          for (const sentinelSection of [false, true]) {
            combinations++;
            const client = clientOf[kind]();
            if (client) made.push(client);
            const clientMode: RedisMode | undefined = kind === 'none' ? undefined : kind;
            const expected = mode ?? clientMode ?? 'standalone';
            // Sentinel mode without a client needs the master's name, in a sentinel section.
            const named = expected === 'sentinel' && kind === 'none';
            const options = {
              ...(client ? { client } : { minIdleConns: 0 as const }),
              ...(mode ? { mode } : {}),
              ...(clusterSection ? { cluster: {} } : {}),
              ...(sentinelSection || named ? { sentinel: named ? { masterName: 'mymaster' } : {} } : {}),
            };
            const refusedFor: string[] = [];
            if (mode && clientMode && mode !== clientMode) refusedFor.push('client');
            if (!mode && !client && (clusterSection || sentinelSection)) refusedFor.push('mode');
            const what = JSON.stringify({ mode, kind, clusterSection, sentinelSection });
            let paths: string[] | undefined;
            try {
              const cache = createRedisCache(options);
              assert.equal(cache.mode, expected, what);
              await cache.close();
            } catch (e) {
              assert.ok(e instanceof ConfigError, `${what}: ${String(e)}`);
              paths = e.issues.map((i) => i.path);
            }
            assert.deepEqual(paths, refusedFor.length > 0 ? refusedFor : undefined, what);
          }
  } finally {
    for (const c of made) c.disconnect();
  }
  assert.equal(combinations, 64);
});

describeWithServers("the mode of a cache: its client's, or stated beside its section", skipRedis(), () => {
  let set: RedisSentinelSet;
  let client: Redis;
  const unhandled = watchUnhandled();

  before(async () => {
    set = await startRedisSentinel();
    client = new Redis({
      sentinels: set.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: set.masterName,
      commandTimeout: 2000,
    });
    client.on('error', () => {});
  });
  after(async () => {
    client?.disconnect();
    await set?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('without a client, requires mode beside a sentinel or cluster section, as the config does', async () => {
    // Without mode the cache was standalone and ignored the section: with `addresses` naming a
    // sentinel it sent GET and SET to the sentinel itself (`backend`, "ERR unknown command").
    const sentinelAddresses = set.sentinels.map((s) => `${s.host}:${s.port}`);
    assert.deepEqual(
      refusal(() =>
        createRedisCache({
          addresses: sentinelAddresses.slice(0, 1),
          sentinel: { masterName: set.masterName },
          minIdleConns: 0,
        }),
      ),
      [
        'mode: is required with a sentinel section (without it the cache is standalone and the section is ignored)',
      ],
    );
    assert.deepEqual(
      refusal(() => createRedisCache({ cluster: { readOnly: true }, minIdleConns: 0 })),
      [
        'mode: is required with a cluster section (without it the cache is standalone and the section is ignored)',
      ],
    );
    // Written out, standalone keeps such a section unused (as the config allows).
    const unused = createRedisCache({ mode: 'standalone', cluster: { readOnly: true }, minIdleConns: 0 });
    await unused.close();
    const cache = createRedisCache({
      mode: 'sentinel',
      sentinel: { masterName: set.masterName, sentinelAddresses },
      keyPrefix: 'stated:',
      commandTimeout: 2000,
    });
    try {
      assert.equal(await cache.set('k', enc('v')), true);
      assert.equal(dec(await cache.get('k')), 'v');
    } finally {
      await cache.close();
    }
  });

  it('is sentinel for a sentinel client given without mode, and health() asks its sentinels', async () => {
    const cache = createRedisCache({ client, keyPrefix: 'follows:', commandTimeout: 2000 });
    try {
      assert.equal(cache.mode, 'sentinel');
      assert.equal(await cache.set('k', enc('v')), true);
      assert.equal(dec(await cache.get('k')), 'v');
      const up = await cache.health();
      assert.equal(up.mode, 'sentinel');
      assert.equal(up.ok, true, up.error);
      assert.equal(up.sentinels?.length, set.sentinels.length);
      // Every sentinel gone: the master still answers, but nothing could fail it over.
      await Promise.all(set.sentinelServers.map((s) => s.kill()));
      const alone = await cache.health();
      assert.equal(alone.ok, false);
      assert.match(alone.error ?? '', /no sentinel answered/);
    } finally {
      await cache.close();
    }
  });

  it('refuses a mode that contradicts the client, naming what the client is', async () => {
    assert.deepEqual(
      refusal(() => createRedisCache({ client, mode: 'standalone' })),
      [
        'client: client does not match mode: it is a Redis client made with sentinels, so its mode is sentinel',
      ],
    );
    // Lazy clients of ports kept closed: the options are checked at creation, nothing connects.
    const port = await freePort();
    const one = new Redis({ port, lazyConnect: true });
    const cluster = new Cluster([{ host: '127.0.0.1', port }], { lazyConnect: true });
    try {
      assert.deepEqual(
        refusal(() => createRedisCache({ client: one, mode: 'sentinel' })),
        [
          'client: client does not match mode: it is a Redis client of one server (no sentinels), so its mode is standalone',
        ],
      );
      assert.deepEqual(
        refusal(() => createRedisCache({ client: one, mode: 'cluster' })),
        [
          'client: client does not match mode: it is a Redis client of one server (no sentinels), so its mode is standalone',
        ],
      );
      assert.deepEqual(
        refusal(() => createRedisCache({ client: cluster, mode: 'sentinel' })),
        ['client: client does not match mode: it is a Cluster client, so its mode is cluster'],
      );
      const standalone = createRedisCache({ client: one, minIdleConns: 0 });
      assert.equal(standalone.mode, 'standalone');
      await standalone.close();
    } finally {
      one.disconnect();
      cluster.disconnect();
    }
  });
});
