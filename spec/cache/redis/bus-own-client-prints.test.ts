/**
 * An invalidation bus made from its own `redis` options (no `client`) over a server where
 * iovalkey prints: a password the server does not need, an ACL user without `+info`. Found from
 * outside (/tmp/D14/busopen.mts): each connection of such a bus — publisher and subscriber, and
 * again at every reconnection — printed iovalkey's "[WARN] … does not require a password …" or
 * "Skipping the ready check because INFO command fails …" with `console.warn`, past the bus's
 * `logger` (the cache's own connections, and a bus over a cache's client, said it once through
 * the logger already). Now the bus says each once through its logger and prints nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { waitFor } from '../../harness/process.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';

const PASSWORD = 'bus-own-unneeded-password';

describe('a bus made from its own redis options: iovalkey prints go to its logger', {
  skip: skipRedis(),
}, () => {
  let open: RedisStandalone;
  let acl: RedisStandalone;
  before(async () => {
    open = await startRedis();
    acl = await startRedis({ extraConfig: ['user busapp on >busapp-pw ~* &* +@all -info'] });
  });
  after(async () => {
    await open?.stop();
    await acl?.stop();
  });

  const cases = [
    {
      name: 'a password the server does not need',
      server: () => open,
      redis: () => ({ host: open.host, port: open.port, password: PASSWORD }),
      record: /invalidation bus: a password was given but the server requires none/,
    },
    {
      name: 'an ACL user without +info',
      server: () => acl,
      redis: () => ({ host: acl.host, port: acl.port, username: 'busapp', password: 'busapp-pw' }),
      record: /invalidation bus: the ACL user may not run INFO/,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: one warning through the logger, nothing printed, also after a reconnection`, async () => {
      const warned: string[] = [];
      const logger = { debug() {}, info() {}, warn: (m: string) => warned.push(m), error() {} };
      const printed: unknown[][] = [];
      const consoleWarn = console.warn;
      console.warn = (...args: unknown[]) => {
        printed.push(args);
      };
      try {
        const bus = createRedisInvalidationBus({ redis: c.redis(), channel: 'own:inv', logger });
        try {
          let reconnects = 0;
          await bus.subscribe(
            () => {},
            () => {
              reconnects++;
            },
          );
          await bus.publish({ origin: 'x', keys: ['k'] });
          // Both connections again (each prints on every connection it makes).
          const server = c.server();
          await redisCommand(server.port, ['CLIENT', 'KILL', 'TYPE', 'pubsub'], {});
          await redisCommand(server.port, ['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes'], {});
          await waitFor(() => reconnects > 0, { timeoutMs: 10_000, what: 'the subscriber to reconnect' });
          await bus.publish({ origin: 'x', keys: ['k'] });
        } finally {
          await bus.close();
        }
      } finally {
        console.warn = consoleWarn;
      }
      assert.deepEqual(printed, [], 'printed to the console');
      assert.equal(warned.filter((m) => c.record.test(m)).length, 1, JSON.stringify(warned));
      assert.ok(!warned.join('\n').includes(PASSWORD));
    });
  }
});
