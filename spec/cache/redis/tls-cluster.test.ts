/**
 * A 6-node Redis Cluster with TLS everywhere (`tls-cluster yes`, `tls-replication yes`) and mutual
 * TLS required (`tls-auth-clients yes`), the adapter logged in as the least-privilege ACL user:
 * the whole workload runs with no ACL denial on any node, a tiered cache with CLIENT TRACKING
 * (one tracked link per node) sees outside writes under the same rules, and a wrong CA or a
 * missing client certificate surfaces fast as a CacheError naming it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions } from 'node:tls';
import type { Cluster } from 'iovalkey';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { aclRules } from '../../../lib/cache/redis/acl.js';
import { createRedisCache, createRedisTracking, type RedisCache } from '../../../lib/cache/redis/index.js';
import { HANDSHAKE_MS } from '../../../lib/cache/redis/tls.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { CacheError } from '../../../lib/core/errors.js';
import { startAll, waitFor } from '../../harness/process.js';
import {
  adminTls,
  type RedisCluster,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { holdInL1, text, trackingRefusal } from '../tiered/tracking-helpers.js';
import { enc, watchUnhandled } from './helpers.js';
import { BUS_CHANNEL, LEASE_PREFIX, runWorkload } from './workload.js';

const ADMIN = 'cluster-admin-password';
const APP_USER = 'hyperion-app';
const APP_PASSWORD = 'cluster-app-password';
/** The same rules less `+cluster|slots`, and less `+cluster|info` (the ready check). */
const LIMITED_USER = 'hyperion-app-limited';
const NO_INFO_USER = 'hyperion-app-no-cluster-info';
const RULES = aclRules({
  keyPrefix: 'app:',
  mode: 'cluster',
  busChannel: BUS_CHANNEL,
  leasePrefix: LEASE_PREFIX,
  tracking: true,
});

