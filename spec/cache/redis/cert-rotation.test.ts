/**
 * A server certificate replaced by an expired one while a command is on the wire (found from
 * outside, /tmp probe): the servers load the new certificate (`CONFIG SET tls-cert-file …`) and
 * drop the client's connections; every reconnection then fails the certificate check. The command
 * in flight must fail at once naming that fault, like the commands after it:
 *
 * - standalone: it waited for a resend until the command timeout ("Command timed out"), fixed with
 *   the password rotation case (password-rotation.test.ts);
 * - cluster: it failed fast but read only "Cluster isn't ready and enableOfflineQueue options is
 *   false", saying nothing of the certificate.
 *
 * `CLIENT PAUSE … WRITE` keeps the guarded SET on the wire until the connection is cut.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
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
import { enc, rejectsWith, sleep, watchUnhandled } from './helpers.js';

/** Far above the time a fault takes to surface (ms). */
const COMMAND_TIMEOUT = 10_000;
const EXPIRED = /TLS: the server certificate has expired/;

describe('server certificate replaced by an expired one with a command in flight', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let serverTls: { ca: string; cert: string; key: string };
  let standalone: RedisStandalone;
  let cluster: RedisCluster;
  const unhandled = watchUnhandled();
  const admin = (port: number, args: (string | number)[]) =>
    redisCommand(port, args, { tls: adminTls(serverTls) });

  before(async () => {
    pki = await createTestPki();
    serverTls = { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key };
    [standalone, cluster] = await Promise.all([
      startRedis({ tls: serverTls }),
      startRedisCluster({ tls: serverTls }),
    ]);
  });
  after(async () => {
    unhandled.dispose();
    await Promise.allSettled([standalone?.stop(), cluster?.stop()]);
    await pki?.remove();
  });

  /** Pauses writes on `writers`, starts a SET, swaps every node's certificate, cuts the clients. */
  async function inFlightAcrossRotation(
    cache: ReturnType<typeof createRedisCache>,
    writers: readonly { port: number }[],
    nodes: readonly { port: number }[],
  ) {
    await cache.set('k', enc('v1'));
    for (const w of writers) await admin(w.port, ['CLIENT', 'PAUSE', 30_000, 'WRITE']);
    try {
      const inFlight = cache.set('k', enc('v2'));
      inFlight.catch(() => {});
      // Until a paused server holds the SET (bounded: 200 × 10 ms).
      for (let i = 0; ; i++) {
        const lists = await Promise.all(
          writers.map((w) => admin(w.port, ['CLIENT', 'LIST', 'TYPE', 'normal'])),
        );
        if (lists.some((l) => /cmd=eval/.test(String(l)))) break;
        assert.ok(i < 200, 'the SET never reached a server');
        await sleep(10);
      }
      for (const n of nodes)
        await admin(n.port, [
          'CONFIG',
          'SET',
          'tls-cert-file',
          pki.expired.cert,
          'tls-key-file',
          pki.expired.key,
        ]);
      for (const n of nodes) await admin(n.port, ['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
      const err = await rejectsWith(inFlight, 'unavailable');
      assert.match(err.message, EXPIRED, err.message);
      const later = await rejectsWith(cache.get('k'), 'unavailable');
      assert.match(later.message, EXPIRED, later.message);
    } finally {
      for (const w of writers) await admin(w.port, ['CLIENT', 'UNPAUSE']).catch(() => {});
      for (const n of nodes)
        await admin(n.port, [
          'CONFIG',
          'SET',
          'tls-cert-file',
          pki.server.cert,
          'tls-key-file',
          pki.server.key,
        ]);
    }
  }

  it('standalone: the SET in flight fails naming the expired certificate', async () => {
    const cache = createRedisCache({
      addresses: [`${standalone.host}:${standalone.port}`],
      tls: { ca: pki.ca.certPem },
      commandTimeout: COMMAND_TIMEOUT,
    });
    try {
      await inFlightAcrossRotation(cache, [standalone], [standalone]);
    } finally {
      await cache.close();
    }
  });

  it('cluster: the SET in flight fails naming the expired certificate', async () => {
    const cache = createRedisCache({
      mode: 'cluster',
      addresses: cluster.nodes.map((n) => `${n.host}:${n.port}`),
      tls: { ca: pki.ca.certPem },
      commandTimeout: COMMAND_TIMEOUT,
    });
    try {
      await inFlightAcrossRotation(cache, cluster.masters, cluster.nodes);
    } finally {
      await cache.close();
    }
    unhandled.check();
  });
});
