/**
 * The adapter under the least-privilege ACL of lib/cache/redis/acl.ts (standalone; the TLS cluster
 * and sentinel tests run the same workload under the same rules): everything works, `ACL LOG`
 * stays empty, and a command outside the rules is refused with a clear error.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { aclRules, sentinelAclRules } from '../../../lib/cache/redis/acl.js';
import {
  createRedisCache,
  createRedisInvalidationBus,
  type RedisCache,
} from '../../../lib/cache/redis/index.js';
import { defaultLeasePrefix } from '../../../lib/cache/redis/lease.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type RedisStandalone, redisCommand, skipRedis, startRedis } from '../../harness/redis.js';
import { enc, watchUnhandled } from './helpers.js';
import { BUS_CHANNEL, LEASE_PREFIX, runWorkload } from './workload.js';

const ADMIN = 'acl-admin-password';
const APP_USER = 'hyperion-app';
const APP_PASSWORD = 'acl-app-password';
const RULES = aclRules({
  keyPrefix: 'app:',
  mode: 'standalone',
  busChannel: BUS_CHANNEL,
  leasePrefix: LEASE_PREFIX,
});

describe('redis adapter under the least-privilege ACL (standalone)', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  const make = (extra = {}) => {
    const c = createRedisCache({
      addresses: [`${redis.host}:${redis.port}`],
      username: APP_USER,
      password: APP_PASSWORD,
      keyPrefix: 'app:',
      commandTimeout: 8000,
      ...extra,
    });
    caches.push(c);
    return c;
  };
  const admin = (args: string[]) => redisCommand(redis.port, args, { password: ADMIN });

  before(async () => {
    redis = await startRedis({
      password: ADMIN,
      extraConfig: [`user ${APP_USER} on >${APP_PASSWORD} ${RULES.join(' ')}`],
    });
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await redis?.stop();
    unhandled.check();
    unhandled.dispose();
  });

  it('runs the whole adapter surface (cache, transaction, clear, health, bus, lease) with no ACL denial', async () => {
    console.log(`# ACL SETUSER ${APP_USER} on >… ${RULES.join(' ')}`);
    await admin(['ACL', 'LOG', 'RESET']);
    await runWorkload(make(), make());
    const log = (await admin(['ACL', 'LOG'])) as unknown[];
    assert.deepEqual(log, [], `ACL denials: ${JSON.stringify(log)}`);
  });

  it('lib/PRODUCTION.md documents exactly these rules', () => {
    const doc = readFileSync(new URL('../../../lib/PRODUCTION.md', import.meta.url), 'utf8');
    const documented = aclRules({
      keyPrefix: 'app:',
      mode: 'standalone',
      busChannel: 'hyperion:tiered:invalidate',
      leasePrefix: defaultLeasePrefix('app:'),
    });
    assert.ok(
      doc.includes(`ACL SETUSER hyperion-app on >PASSWORD ${documented.join(' ')}\n`),
      'app user rules',
    );
    const tracking = aclRules({ keyPrefix: 'app:', mode: 'standalone', tracking: true });
    assert.ok(
      doc.includes(`ACL SETUSER hyperion-app on >PASSWORD ${tracking.join(' ')}\n`),
      'tracking rules',
    );
    assert.ok(
      doc.includes(`user hyperion-sentinel on >PASSWORD ${sentinelAclRules().join(' ')}\n`),
      'sentinel rules',
    );
  });

  it('a key outside the prefix is refused with a clear NOPERM CacheError', async () => {
    const other = make({ keyPrefix: 'other:' });
    const err = await other.set('k', enc('x')).then(
      () => assert.fail('write outside the prefix succeeded'),
      (e: unknown) => e as CacheError,
    );
    assert.ok(err instanceof CacheError);
    assert.equal(err.code, 'backend');
    assert.match(err.message, /redis set failed .*NOPERM .*keys/);
    console.log(`# refused: ${err.message}`);
  });

  it('an ACL user without +time: a write names the ACL and aclRules(), not only the script error', async () => {
    // The guarded SET runs as a script calling TIME; Redis's refusal inside a script does not name
    // the command ("The user executing the script can't run this command or subcommand script: …").
    await admin(['ACL', 'SETUSER', 'no-time', 'on', '>no-time-pw', ...RULES, '-time']);
    const c = make({ username: 'no-time', password: 'no-time-pw' });
    const err = await c.set('k', enc('x')).then(
      () => assert.fail('write without +time succeeded'),
      (e: unknown) => e as CacheError,
    );
    assert.ok(err instanceof CacheError);
    assert.equal(err.code, 'backend');
    assert.match(err.message, /can't run this command/);
    assert.match(err.message, /refused by the ACL user's rules: the cache needs those of aclRules\(\)/);
    console.log(`# refused: ${err.message}`);
  });

  it('an ACL user without +exec: a transaction names the ACL and aclRules(), and says nothing was applied', async () => {
    // Redis refuses EXEC itself ("EXECABORT Transaction discarded because of: NOPERM …"): the
    // message had neither the pointer to aclRules() other refusals get nor what was applied.
    await admin(['ACL', 'SETUSER', 'no-exec', 'on', '>no-exec-pw', ...RULES, '-exec']);
    const c = make({ username: 'no-exec', password: 'no-exec-pw' });
    const err = await c
      .transaction((tx) => {
        tx.set('tx-k', enc('x'));
      })
      .then(
        () => assert.fail('transaction without +exec succeeded'),
        (e: unknown) => e as CacheError,
      );
    assert.ok(err instanceof CacheError);
    assert.equal(err.code, 'backend');
    assert.match(err.message, /EXECABORT .*NOPERM .*'exec'/);
    assert.match(err.message, /refused by the ACL user's rules: the cache needs those of aclRules\(\)/);
    assert.match(err.message, /\(nothing was applied\)$/);
    assert.equal(await c.get('tx-k'), undefined);
  });

  it('a command outside the rules is refused (FLUSHALL, CONFIG, KEYS)', async () => {
    for (const cmd of [['FLUSHALL'], ['CONFIG', 'GET', 'requirepass'], ['KEYS', '*']]) {
      await assert.rejects(
        redisCommand(redis.port, cmd, { username: APP_USER, password: APP_PASSWORD }),
        (e: Error) => /NOPERM/.test(e.message) && e.message.includes(cmd[0]!.toLowerCase()),
      );
    }
  });

  it('an ACL user without a bus rule: SUBSCRIBE and PUBLISH refusals are CacheErrors naming the bus, a refused publish is logged', async () => {
    const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (message: string, fields?: Record<string, unknown>) => warnings.push({ message, fields }),
      error() {},
      child: () => logger,
    };
    const without = async (rule: string) => {
      const user = `bus-${rule.replace(/\W/g, '')}`;
      await admin([
        'ACL',
        'SETUSER',
        user,
        'reset',
        'on',
        `>${APP_PASSWORD}`,
        ...RULES.filter((r) => r !== rule),
      ]);
      const cache = make({ username: user });
      await cache.get('k'); // connected: the bus publishes on this client
      const bus = createRedisInvalidationBus({ client: cache.client, channel: BUS_CHANNEL, logger });
      return { bus, close: () => bus.close() };
    };
    // Before: SUBSCRIBE's raw ReplyError, and a refused PUBLISH seen by no one (only a counter).
    for (const rule of ['+subscribe', `&${BUS_CHANNEL}`]) {
      const { bus, close } = await without(rule);
      await assert.rejects(
        bus.subscribe(
          () => {},
          () => {},
        ),
        (e: Error) =>
          e instanceof CacheError &&
          e.code === 'backend' &&
          e.message.startsWith(`redis invalidation bus: SUBSCRIBE ${BUS_CHANNEL} refused: NOPERM`) &&
          e.message.includes('aclRules({ busChannel })'),
      );
      await close();
    }
    const { bus, close } = await without('+publish');
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        bus.publish({ origin: 'test', keys: ['app:k'] }),
        (e: Error) =>
          e instanceof CacheError &&
          e.message.startsWith(`redis invalidation bus: PUBLISH ${BUS_CHANNEL} refused: NOPERM`),
      );
    await close();
    const refusals = warnings.filter((w) => /publish refused by the server ACL/.test(w.message));
    assert.equal(refusals.length, 1, JSON.stringify(warnings));
    assert.match(String(refusals[0]?.fields?.error), /NOPERM/);
  });

  it('a wrong ACL password fails fast as an authentication failure', async () => {
    const start = performance.now();
    const bad = make({ password: 'not-the-acl-password' });
    const err = await bad.get('k').then(
      () => assert.fail('get succeeded'),
      (e: unknown) => e as CacheError,
    );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /authentication failed/);
    // Half the 8 s command timeout: it surfaced as the fault rather than waiting the timeout out.
    assert.ok(ms < 4000, `surfaced after ${ms} ms`);
    console.log(`# surfaced: wrong ACL password: ${ms.toFixed(0)} ms — ${err.message}`);
    // health() says why too (it said only `not connected to … (connect)`), without the password.
    const h = await bad.health();
    assert.equal(h.ok, false);
    assert.match(String(h.error), /not connected to .*: authentication failed/);
    assert.doesNotMatch(String(h.error), /not-the-acl-password/);
  });
});

// A refused AUTH leaves the connection logged in as the default user; on a server whose default
// user is open (no requirepass, Redis's own default) iovalkey's ready check then passes, and that
// 'ready' cleared the fault: the client redialled every ~200 ms instead of once per FAULT_RETRY_MS.
describe('wrong ACL credentials on a server whose default user is open', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  const caches: RedisCache[] = [];
  before(async () => {
    redis = await startRedis({
      extraConfig: [
        `user ${APP_USER} on >${APP_PASSWORD} ${RULES.join(' ')}`,
        `user disabled-app off >${APP_PASSWORD} ${RULES.join(' ')}`,
      ],
    });
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await redis?.stop();
  });

  for (const [what, username, password] of [
    ['a wrong ACL password', APP_USER, 'not-the-acl-password'],
    ['a disabled ACL user', 'disabled-app', APP_PASSWORD],
  ] as const) {
    it(`${what}: an authentication failure for every command, redialling slowly`, async () => {
      const cache = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        username,
        password,
        keyPrefix: 'app:',
        commandTimeout: 8000,
      });
      caches.push(cache);
      let connects = 0;
      cache.client.on('connect', () => connects++);
      const messages = new Set<string>();
      const start = performance.now();
      // Commands spread over 2 s (bounded in count and time), each failing as the fault.
      for (let i = 0; i < 40 && performance.now() - start < 2000; i++) {
        await cache.get('k').then(
          () => assert.fail('get succeeded'),
          (e: CacheError) => messages.add(`${e.code}: ${e.message}`),
        );
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(
        [...messages],
        [
          // The node is named, as in every other CacheError (it used to be missing from these).
          `unavailable: redis get failed (${redis.host}:${redis.port}): authentication failed: the server refused the username/password (check the ACL user)`,
        ],
      );
      assert.ok(connects <= 1, `${connects} connections in 2 s`);
    });
  }
});

// An ACL user without +info: iovalkey skips its ready check (INFO) and said so with console.warn
// on every connection, past the cache's logger. The cache now says it once, through its logger.
describe('an ACL user without +info', { skip: skipRedis() }, () => {
  let redis: RedisStandalone;
  const NO_INFO_USER = 'no-info-app';
  before(async () => {
    const rules = aclRules({ keyPrefix: 'app:', mode: 'standalone' }).filter((r) => r !== '+info');
    redis = await startRedis({
      extraConfig: [`user ${NO_INFO_USER} on >${APP_PASSWORD} ${rules.join(' ')}`],
    });
  });
  after(async () => {
    await redis?.stop();
  });

  it('works, logs the skipped ready check once through its logger, and prints nothing to the console', async () => {
    const warned: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(message: string, fields?: Record<string, unknown>) {
        warned.push({ message, fields });
      },
      error() {},
      child: () => logger,
    };
    const printed: unknown[][] = [];
    const consoleWarn = console.warn;
    console.warn = (...args: unknown[]) => {
      printed.push(args);
    };
    try {
      const cache = createRedisCache({
        addresses: [`${redis.host}:${redis.port}`],
        username: NO_INFO_USER,
        password: APP_PASSWORD,
        keyPrefix: 'app:',
        commandTimeout: 8000,
        logger,
      });
      try {
        await cache.set('k', enc('v'));
        assert.equal(Buffer.from((await cache.get('k'))!).toString(), 'v');
        // A transaction runs on connections of its own (duplicates of the client's).
        const r = await cache.transaction((t) => {
          t.set('t', enc('1')).get('t');
        });
        assert.equal(r.ok, true);
        const h = await cache.health();
        assert.equal(h.ok, true, h.error);
      } finally {
        await cache.close();
      }
    } finally {
      console.warn = consoleWarn;
    }
    assert.deepEqual(printed, [], 'nothing printed to the console');
    const notes = warned.filter((w) => /may not run INFO/.test(w.message));
    assert.equal(notes.length, 1, JSON.stringify(warned));
    assert.match(String(notes[0]!.fields?.error), /NOPERM .*'info'/);
  });
});
