/**
 * An operator revokes the bus channel from the ACL user while the bus runs (`ACL SETUSER <user>
 * resetchannels …`): Redis closes the subscriber connection, which reconnects and subscribes
 * again, and the server refuses that SUBSCRIBE (NOPERM). iovalkey's own re-subscription
 * (`autoResubscribe`) rejected with no one to handle it: an unhandled rejection that ended the
 * process of every instance. The bus now subscribes again itself, and says the refusal through its
 * logger (invalidations are lost from then on). Its `status` ("`ready` when messages are being
 * received") said `ready` all the same, as it did for a bus whose first SUBSCRIBE was refused: it
 * says `refused` now.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { aclRules, createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { describeWithServers, waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

describeWithServers(
  'invalidation bus: its channel revoked from the ACL user at run time',
  skipRedis(),
  () => {
    let redis: RedisStandalone;
    before(async () => {
      redis = await startRedis();
      const rules = aclRules({ keyPrefix: 'ar:', mode: 'standalone', busChannel: 'ar-inv' });
      await redisCommand(redis.port, ['ACL', 'SETUSER', 'bususer', 'on', '>pw', ...rules]);
    });
    after(() => redis?.stop());

    it('no unhandled rejection; the refused re-subscription is logged; status refused', async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
      const logger = {
        debug() {},
        info() {},
        error() {},
        warn(message: string, fields?: Record<string, unknown>) {
          warnings.push({ message, fields });
        },
      };
      const cache = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: 'ar:',
        username: 'bususer',
        password: 'pw',
        commandTimeout: 2000,
      });
      const bus = createRedisInvalidationBus({ client: cache.client, channel: 'ar-inv', logger });
      let reconnects = 0;
      try {
        await bus.subscribe(
          () => {},
          () => {
            reconnects++;
          },
        );
        // Redis closes the connections subscribed to a channel the user may no longer use.
        await redisCommand(redis.port, ['ACL', 'SETUSER', 'bususer', 'resetchannels']);
        await waitFor(() => reconnects > 0 || rejections.length > 0 || undefined, {
          timeoutMs: 10_000,
          what: 'the subscriber to reconnect',
        });
        // Any unhandled rejection of that SUBSCRIBE comes within a turn or two of its reply.
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(
          rejections.map((r) => String((r as Error)?.message ?? r)),
          [],
        );
        const about = warnings.filter((w) => /SUBSCRIBE refused again/.test(w.message));
        assert.equal(about.length, 1, JSON.stringify(warnings));
        assert.match(String(about[0]!.fields?.error), /NOPERM/);
        assert.match(String(about[0]!.fields?.error), /aclRules\(\{ busChannel \}\)/);
        assert.equal(bus.status, 'refused');
      } finally {
        await bus.close();
        await cache.close();
        process.off('unhandledRejection', onRejection);
      }
    });

    it('a bus whose first SUBSCRIBE is refused: status refused, not ready', async () => {
      await redisCommand(redis.port, [
        'ACL',
        'SETUSER',
        'nosub',
        'on',
        '>pw',
        '+@all',
        '-subscribe',
        '~*',
        '&*',
      ]);
      const cache = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        username: 'nosub',
        password: 'pw',
        commandTimeout: 2000,
      });
      const bus = createRedisInvalidationBus({ client: cache.client, channel: 'ar-inv' });
      try {
        await assert.rejects(
          bus.subscribe(
            () => {},
            () => {},
          ),
          /NOPERM/,
        );
        assert.equal(bus.status, 'refused');
      } finally {
        await bus.close();
        await cache.close();
      }
    });

    it('a bus that only publishes (its user may not SUBSCRIBE) says nothing of SUBSCRIBE after a reconnect', async () => {
      // It subscribed at its first reconnect all the same, and then logged "SUBSCRIBE refused
      // again" and said `refused` for a subscription nobody asked for.
      const rules = aclRules({ keyPrefix: 'po:', mode: 'standalone', busChannel: 'po-inv' });
      await redisCommand(redis.port, ['ACL', 'SETUSER', 'pubonly', 'on', '>pw', ...rules, '-subscribe']);
      const warnings: string[] = [];
      const logger = {
        debug() {},
        info() {},
        error() {},
        warn(message: string) {
          warnings.push(message);
        },
      };
      const cache = createRedisCache({
        addresses: [`127.0.0.1:${redis.port}`],
        keyPrefix: 'po:',
        username: 'pubonly',
        password: 'pw',
        commandTimeout: 2000,
      });
      const bus = createRedisInvalidationBus({ client: cache.client, channel: 'po-inv', logger });
      try {
        await bus.publish({ origin: 'job', keys: ['a'] });
        // The publish waits for the cache's connection only; the bus's own subscriber connection,
        // made after it, may still be in its handshake (status `connect`) when the publish returns.
        await waitFor(() => bus.status === 'ready' || bus.status === 'refused', {
          timeoutMs: 10_000,
          what: "the bus's subscriber to connect",
        });
        assert.equal(bus.status, 'ready');
        // Every connection of the user is closed: the bus's subscriber reconnects.
        const clients = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
        const busConnections = clients
          .split('\n')
          .filter((l) => /user=pubonly/.test(l) && /name=\S*:bus/.test(l));
        assert.equal(busConnections.length, 1, clients);
        await redisCommand(redis.port, ['CLIENT', 'KILL', 'USER', 'pubonly']);
        await waitFor(
          async () => {
            const now = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
            const reconnected = now.split('\n').some((l) => /user=pubonly/.test(l) && /name=\S*:bus/.test(l));
            return reconnected && (bus.status === 'ready' || bus.status === 'refused') ? true : undefined;
          },
          { timeoutMs: 10_000, what: "the bus's subscriber to reconnect" },
        );
        // A SUBSCRIBE sent at the reconnect is refused within a round trip: a second is ample.
        await bus.publish({ origin: 'job', keys: ['b'] });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        assert.deepEqual(
          warnings.filter((w) => /SUBSCRIBE/.test(w)),
          [],
        );
        assert.equal(bus.status, 'ready');
      } finally {
        await bus.close();
        await cache.close();
      }
    });
  },
);