describe('redis cluster over TLS with mutual TLS and an ACL user', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let cluster: RedisCluster;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  let serverTls: { ca: string; cert: string; key: string; authClients: 'yes' };
  const clientTls = (): ConnectionOptions => ({
    ca: pki.ca.certPem,
    cert: pki.clientEncrypted.certPem,
    key: pki.clientEncrypted.keyPem,
    passphrase: pki.passphrase,
  });
  const make = (tls: ConnectionOptions, extra = {}) => {
    const c = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.slice(0, 2).map((n) => `${n.host}:${n.port}`),
      username: APP_USER,
      password: APP_PASSWORD,
      keyPrefix: 'app:',
      tls,
      commandTimeout: 8000,
      ...extra,
    });
    caches.push(c);
    return c;
  };
  const admin = (port: number, args: string[]) =>
    redisCommand(port, args, { password: ADMIN, tls: adminTls(serverTls) });

  before(async () => {
    pki = await createTestPki();
    serverTls = { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, authClients: 'yes' };
    cluster = await startRedisCluster({
      tls: serverTls,
      password: ADMIN,
      extraConfig: [
        `user ${APP_USER} on >${APP_PASSWORD} ${RULES.join(' ')}`,
        `user ${LIMITED_USER} on >${APP_PASSWORD} ${RULES.filter((r) => r !== '+cluster|slots').join(' ')}`,
        `user ${NO_INFO_USER} on >${APP_PASSWORD} ${RULES.filter((r) => r !== '+cluster|info').join(' ')}`,
      ],
    });
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await cluster?.stop();
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  it('runs the whole workload over TLS under the ACL; no node logs a denial', async () => {
    await Promise.all(cluster.nodes.map((n) => admin(n.port, ['ACL', 'LOG', 'RESET'])));
    const cache = make(clientTls());
    assert.equal(await cache.get('warm-up'), undefined);
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    assert.equal(h.nodes.length, 6);
    const stream = (
      (cache.client as Cluster).nodes('master')[0] as unknown as {
        stream: { encrypted?: boolean; authorized?: boolean };
      }
    ).stream;
    assert.equal(stream.encrypted && stream.authorized, true, 'verified TLS to the nodes');
    await runWorkload(cache, make(clientTls()));
    for (const n of cluster.nodes) {
      const log = (await admin(n.port, ['ACL', 'LOG'])) as unknown[];
      assert.deepEqual(log, [], `ACL denials on ${n.port}: ${JSON.stringify(log)}`);
    }
  });

  it('tiered cache with CLIENT TRACKING over TLS under the same ACL: outside writes reach L1 on every master', async () => {
    await Promise.all(cluster.nodes.map((n) => admin(n.port, ['ACL', 'LOG', 'RESET'])));
    const l2 = make(clientTls());
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 20 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 200 }),
      l1Ttl: 60_000,
      l2Timeout: 2000,
    });
    try {
      await tiered.ready;
      // Keys spread over the three masters; each is written from outside (the admin, on the
      // master that owns it: the others answer MOVED).
      const keys = ['{a}k', '{b}k', '{c}k', '{d}k', '{e}k', '{f}k'];
      for (const key of keys) {
        await tiered.set(key, enc('v0'), 60_000);
        assert.equal(await holdInL1(tiered, key), 'v0');
        const n = tiered.stats().trackingInvalidations;
        const replies = await Promise.allSettled(
          cluster.masters.map((m) => admin(m.port, ['SET', `app:${key}`, 'outside'])),
        );
        assert.equal(replies.filter((r) => r.status === 'fulfilled').length, 1, `one owner of ${key}`);
        await waitFor(() => tiered.stats().trackingInvalidations > n, { what: `the invalidation of ${key}` });
        assert.equal(text(await tiered.get(key)), 'outside');
      }
      assert.equal(tiered.stats().trackingConfirmed, 1);
    } finally {
      await tiered.close();
    }
    for (const n of cluster.nodes) {
      const log = (await admin(n.port, ['ACL', 'LOG'])) as unknown[];
      assert.deepEqual(log, [], `ACL denials on ${n.port}: ${JSON.stringify(log)}`);
    }
  });

  it('an ACL user without CLIENT TRACKING: ready rejects fast with a CacheError naming it', async () => {
    await Promise.all(
      cluster.nodes.map((n) =>
        admin(n.port, [
          'ACL',
          'SETUSER',
          'no-tracking',
          'reset',
          'on',
          `>${APP_PASSWORD}`,
          ...RULES.filter((r) => r !== '+client|tracking'),
        ]),
      ),
    );
    const l2 = make(clientTls(), { username: 'no-tracking' });
    const tiered = createTieredCache({
      l1: createMemoryCache({ maxCost: 1 << 16 }),
      l2,
      tracking: createRedisTracking({ cache: l2, heartbeat: 200 }),
    });
    try {
      const { err, ms } = await trackingRefusal(tiered);
      assert.equal(err.code, 'backend', err.message);
      assert.match(err.message, /redis tracking refused by the server .*CLIENT TRACKING.*NOPERM/);
      console.log(
        `# surfaced (cluster): tracking without +client|tracking: ${ms.toFixed(0)} ms — ${err.message}`,
      );
      assert.equal(tiered.stats().trackingConfirmed, 0);
    } finally {
      await tiered.close();
    }
  });

  async function failsFast(what: string, tls: ConnectionOptions, pattern: RegExp, extra = {}) {
    const start = performance.now();
    const err = await make(tls, extra)
      .get('k')
      .then(
        () => assert.fail(`${what}: get succeeded`),
        (e: unknown) => e as CacheError,
      );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable', err.message);
    assert.match(err.message, pattern);
    // A cluster has no sentinel: a node's fault is never reported as one ('node error' passes the
    // node's address as a second argument, once taken for a sentinel flag).
    assert.doesNotMatch(err.message, /sentinel/);
    // Half the 8 s command timeout: the fault surfaced, it did not wait the timeout out (a loaded
    // CI machine took 1.7 s for a fault that takes 12–185 ms when idle).
    assert.ok(ms < 4000, `${what} surfaced after ${ms.toFixed(0)} ms`);
    console.log(`# surfaced (cluster): ${what}: ${ms.toFixed(0)} ms — ${err.message}`);
  }

  it('wrong CA: fails fast', async () => {
    await failsFast('wrong CA', { ...clientTls(), ca: pki.otherCa.certPem }, /not signed by a trusted CA/);
  });

  it('no client certificate: fails fast', async () => {
    await failsFast('no client certificate', { ca: pki.ca.certPem }, /refused the client certificate/);
  });

  it('an ACL user without +cluster|slots: fails fast naming the refused command', async () => {
    await failsFast(
      'ACL user without +cluster|slots',
      clientTls(),
      /^redis get failed \(cluster (seeds|nodes) [^)]+\): ACL: the server refused a command the client needs to connect \(NOPERM .*'cluster\|slots'.*aclRules\(\)/,
      { username: LIMITED_USER },
    );
  });

  it('an ACL user without +cluster|info (the ready check): fails fast naming the refused command', async () => {
    await failsFast(
      'ACL user without +cluster|info',
      clientTls(),
      /^redis get failed \(cluster (seeds|nodes) [^)]+\): ACL: the server refused a command the client needs to connect \(NOPERM .*'cluster\|info'.*aclRules\(\)/,
      { username: NO_INFO_USER },
    );
  });

  // Was "not connected within 8000 ms: no cluster node answered (…: read ECONNRESET; …)" after
  // the whole command timeout: the cluster's own events say only "Connection is closed." between
  // its nodes' resets, which ended every run of resets before it made the diagnosis.
  it('plain text to TLS-only cluster nodes: fails naming TLS, not at the command timeout', async () => {
    const err = await make(clientTls(), { tls: undefined })
      .get('k')
      .then(
        () => assert.fail('get succeeded'),
        (e: unknown) => e as CacheError,
      );
    assert.equal(err.code, 'unavailable', err.message);
    assert.match(
      err.message,
      /^redis get failed \(cluster (seeds|nodes) [^)]+\): the cluster nodes reset \d+ plain-text connections in a row before any reply: TLS-only nodes\? \(set `tls`\)$/,
    );
    console.log(`# surfaced (cluster): plain text to TLS-only nodes — ${err.message}`);
  });

  it('wrong ACL password: fails fast', async () => {
    const start = performance.now();
    const err = await make(clientTls(), { password: 'wrong' })
      .get('k')
      .then(
        () => assert.fail('get succeeded'),
        (e: unknown) => e as CacheError,
      );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable', err.message);
    console.log(`# surfaced (cluster): wrong ACL password: ${ms.toFixed(0)} ms — ${err.message}`);
    assert.match(
      err.message,
      /^redis get failed \(cluster (seeds|nodes) [^)]+\): authentication failed: the server refused/,
    );
    assert.ok(ms < 4000, `surfaced after ${ms.toFixed(0)} ms (command timeout 8 s)`);
  });
});

