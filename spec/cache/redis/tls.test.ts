/**
 * Redis over TLS on real standalone servers with a throwaway CA (spec/harness/tls.ts): verified
 * connections (CA + hostname/IP check), mutual TLS with an encrypted client key, and the failures
 * that must surface fast as a CacheError naming the fault — wrong CA, expired certificate,
 * certificate for another host, TLS to a plain-text port, missing client certificate, wrong key
 * passphrase, wrong password. Each failure's time to surface is printed (`# surfaced`), and the
 * client must not redial in a storm while the fault lasts.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  Server as NetServer,
  type Socket,
} from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type ConnectionOptions, createSecureContext, TLSSocket, connect as tlsConnect } from 'node:tls';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import {
  classifyConnectionError,
  FAULT_RETRY_MS,
  HANDSHAKE_FLOOR_MS,
  HANDSHAKE_MS,
  handshakeBound,
  RESETS_AFTER_HANDSHAKE,
} from '../../../lib/cache/redis/tls.js';
import { CacheError, ConfigError } from '../../../lib/core/errors.js';
import { startAll } from '../../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { dec, enc, watchUnhandled } from './helpers.js';

const PASSWORD = 'tls-test-password';
/** Far above every bound below: a failure that waited for it would be obvious. */
const COMMAND_TIMEOUT = 8000;
/**
 * A fault must surface well within this (ms): half the command timeout, so it surfaced rather than
 * timed out (idle, faults take 8–80 ms; a loaded CI machine has taken 1.7 s).
 */
