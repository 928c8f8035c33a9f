/**
 * A sentinel set with TLS on every data node and sentinel (`tls-replication yes`), ACL users on
 * both (the sentinels have their own user and password), and the adapter logged in as the
 * least-privilege users: the workload runs with no ACL denial, and a wrong CA, a wrong sentinel
 * password or a wrong data-node password surface fast as a CacheError naming the fault.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions } from 'node:tls';
import { aclRules, sentinelAclRules } from '../../../lib/cache/redis/acl.js';
import { createRedisCache, type RedisCache, type RedisCacheOptions } from '../../../lib/cache/redis/index.js';
import type { CacheError } from '../../../lib/core/errors.js';
import {
  adminTls,
  type RedisSentinelSet,
  redisCommand,
  skipRedis,
  startRedisSentinel,
} from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { watchUnhandled } from './helpers.js';
import { BUS_CHANNEL, LEASE_PREFIX, runWorkload } from './workload.js';

const ADMIN = 'sentinel-data-admin-password';
const SENTINEL_ADMIN = 'sentinel-admin-password';
const APP_USER = 'hyperion-app';
const APP_PASSWORD = 'sentinel-app-password';
const SENTINEL_USER = 'hyperion-sentinel';
const SENTINEL_PASSWORD = 'sentinel-user-password';
const RULES = aclRules({
  keyPrefix: 'app:',
  mode: 'sentinel',
  busChannel: BUS_CHANNEL,
  leasePrefix: LEASE_PREFIX,
});

describe('redis sentinel over TLS with ACL users on data nodes and sentinels', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let set: RedisSentinelSet;
  let serverTls: { ca: string; cert: string; key: string };
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  const make = (extra: Partial<RedisCacheOptions> = {}, tls: ConnectionOptions = { ca: pki.ca.certPem }) => {
    const c = createRedisCache({
      mode: 'sentinel',
      addresses: set.sentinels.map((s) => `${s.host}:${s.port}`),
      username: APP_USER,
      password: APP_PASSWORD,
      sentinel: { masterName: set.masterName, username: SENTINEL_USER, password: SENTINEL_PASSWORD },
      keyPrefix: 'app:',
      tls,
      commandTimeout: 8000,
      ...extra,
    });
    caches.push(c);
    return c;
  };

  before(async () => {
    pki = await createTestPki();
    serverTls = { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key };
    set = await startRedisSentinel({
      password: ADMIN,
      sentinelPassword: SENTINEL_ADMIN,
      tls: serverTls,
      dataExtraConfig: [`user ${APP_USER} on >${APP_PASSWORD} ${RULES.join(' ')}`],
      sentinelExtraConfig: [`user ${SENTINEL_USER} on >${SENTINEL_PASSWORD} ${sentinelAclRules().join(' ')}`],
    });
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await set?.stop();
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  it('runs the whole workload over TLS as the ACL users; no data node or sentinel logs a denial', async () => {
    const data = [set.master, set.replica];
    const adminData = (port: number, args: string[]) =>
      redisCommand(port, args, { password: ADMIN, tls: adminTls(serverTls) });
    const adminSentinel = (port: number, args: string[]) =>
      redisCommand(port, args, { password: SENTINEL_ADMIN, tls: adminTls(serverTls) });
    await Promise.all(data.map((s) => adminData(s.port, ['ACL', 'LOG', 'RESET'])));
    await Promise.all(set.sentinelServers.map((s) => adminSentinel(s.port, ['ACL', 'LOG', 'RESET'])));
    const cache = make();
    assert.equal(await cache.get('warm-up'), undefined);
    const stream = (cache.client as unknown as { stream: { encrypted?: boolean; authorized?: boolean } })
      .stream;
    assert.equal(stream.encrypted && stream.authorized, true, 'verified TLS to the master');
    await runWorkload(cache, make());
    for (const s of data) {
      const log = (await adminData(s.port, ['ACL', 'LOG'])) as unknown[];
      assert.deepEqual(log, [], `ACL denials on data node ${s.port}: ${JSON.stringify(log)}`);
    }
    for (const s of set.sentinelServers) {
      const log = (await adminSentinel(s.port, ['ACL', 'LOG'])) as unknown[];
      assert.deepEqual(log, [], `ACL denials on sentinel ${s.port}: ${JSON.stringify(log)}`);
    }
  });

  async function failsFast(what: string, cache: RedisCache, pattern: RegExp) {
    const start = performance.now();
    const err = await cache.get('k').then(
      () => assert.fail(`${what}: get succeeded`),
      (e: unknown) => e as CacheError,
    );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable', err.message);
    assert.match(err.message, pattern);
    assert.ok(ms < 1500, `${what} surfaced after ${ms.toFixed(0)} ms`);
    console.log(`# surfaced (sentinel): ${what}: ${ms.toFixed(0)} ms — ${err.message}`);
  }

  it('wrong CA (sentinels and data nodes): fails fast', async () => {
    await failsFast('wrong CA', make({}, { ca: pki.otherCa.certPem }), /not signed by a trusted CA/);
  });

  it('wrong CA for the data nodes only (sentinels trusted): fails fast', async () => {
    await failsFast(
      'wrong CA for data nodes',
      make(
        {
          sentinel: {
            masterName: set.masterName,
            username: SENTINEL_USER,
            password: SENTINEL_PASSWORD,
            tls: { ca: pki.ca.certPem },
          },
        },
        { ca: pki.otherCa.certPem },
      ),
      /not signed by a trusted CA/,
    );
  });

  it('wrong sentinel password: fails fast', async () => {
    await failsFast(
      'wrong sentinel password',
      make({ sentinel: { masterName: set.masterName, username: SENTINEL_USER, password: 'wrong' } }),
      /authentication failed/,
    );
  });

  it('wrong data-node password: fails fast', async () => {
    await failsFast('wrong data-node password', make({ password: 'wrong' }), /authentication failed/);
  });
});
