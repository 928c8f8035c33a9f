/**
 * `health()` of a cache whose ACL user may not run a command the cache sends. Found from outside:
 * a user with the rules of aclRules() less `+get` (or `+set`, `+mget`, `+unlink`, `+scan`, `+type`,
 * `+pttl`, `+time`), or whose key pattern does not cover the cache's prefix, failed every such
 * operation with NOPERM while `health()` said `ok: true`. It now reports `degraded`, naming the
 * refused commands and aclRules(); with the rules whole it stays ok.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { aclRules } from '../../../lib/cache/redis/acl.js';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { describeWithServers } from '../../harness/process.js';
import {
  type RedisCluster,
  type RedisStandalone,
  redisCommand,
  skipRedis,
  startRedis,
  startRedisCluster,
} from '../../harness/redis.js';
import { enc, rejectsWith, watchUnhandled } from './helpers.js';

const ADMIN = 'health-acl-admin-password';
const APP_PASSWORD = 'health-acl-app-password';
const PREFIX = 'app:';

describeWithServers(
  'health() of an ACL user missing a command the cache needs (standalone)',
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    const caches: RedisCache[] = [];
    const unhandled = watchUnhandled();
    const rules = aclRules({ keyPrefix: PREFIX, mode: 'standalone' });
    const admin = (args: string[]) => redisCommand(redis.port, args, { password: ADMIN });
    const as = async (user: string, userRules: readonly string[]) => {
      await admin(['ACL', 'SETUSER', user, 'reset', 'on', `>${APP_PASSWORD}`, ...userRules]);
      const c = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        username: user,
        password: APP_PASSWORD,
        keyPrefix: PREFIX,
        commandTimeout: 2000,
      });
      caches.push(c);
      return c;
    };

    before(async () => {
      redis = await startRedis({ password: ADMIN });
    });
    after(async () => {
      await Promise.allSettled(caches.map((c) => c.close()));
      await redis?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it('with the rules of aclRules() whole: ok, and no ACL denial', async () => {
      await admin(['ACL', 'LOG', 'RESET']);
      const c = await as('whole', rules);
      const h = await c.health();
      assert.equal(h.ok, true, h.error);
      assert.deepEqual(await admin(['ACL', 'LOG']), []);
    });

    for (const [missing, operation] of [
      ['+get', (c: RedisCache) => c.get('k')],
      ['+set', (c: RedisCache) => c.set('k', enc('v'))],
      ['+mget', (c: RedisCache) => c.getMany(['k', 'j'])],
      ['+unlink', (c: RedisCache) => c.delete('k')],
      ['+scan', (c: RedisCache) => c.clear()],
    ] as const) {
      it(`without ${missing}: the operation fails, and health() is degraded naming ${missing.slice(1).toUpperCase()}`, async () => {
        const c = await as(`no-${missing.slice(1)}`, [...rules, `-${missing.slice(1)}`]);
        await rejectsWith(operation(c), 'backend');
        const h = await c.health();
        assert.equal(h.ok, false, `health() ok while ${missing} is refused`);
        assert.equal(h.degraded, true);
        assert.match(h.error ?? '', new RegExp(`may not run ${missing.slice(1).toUpperCase()} on `));
        assert.match(h.error ?? '', /aclRules\(\)/);
      });
    }

    it('a key pattern that does not cover the prefix: degraded, naming every keyed command', async () => {
      const c = await as('other-keys', [...rules.filter((r) => !r.startsWith('~')), '~other:*']);
      await rejectsWith(c.get('k'), 'backend');
      const h = await c.health();
      assert.equal(h.ok, false);
      assert.match(h.error ?? '', /may not run GET, MGET, TYPE, PTTL, SET, UNLINK on .*'app:'/);
    });
  },
);

describeWithServers(
  'health() of an ACL user missing a command the cache needs (cluster)',
  skipRedis(),
  () => {
    let cluster: RedisCluster;
    const caches: RedisCache[] = [];
    const unhandled = watchUnhandled();
    const rules = aclRules({ keyPrefix: PREFIX, mode: 'cluster' });
    const make = (user: string) => {
      const c = createRedisCache({
        mode: 'cluster',
        addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
        username: user,
        password: APP_PASSWORD,
        keyPrefix: PREFIX,
        commandTimeout: 2000,
      });
      caches.push(c);
      return c;
    };

    before(async () => {
      cluster = await startRedisCluster({
        password: ADMIN,
        extraConfig: [
          `user whole on >${APP_PASSWORD} ${rules.join(' ')}`,
          `user no-set on >${APP_PASSWORD} ${rules.join(' ')} -set`,
        ],
      });
    });
    after(async () => {
      await Promise.allSettled(caches.map((c) => c.close()));
      await cluster?.stop();
      unhandled.check();
      unhandled.dispose();
    });

    it('ok with the rules whole; degraded without +set, every master named', async () => {
      const whole = await make('whole').health();
      assert.equal(whole.ok, true, whole.error);
      const c = make('no-set');
      await rejectsWith(c.set('k', enc('v')), 'backend');
      const h = await c.health();
      assert.equal(h.ok, false, 'health() ok while +set is refused');
      assert.equal(h.degraded, true);
      assert.equal((h.error?.match(/may not run SET on /g) ?? []).length, 3, h.error);
    });
  },
);
