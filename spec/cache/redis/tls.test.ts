/**
 * Redis over TLS on real standalone servers with a throwaway CA (spec/harness/tls.ts): verified
 * connections (CA + hostname/IP check), mutual TLS with an encrypted client key, and the failures
 * that must surface fast as a CacheError naming the fault — wrong CA, expired certificate,
 * certificate for another host, TLS to a plain-text port, missing client certificate, wrong key
 * passphrase, wrong password. Each failure's time to surface is printed (`# surfaced`), and the
 * client must not redial in a storm while the fault lasts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionOptions } from 'node:tls';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { FAULT_RETRY_MS, HANDSHAKE_MS } from '../../../lib/cache/redis/tls.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const PASSWORD = 'tls-test-password';
/** Far above every bound below: a failure that waited for it would be obvious. */
const COMMAND_TIMEOUT = 8000;
/** A fault must surface well within this (ms). */
const FAST = 1500;

describe('redis over TLS (standalone)', { skip: skipRedis() || skipOpenssl() }, () => {
  let pki: TestPki;
  let good: RedisStandalone;
  let mtls: RedisStandalone;
  let expired: RedisStandalone;
  let wrongHost: RedisStandalone;
  let plain: RedisStandalone;
  const caches: RedisCache[] = [];
  const unhandled = watchUnhandled();
  const make = (server: RedisStandalone, tls: boolean | ConnectionOptions, extra = {}) => {
    const c = createRedisCache({
      addresses: [`${server.host}:${server.port}`],
      password: PASSWORD,
      tls,
      commandTimeout: COMMAND_TIMEOUT,
      ...extra,
    });
    caches.push(c);
    return c;
  };

  before(async () => {
    pki = await createTestPki({ passphrase: 'client-key-passphrase' });
    const tls = (cert: { cert: string; key: string }, authClients: 'yes' | 'no' = 'no') => ({
      ca: pki.ca.cert,
      cert: cert.cert,
      key: cert.key,
      authClients,
    });
    [good, mtls, expired, wrongHost, plain] = await Promise.all([
      startRedis({ password: PASSWORD, tls: tls(pki.server) }),
      startRedis({ password: PASSWORD, tls: tls(pki.server, 'yes') }),
      startRedis({ password: PASSWORD, tls: tls(pki.expired) }),
      startRedis({ password: PASSWORD, tls: tls(pki.wrongHost) }),
      startRedis({ password: PASSWORD }),
    ]);
  });
  after(async () => {
    await Promise.allSettled(caches.map((c) => c.close()));
    await Promise.allSettled([good, mtls, expired, wrongHost, plain].map((s) => s?.stop()));
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  /** Runs a `get` on a fresh cache, expects a CacheError matching `pattern`; returns ms taken. */
  async function failsFast(
    what: string,
    server: RedisStandalone,
    tls: boolean | ConnectionOptions,
    pattern: RegExp,
    extra = {},
    within = FAST,
  ): Promise<RedisCache> {
    const start = performance.now();
    const cache = make(server, tls, extra);
    const err = await cache.get('k').then(
      () => assert.fail(`${what}: get succeeded`),
      (e: unknown) => e,
    );
    const ms = performance.now() - start;
    assert.ok(err instanceof CacheError, `${what}: ${String(err)}`);
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, pattern, what);
    assert.ok(ms < within, `${what} surfaced after ${ms.toFixed(0)} ms`);
    console.log(`# surfaced: ${what}: ${ms.toFixed(0)} ms — ${err.message}`);
    // Later callers fail at once too (no wait for the command timeout).
    const again = performance.now();
    await assert.rejects(cache.get('k'), (e: CacheError) => pattern.test(e.message));
    assert.ok(performance.now() - again < 100, `${what}: second call waited`);
    return cache;
  }

  it('connects with the private CA and checks the IP against the certificate', async () => {
    const cache = make(good, { ca: pki.ca.certPem });
    assert.equal(await cache.set('a', enc('over tls')), true);
    assert.equal(dec(await cache.get('a')), 'over tls');
    const h = await cache.health();
    assert.equal(h.ok, true, h.error);
    // The socket really is TLS, and verified.
    const stream = (cache.client as unknown as { stream: { encrypted?: boolean; authorized?: boolean } })
      .stream;
    assert.equal(stream.encrypted, true);
    assert.equal(stream.authorized, true);
  });

  it('also accepts the CA by name of host (localhost is in the certificate)', async () => {
    const cache = createRedisCache({
      addresses: [`localhost:${good.port}`],
      password: PASSWORD,
      tls: { ca: pki.ca.certPem },
      commandTimeout: COMMAND_TIMEOUT,
    });
    caches.push(cache);
    assert.equal(await cache.set('b', enc('1')), true);
  });

  it('mutual TLS: a client certificate with an encrypted key and its passphrase', async () => {
    const cache = make(mtls, {
      ca: pki.ca.certPem,
      cert: pki.clientEncrypted.certPem,
      key: pki.clientEncrypted.keyPem,
      passphrase: pki.passphrase,
    });
    assert.equal(await cache.set('m', enc('mtls')), true);
    assert.equal(dec(await cache.get('m')), 'mtls');
  });

  it('wrong CA: fails fast as untrusted, and redials slowly', async () => {
    const cache = await failsFast(
      'wrong CA',
      good,
      { ca: pki.otherCa.certPem },
      /not signed by a trusted CA/,
    );
    // No retry storm: while the fault lasts the client redials once per FAULT_RETRY_MS.
    let redials = 0;
    const count = () => redials++;
    cache.client.on('reconnecting', count);
    await new Promise((r) => setTimeout(r, 2000));
    cache.client.off('reconnecting', count);
    assert.ok(redials <= Math.ceil(2000 / FAULT_RETRY_MS), `${redials} redials in 2 s`);
  });

  it('system CAs only (tls: true) against a private CA: untrusted', async () => {
    await failsFast('tls: true with a private CA', good, true, /not signed by a trusted CA/);
  });

  it('expired server certificate: fails fast as expired', async () => {
    await failsFast('expired certificate', expired, { ca: pki.ca.certPem }, /expired/);
  });

  it('certificate for another host: fails fast as a host mismatch', async () => {
    await failsFast('wrong-host certificate', wrongHost, { ca: pki.ca.certPem }, /does not name the host/);
  });

  it('TLS to a plain-text port: fails once the handshake bound passes', async () => {
    // A plain Redis never answers a ClientHello: the handshake guard (HANDSHAKE_MS) ends the wait.
    await failsFast(
      'TLS to a plain port',
      plain,
      { ca: pki.ca.certPem },
      /did not answer with TLS/,
      {},
      HANDSHAKE_MS + 1000,
    );
  });

  it('plain text to a TLS port: the server drops the connection (surfaces as unavailable)', async () => {
    const start = performance.now();
    const cache = make(good, false, { commandTimeout: 3000 });
    const err = await cache.get('k').then(
      () => assert.fail('plain text to a TLS port succeeded'),
      (e: unknown) => e as CacheError,
    );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /ECONNRESET.*is `tls` needed\?/);
    console.log(`# surfaced: plain text to a TLS port: ${ms.toFixed(0)} ms — ${err.message}`);
  });

  it('mutual TLS required but no client certificate: fails fast', async () => {
    await failsFast('no client certificate', mtls, { ca: pki.ca.certPem }, /refused the client certificate/);
  });

  it('wrong key passphrase or a key of another certificate: ConfigError at creation', () => {
    const start = performance.now();
    const tls = { ca: pki.ca.certPem, cert: pki.clientEncrypted.certPem, key: pki.clientEncrypted.keyPem };
    assert.throws(
      () => make(mtls, { ...tls, passphrase: 'not-the-passphrase' }),
      (e: ConfigError) => e instanceof ConfigError && /TLS material cannot be loaded/.test(e.message),
    );
    assert.throws(
      () => make(mtls, { ...tls, key: pki.client.keyPem }),
      (e: ConfigError) =>
        e instanceof ConfigError && /tls/.test(e.message) && !e.message.includes('PRIVATE KEY'),
    );
    console.log(
      `# surfaced: wrong key passphrase / mismatched key: ${(performance.now() - start).toFixed(0)} ms (ConfigError)`,
    );
  });

  it('wrong password over TLS: fails fast as an authentication failure', async () => {
    await failsFast('wrong password', good, { ca: pki.ca.certPem }, /authentication failed/, {
      password: 'not-the-password',
    });
  });

  it('a fault clears once a connection succeeds (no restart needed)', async () => {
    // Accepting any certificate shows the gate reopens; the fault state is per attempt.
    const cache = make(good, { ca: pki.ca.certPem });
    assert.equal(await cache.set('c', enc('ok')), true);
    assert.equal((await cache.health()).ok, true);
  });
});
