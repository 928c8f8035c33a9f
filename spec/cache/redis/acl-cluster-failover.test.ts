/**
 * The least-privilege ACL of aclRules({ mode: 'cluster' }) across a cluster failover. iovalkey
 * opens replica connections with READONLY and, when such a replica is promoted, switches that
 * connection with READWRITE (its connection pool's role change). Without `+readwrite` the rules
 * refused it: every failover left an ACL LOG denial ("command", readwrite, user app) on the
 * promoted node and its connection in READONLY mode — a denial an operator watching ACL LOG for
 * anything outside the rules is alerted by, at each failover.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { aclRules } from '../../../lib/cache/redis/acl.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { keySlot } from '../../../lib/cache/redis/slots.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisCluster, redisCommand, skipRedis, startRedisCluster } from '../../harness/redis.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const ADMIN = 'acl-cluster-admin-password';
const APP_USER = 'hyperion-app';
const APP_PASSWORD = 'acl-cluster-app-password';
const PREFIX = 'app:';

describeWithServers('redis cluster under the least-privilege ACL across a failover', skipRedis(), () => {
  let cluster: RedisCluster;
  let cache: RedisCache;
  const unhandled = watchUnhandled();
  const admin = (port: number, args: string[]) => redisCommand(port, args, { password: ADMIN });

  before(async () => {
    cluster = await startRedisCluster({
      password: ADMIN,
      extraConfig: [
        `user ${APP_USER} on >${APP_PASSWORD} ${aclRules({ keyPrefix: PREFIX, mode: 'cluster' }).join(' ')}`,
      ],
    });
    cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      username: APP_USER,
      password: APP_PASSWORD,
      keyPrefix: PREFIX,
      commandTimeout: 3000,
    });
  });
  after(async () => {
    await cache?.close();
    await cluster?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  /** The app user's connections on `port` whose flags include READONLY (`r`). */
  const readOnlyConnections = async (port: number) =>
    String(await admin(port, ['CLIENT', 'LIST']))
      .split('\n')
      .filter((line) => / user=hyperion-app /.test(line) && / flags=\S*r/.test(line)).length;

  it('a promoted replica gets READWRITE from the client, and no node logs an ACL denial', async () => {
    await cache.get('warm-up');
    const master = cluster.masters[0]!;
    const slots = (cache.client as unknown as { slots: string[][] }).slots;
    let key: string | undefined;
    let replica: number | undefined;
    for (let i = 0; i < 500 && key === undefined; i++) {
      const owners = slots[keySlot(`${PREFIX}k${i}`)];
      if (owners?.[0] === `${master.host}:${master.port}` && owners[1]) {
        key = `k${i}`;
        replica = Number(owners[1].split(':')[1]);
      }
    }
    assert.ok(key !== undefined && replica !== undefined, 'a key on the first master, with a replica');
    assert.equal(await cache.set(key, enc('before')), true);
    // The client holds a READONLY connection to the replica (it opens one to every node).
    await waitFor(async () => (await readOnlyConnections(replica)) > 0, {
      timeoutMs: 10_000,
      what: "the app's READONLY connection to the replica",
    });
    for (const n of cluster.nodes) await admin(n.port, ['ACL', 'LOG', 'RESET']);

    assert.equal(await admin(replica, ['CLUSTER', 'FAILOVER']), 'OK');
    await waitFor(async () => ((await admin(replica, ['ROLE'])) as unknown[])[0] === 'master', {
      timeoutMs: 20_000,
      what: 'the promotion',
    });
    // Writes follow the MOVED reply to the promoted node (the client re-reads its slot map).
    await waitFor(() => cache.set(key, enc('after')).then(() => true), {
      timeoutMs: 20_000,
      what: 'a write on the promoted master',
    });
    assert.equal(dec(await cache.get(key)), 'after');
    // iovalkey switches its connection to the promoted node with READWRITE once it has read the
    // new slot map: the READONLY flag goes (it stayed, refused, without `+readwrite`).
    await waitFor(async () => (await readOnlyConnections(replica)) === 0, {
      timeoutMs: 15_000,
      what: 'READWRITE on the connection to the promoted master',
    });
    for (const n of cluster.nodes) {
      const log = (await admin(n.port, ['ACL', 'LOG'])) as unknown[];
      assert.deepEqual(log, [], `ACL denials on ${n.port}: ${JSON.stringify(log)}`);
    }
  });
});
