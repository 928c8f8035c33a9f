/**
 * Printing a Redis cache shows no credential. The cache's `client` is public, and iovalkey keeps
 * the password, the sentinel password and the TLS key and passphrase in its options (and in its
 * cluster nodes'): `console.log(cache)`, `util.inspect`, a logger field holding the cache, or
 * `JSON.stringify(cache)` printed them. Checked on every topology, with TLS and a passphrase, on
 * the cache, a tiered cache over it, its client, a duplicate of it and a cluster's nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import type { Cluster, Redis } from 'iovalkey';
import { createMemoryCache } from '../../lib/cache/memory/index.js';
import { createRedisCache, type RedisCache } from '../../lib/cache/redis/index.js';
import { createTieredCache } from '../../lib/cache/tiered/index.js';
import { startAll } from '../harness/process.js';
import {
  type RedisCluster,
  type RedisSentinelSet,
  type RedisStandalone,
  skipRedis,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const SECRETS = {
  password: 'S3CRET-inspect-password-41c2',
  sentinelPassword: 'S3CRET-inspect-sentinel-7d90',
  passphrase: 'S3CRET-inspect-passphrase-e5b3',
} as const;

/** Every way a user or a logger prints an object. */
function printed(value: unknown): string[] {
  const out = [
    inspect(value, { depth: Number.POSITIVE_INFINITY }),
    inspect(value, { depth: 6, showHidden: true, getters: true }),
    format('%o %O %j', value, value, value),
  ];
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // a circular structure prints nothing
  }
  return out;
}

function leaks(what: string, value: unknown): string[] {
  const found: string[] = [];
  for (const text of printed(value))
    for (const [name, secret] of Object.entries(SECRETS)) {
      const at = text.indexOf(secret);
      if (at >= 0) found.push(`${what}: ${name} …${text.slice(Math.max(0, at - 60), at)}…`);
    }
  return found;
}

describe('printing a Redis cache shows no credential', { skip: skipRedis() || skipOpenssl() }, () => {
  let pki: TestPki;
  let standalone: RedisStandalone;
  let tlsRedis: RedisStandalone;
  let sentinel: RedisSentinelSet;
  let cluster: RedisCluster;
  const caches: { close(): Promise<unknown> }[] = [];

  before(async () => {
    pki = await createTestPki({ passphrase: SECRETS.passphrase });
    [standalone, tlsRedis, sentinel, cluster] = await startAll([
      startRedis({ password: SECRETS.password }),
      startRedis({
        password: SECRETS.password,
        tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, authClients: 'yes' },
      }),
      startRedisSentinel({ password: SECRETS.password, sentinelPassword: SECRETS.sentinelPassword }),
      startRedisCluster({ password: SECRETS.password }),
    ]);
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await Promise.allSettled([standalone, tlsRedis, sentinel, cluster].map((s) => s?.stop()));
    await pki?.remove();
  });

  const make = (o: Parameters<typeof createRedisCache>[0]) => {
    const c = createRedisCache({ commandTimeout: 2000, ...o });
    caches.push(c);
    return c;
  };
  async function check(cache: RedisCache) {
    await cache.set('k', Buffer.from('v'));
    assert.equal(Buffer.from((await cache.get('k')) ?? '').toString(), 'v', 'the credentials work');
    const tiered = createTieredCache({ l1: createMemoryCache({ maxCost: 1 << 20 }), l2: cache });
    caches.push(tiered);
    const found = [
      ...leaks('cache', cache),
      ...leaks('cache.client', cache.client),
      ...leaks('tiered cache', tiered),
      ...leaks('a logger field', { cache }),
    ];
    if (cache.client.isCluster) found.push(...leaks('cluster nodes', (cache.client as Cluster).nodes('all')));
    // The duplicate the README suggests for pub/sub (lazy: it does not connect here).
    const duplicate = (cache.client as Redis).duplicate();
    try {
      found.push(...leaks('client.duplicate()', duplicate));
    } finally {
      duplicate.disconnect();
    }
    assert.deepEqual(found, []);
    // What is shown still says what the client is.
    assert.match(inspect(cache.client), new RegExp(`${cache.mode}`));
  }

  it('standalone with a password', async () => {
    await check(make({ addresses: [`127.0.0.1:${standalone.port}`], password: SECRETS.password }));
  });

  it('standalone over mutual TLS with an encrypted key and its passphrase', async () => {
    await check(
      make({
        addresses: [`127.0.0.1:${tlsRedis.port}`],
        password: SECRETS.password,
        tls: {
          ca: pki.ca.certPem,
          cert: pki.clientEncrypted.certPem,
          key: pki.clientEncrypted.keyPem,
          passphrase: SECRETS.passphrase,
        },
      }),
    );
  });

  it('sentinel with a data-node and a sentinel password', async () => {
    await check(
      make({
        mode: 'sentinel',
        addresses: sentinel.sentinels.map((s) => `${s.host}:${s.port}`),
        sentinel: { masterName: sentinel.masterName, password: SECRETS.sentinelPassword },
        password: SECRETS.password,
      }),
    );
  });

  it('cluster with a password (the cache, its client and every node)', async () => {
    await check(
      make({
        mode: 'cluster',
        addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        password: SECRETS.password,
      }),
    );
  });
});