const FAST = 4000;

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
    [good, mtls, expired, wrongHost, plain] = await startAll([
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
    // health() names the fault too (it said only `not connected to … (connect)`).
    const h = await cache.health();
    assert.equal(h.ok, false);
    assert.match(String(h.error), pattern, `${what}: health error ${h.error}`);
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

  it('rejectUnauthorized: false connects to a certificate of another CA and another host, and warns once at creation', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (message: string) => warnings.push(message),
      error() {},
      child: () => logger,
    };
    // Verification off for the data nodes, and in sentinel mode for the sentinels alone.
    const cache = make(wrongHost, { ca: pki.otherCa.certPem, rejectUnauthorized: false }, { logger });
    assert.equal(await cache.set('u', enc('unverified')), true);
    const sentinel = createRedisCache({
      mode: 'sentinel',
      addresses: ['127.0.0.1:1'],
      sentinel: { masterName: 'm', tls: { rejectUnauthorized: false } },
      tls: { ca: pki.ca.certPem },
      logger,
    });
    caches.push(sentinel);
    const verified = make(good, { ca: pki.ca.certPem }, { logger });
    assert.equal(await verified.set('v', enc('verified')), true);
    // (The sentinel set that is not there adds connection warnings of its own.)
    assert.deepEqual(
      warnings
        .filter((w) => w.includes('rejectUnauthorized'))
        .map((w) => /^redis: (tls|sentinel\.tls) has rejectUnauthorized: false, .*not verified/.exec(w)?.[1]),
      ['tls', 'sentinel.tls'],
      warnings.join('\n'),
    );
  });

  it('rejectUnauthorized: false without a logger is a process warning, not silence', async () => {
    const seen: { message: string; code?: string; type: string }[] = [];
    const onWarning = (w: Error & { code?: string }) =>
      seen.push({ message: w.message, code: w.code, type: w.name });
    process.on('warning', onWarning);
    try {
      const cache = make(wrongHost, { ca: pki.otherCa.certPem, rejectUnauthorized: false });
      assert.equal(await cache.set('w', enc('unverified')), true);
      await new Promise((r) => setImmediate(r)); // 'warning' is emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    const tls = seen.filter((w) => w.code === 'HYPERION_REDIS_TLS');
    assert.equal(tls.length, 1, JSON.stringify(seen));
    assert.equal(tls[0]?.type, 'HyperionCacheWarning');
    assert.match(tls[0]?.message ?? '', /^redis: tls has rejectUnauthorized: false, .*not verified/);
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
      // The handshake bound (2 s), not the 5 s dial timeout nor the command timeout: 2 s of slack
      // (it was 1 s), what a loaded machine adds (see FAST).
      HANDSHAKE_MS + 2000,
    );
  });

  it('TLS to a plain-text port with a dial timeout at or under the handshake bound: still diagnosed', async () => {
    // iovalkey's connect timer (dialTimeout) used to end the silent handshake first ("connect
    // ETIMEDOUT"): the fault was never seen, and every command waited for the whole command timeout.
    for (const dialTimeout of [1000, HANDSHAKE_MS]) {
      await failsFast(
        `TLS to a plain port, dialTimeout ${dialTimeout}`,
        plain,
        { ca: pki.ca.certPem },
        /did not answer with TLS/,
        { dialTimeout },
        // Diagnosed at 0.8 × dialTimeout (0.8 s, 1.6 s idle): FAST still tells that from the
        // command timeout; dialTimeout + 1.5 s was under what a loaded machine adds (see FAST).
        FAST,
      );
    }
  });

  it('plain text to a TLS port: diagnosed from the resets as a TLS-only port, not a wait for the command timeout', async () => {
    // A TLS-only Redis resets a plain-text client at its first command. Each attempt used to be
    // redialled, and every command waited the command timeout: "not connected within 3000 ms: read
    // ECONNRESET". Two resets in a row, with no connection ever ready, are now the fault.
    const cache = make(good, false, { commandTimeout: 3000 });
    for (let i = 0; i < 2; i++) {
      const start = performance.now();
      const err = await cache.get('k').then(
        () => assert.fail('plain text to a TLS port succeeded'),
        (e: unknown) => e as CacheError,
      );
      assert.ok(err instanceof CacheError, String(err));
      assert.equal(err.code, 'unavailable');
      assert.match(
        err.message,
        /reset \d+ plain-text connections in a row before any reply: a TLS-only port\?/,
      );
      assert.doesNotMatch(err.message, /not connected within/);
      assert.equal((err.cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
      console.log(
        `# surfaced: plain text to a TLS port: ${(performance.now() - start).toFixed(0)} ms — ${err.message}`,
      );
    }
    const h = await cache.health();
    assert.equal(h.ok, false);
    assert.match(String(h.error), /TLS-only port\?/);
  });

  it('TLS to a plain-text port with a command timeout under the handshake bound: the first error names it', async () => {
    // At commandTimeout 1000 the 2 s handshake bound used to outlast the first command's wait for a
    // connection: the first error was a bare "not connected within 1000 ms", no cause, no TLS.
    assert.equal(handshakeBound(5000, 1000), 800);
    assert.equal(handshakeBound(5000, 3000), HANDSHAKE_MS);
    assert.equal(handshakeBound(1000, 3000), 800);
    assert.equal(handshakeBound(5000, 10), HANDSHAKE_FLOOR_MS);
    const cache = make(plain, { ca: pki.ca.certPem }, { commandTimeout: 1000 });
    const err = await cache.get('k').then(
      () => assert.fail('TLS to a plain port succeeded'),
      (e: unknown) => e as CacheError,
    );
    assert.ok(err instanceof CacheError, String(err));
    assert.equal(err.code, 'unavailable');
    assert.match(err.message, /did not answer with TLS/);
    assert.ok(err.cause !== undefined, 'the error has a cause');
  });

  it('mutual TLS required but no client certificate: fails fast, every time', async () => {
    // The refusal races the client's first command (see RESETS_AFTER_HANDSHAKE): most fresh clients
    // used to see only resets and took seconds of retries; each of these must surface fast.
    for (let i = 0; i < 8; i++)
      await failsFast(
        `no client certificate #${i + 1}`,
        mtls,
        { ca: pki.ca.certPem },
        /refused the client certificate/,
      );
  });

  it("mutual TLS with an expired client certificate: the server's alert is a client-certificate fault", async () => {
    // The alert Redis sends, as the client reads it when it arrives before the first command
    // (over a network it usually does). It used to match no fault: each connection was redialled
    // at the normal pace, and unless two resets in a row won the race, commands waited the timeout.
    const alert = await new Promise<Error>((resolve, reject) => {
      const socket = tlsConnect({
        host: mtls.host,
        port: mtls.port,
        ca: pki.ca.certPem,
        cert: pki.expiredClient.certPem,
        key: pki.expiredClient.keyPem,
      });
      const timer = setTimeout(() => reject(new Error('no alert within 5 s')), 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        resolve(err);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed without an alert'));
      });
    });
    assert.match(alert.message, /alert certificate expired/);
    const fault = classifyConnectionError(alert);
    assert.equal(fault?.kind, 'tls_client_certificate');
    assert.match(fault?.reason ?? '', /refused the client certificate: it has expired/);
    // Through the cache: fails fast naming the client certificate (whichever the race shows).
    await failsFast(
      'expired client certificate',
      mtls,
      { ca: pki.ca.certPem, cert: pki.expiredClient.certPem, key: pki.expiredClient.keyPem },
      /refused the client certificate/,
    );
  });

  it('a TLS server that resets every connection right after the handshake: diagnosed, redials slowly', async (t) => {
    const server = resettingTlsServer(pki, () => undefined);
    const port = await listenOn(server);
    t.after(() => server.close());
    const cache = make({ host: '127.0.0.1', port } as RedisStandalone, { ca: pki.ca.certPem });
    const start = performance.now();
    const err = await cache.get('k').then(
      () => assert.fail('get succeeded'),
      (e: CacheError) => e,
    );
    const ms = performance.now() - start;
    assert.equal(err.code, 'unavailable', err.message);
    assert.match(
      err.message,
      new RegExp(`closed ${RESETS_AFTER_HANDSHAKE} connections in a row right after the TLS handshake`),
    );
    assert.match(err.message, /refused the client certificate/);
    assert.ok(ms < FAST, `surfaced after ${ms.toFixed(0)} ms`);
    console.log(`# surfaced: resets right after the handshake: ${ms.toFixed(0)} ms — ${err.message}`);
    assert.equal(
      server.resets,
      RESETS_AFTER_HANDSHAKE,
      'diagnosed at the second reset, no more attempts yet',
    );
    // A diagnosed fault: the client redials once per FAULT_RETRY_MS, not in a storm.
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(
      server.resets <= RESETS_AFTER_HANDSHAKE + Math.ceil(2000 / FAULT_RETRY_MS),
      `${server.resets} resets in all`,
    );
  });

  it('one reset right after the handshake, then a good connection: no fault, the command succeeds', async (t) => {
    // The first connection is reset after its handshake; later ones are piped to the TLS Redis.
    const server = resettingTlsServer(pki, (n) => (n === 1 ? undefined : good.port));
    const port = await listenOn(server);
    t.after(() => server.close());
    const cache = make({ host: '127.0.0.1', port } as RedisStandalone, { ca: pki.ca.certPem });
    assert.equal(await cache.set('one-reset', enc('ok')), true);
    assert.equal(dec(await cache.get('one-reset')), 'ok');
    assert.equal(server.resets, 1);
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

  // OpenSSL says only "bad decrypt" for both, naming neither the key nor the passphrase.
  it('an encrypted key without its passphrase, or with a wrong one: the ConfigError says which', () => {
    const tls = { ca: pki.ca.certPem, cert: pki.clientEncrypted.certPem, key: pki.clientEncrypted.keyPem };
    for (const [passphrase, says] of [
      [undefined, /the key is encrypted and no tls\.passphrase was given/],
      ['not-the-passphrase', /the key is encrypted and tls\.passphrase does not decrypt it/],
    ] as const) {
      assert.throws(
        () => make(mtls, { ...tls, ...(passphrase && { passphrase }) }),
        (e: ConfigError) =>
          e instanceof ConfigError &&
          e.issues.some((i) => i.path === 'tls' && says.test(i.message)) &&
          !e.message.includes('not-the-passphrase'),
      );
    }
    assert.throws(
      () =>
        make(
          mtls,
          { ca: pki.ca.certPem },
          {
            mode: 'sentinel',
            sentinel: { masterName: 'm', tls: { ...tls, passphrase: 'not-the-passphrase' } },
          },
        ),
      (e: ConfigError) =>
        e instanceof ConfigError &&
        e.issues.some(
          (i) => i.path === 'sentinel.tls' && /sentinel\.tls\.passphrase does not decrypt it/.test(i.message),
        ),
    );
  });

  it('a ca holding no readable PEM certificate (a file path, DER, a broken block): ConfigError at creation, as the tracer and /metrics refuse it', () => {
    // Node takes such a ca without a word and trusts no CA: every connection failed as "wrong CA?"
    // while the CA itself was the right one, given as its path (ioredis examples read the file).
    const refused = (ca: string | Buffer, path: string, what: RegExp) =>
      assert.throws(
        () =>
          path === 'tls.ca'
            ? make(good, { ca })
            : make(
                good,
                { ca: pki.ca.certPem },
                { mode: 'sentinel', sentinel: { masterName: 'm', tls: { ca } } },
              ),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues.some((i) => i.path === path && what.test(i.message)) &&
          !e.message.includes(pki.ca.cert),
      );
    refused(pki.ca.cert, 'tls.ca', /holds no PEM certificate.*file path/);
    refused(new X509Certificate(pki.ca.certPem).raw, 'tls.ca', /holds no PEM certificate.*DER/);
    refused('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'tls.ca', /cannot be read/);
    refused(pki.ca.cert, 'sentinel.tls.ca', /holds no PEM certificate/);
    // The PEM text itself, as text or a Buffer, is taken.
    make(good, { ca: pki.ca.certPem });
    make(good, { ca: Buffer.from(pki.ca.certPem) });
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

/**
 * A TCP server that does the TLS handshake itself (the test server certificate) and then resets the
 * connection (RST), or, when `pipeTo(n)` gives a port for the n-th connection, pipes it untouched to
 * that port (a TLS Redis, which does its own handshake).
 */
function resettingTlsServer(pki: TestPki, pipeTo: (n: number) => number | undefined) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => {});
    const target = pipeTo(++connections);
    if (target !== undefined) {
      const up = connect(target, '127.0.0.1');
      up.on('error', () => raw.destroy());
      raw.on('close', () => up.destroy());
      raw.pipe(up).pipe(raw);
      return;
    }
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: createSecureContext({ cert: pki.server.certPem, key: pki.server.keyPem }),
    });
    secure.on('error', () => {});
    secure.once('secure', () => {
      wrapped.resets++;
      raw.resetAndDestroy();
    });
  });
  const wrapped = Object.assign(server, {
    resets: 0,
    close() {
      for (const s of sockets) s.destroy();
      return NetServer.prototype.close.call(server);
    },
  });
  return wrapped;
}

function listenOn(server: NetServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}
