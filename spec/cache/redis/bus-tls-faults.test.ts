/**
 * An invalidation bus whose connection meets a TLS fault (found from outside): only refused
 * credentials rejected the SUBSCRIBE queued for the connection, so with a wrong CA, or plain text
 * to a TLS-only port, `subscribe()` — and so a tiered cache's `ready` — never settled (nor did a
 * `publish()` on the bus's own connections), while the cache over the same client said the fault
 * at once. Now each rejects with CacheError('unavailable') naming the fault, as the README says;
 * Redis merely down still makes them wait (spec/cache/tiered/down-at-start.test.ts). The bus's own
 * connections get the cache's fault watch (handshake bound, reset count, a lasting socket error
 * listener: a second error of one TLS socket was an uncaught exception, 1 run in 15 here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryCache } from '../../../lib/cache/memory/index.js';
import { createRedisCache, createRedisInvalidationBus } from '../../../lib/cache/redis/index.js';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { watchUnhandled } from './helpers.js';

const UNTRUSTED = /TLS: the server certificate is not signed by a trusted CA/;
const TLS_ONLY = /reset \d+ plain-text connections in a row before any reply: a TLS-only port\?/;
/** A hang guard only: without the fix these calls never settled. */
const HANG = { timeout: 30_000 };

function assertFault(err: unknown, op: string, pattern: RegExp): void {
  assert.ok(err instanceof CacheError, `expected a CacheError, got ${String(err)}`);
  assert.equal(err.code, 'unavailable', err.message);
  assert.match(err.message, new RegExp(`^redis invalidation bus: ${op} \\S+ failed: `));
  assert.match(err.message, pattern);
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail('settled without the fault'),
    (err: unknown) => err,
  );

describe('invalidation bus over a connection with a TLS fault', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let redis: RedisStandalone;
  const unhandled = watchUnhandled();
  before(async () => {
    pki = await createTestPki();
    redis = await startRedis({ tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key } });
  });
  after(async () => {
    await redis?.stop();
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  const cacheWith = (tls: { ca: string } | undefined) =>
    createRedisCache({ addresses: [`${redis.host}:${redis.port}`], ...(tls && { tls }) });

  for (const [what, tls, pattern] of [
    ['a wrong CA', () => ({ ca: pki.otherCa.certPem }), UNTRUSTED],
    ['plain text to the TLS-only port', () => undefined, TLS_ONLY],
  ] as const) {
    it(
      `on a cache's client, ${what}: subscribe() and the tiered cache's ready reject naming it`,
      HANG,
      async () => {
        const cache = cacheWith(tls());
        const bus = createRedisInvalidationBus({ client: cache.client });
        const tiered = createTieredCache({
          l1: createMemoryCache({ maxCost: 1000 }),
          l2: cache,
          bus: createRedisInvalidationBus({ client: cache.client }),
        });
        try {
          assertFault(
            await rejection(
              bus.subscribe(
                () => {},
                () => {},
              ),
            ),
            'SUBSCRIBE',
            pattern,
          );
          assertFault(await rejection(tiered.ready), 'SUBSCRIBE', pattern);
          assertFault(await rejection(bus.publish({ origin: 't', keys: ['k'] })), 'PUBLISH', pattern);
        } finally {
          await bus.close();
          await tiered.close();
          await cache.close();
        }
      },
    );
  }

  for (const [what, options, pattern] of [
    ['a wrong CA', () => ({ tls: { ca: pki.otherCa.certPem } }), UNTRUSTED],
    ['plain text to the TLS-only port', () => ({}), TLS_ONLY],
  ] as const) {
    it(`on its own connections, ${what}: subscribe() and publish() reject naming it`, HANG, async () => {
      const bus = createRedisInvalidationBus({ redis: { host: redis.host, port: redis.port, ...options() } });
      try {
        assertFault(
          await rejection(
            bus.subscribe(
              () => {},
              () => {},
            ),
          ),
          'SUBSCRIBE',
          pattern,
        );
        assertFault(await rejection(bus.publish({ origin: 't', keys: ['k'] })), 'PUBLISH', pattern);
      } finally {
        await bus.close();
      }
    });
  }

  it('with the right CA: subscribes, and a message published arrives', HANG, async () => {
    const bus = createRedisInvalidationBus({
      redis: { host: redis.host, port: redis.port, tls: { ca: pki.ca.certPem } },
    });
    try {
      let heard!: (keys: readonly string[] | undefined) => void;
      const arrived = new Promise<readonly string[] | undefined>((resolve) => {
        heard = resolve;
      });
      await bus.subscribe(
        (m) => heard(m.keys),
        () => {},
      );
      await bus.publish({ origin: 't', keys: ['k'] });
      assert.deepEqual(await arrived, ['k']);
    } finally {
      await bus.close();
    }
  });
});