/**
 * Certificate and port faults in cluster mode, against real cluster-enabled servers (one node
 * each, no slots assigned: the TLS handshake is the first thing the client does, before CLUSTER
 * SLOTS): an expired certificate, a certificate for another host, and no TLS on the port. Each
 * surfaces as a CacheError saying which; the time each took is printed.
 */
describe('redis cluster mode over TLS: certificate and port faults', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  const nodes: Record<'expired' | 'wrongHost' | 'plain', RedisStandalone> = {} as never;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  // (A TLS-only node, `port 0`, also needs `tls-cluster yes` for its cluster bus.)
  const clusterNode = ['cluster-enabled yes', 'cluster-config-file nodes.conf'];

  before(async () => {
    pki = await createTestPki();
    const tls = (cert: { cert: string; key: string }) => ({
      ca: pki.ca.cert,
      cert: cert.cert,
      key: cert.key,
    });
    [nodes.expired, nodes.wrongHost, nodes.plain] = await startAll([
      startRedis({ tls: tls(pki.expired), extraConfig: [...clusterNode, 'tls-cluster yes'] }),
      startRedis({ tls: tls(pki.wrongHost), extraConfig: [...clusterNode, 'tls-cluster yes'] }),
      startRedis({ extraConfig: clusterNode }),
    ]);
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await Promise.allSettled(Object.values(nodes).map((n) => n?.stop()));
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  // Half the 8 s command timeout, as above: the fault surfaced, it did not wait the timeout out. It
  // was 1.5 s, under the 1.7 s a loaded CI machine took for a TLS fault that takes 5–80 ms idle.
  async function failsFast(what: string, node: RedisStandalone, pattern: RegExp, within = 4000) {
    const start = performance.now();
    const cache = createRedisCache({
      mode: 'cluster',
      addresses: [`${node.host}:${node.port}`],
      keyPrefix: 'app:',
      tls: { ca: pki.ca.certPem },
      commandTimeout: 8000,
    });
    caches.push(cache);
    const err = await cache.get('k').then(
      () => assert.fail(`${what}: get succeeded`),
      (e: unknown) => e as CacheError,
    );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable', err.message);
    assert.match(err.message, pattern);
    // A cluster has no sentinel: a node's fault is never reported as one ('node error' passes the
    // node's address as a second argument, once taken for a sentinel flag).
    assert.doesNotMatch(err.message, /sentinel/);
    assert.ok(ms < within, `${what} surfaced after ${ms.toFixed(0)} ms`);
    console.log(`# surfaced (cluster): ${what}: ${ms.toFixed(0)} ms — ${err.message}`);
  }

  it('node with an expired certificate: fails fast as expired', async () => {
    await failsFast('node certificate expired', nodes.expired, /expired/);
  });

  it('node with a certificate for another host: fails fast as a host mismatch', async () => {
    await failsFast('node certificate for another host', nodes.wrongHost, /does not name the host/);
  });

  it('TLS to a plain-text cluster node: fails once the handshake bound passes', async () => {
    // The handshake bound (2 s), not the 8 s command timeout nor the 5 s dial timeout; the 2 s of
    // slack are what a loaded machine adds (it was 1 s: ~2.0 s idle, up to ~1.7 s more loaded).
    await failsFast('TLS to a plain node port', nodes.plain, /did not answer with TLS/, HANDSHAKE_MS + 2000);
  });
});
