/**
 * An injected iovalkey client with TLS settings of its own (`client`, the cache's `tls` option
 * unset), shared by two caches: its connection faults are named as for a client the cache builds.
 *
 * Found from outside (/tmp/sharedclient/stand.mts), two defects of the fault watch (./tls.ts):
 * - it took the client for plain text (it read only the cache's `tls` option): a server refusing
 *   the client certificate (resets right after the handshake) was diagnosed "the server reset 2
 *   plain-text connections in a row …: a TLS-only port? (set `tls`)" — for a TLS client;
 * - the client's first connection, begun in iovalkey's constructor before any cache wrapped its
 *   connector, had no handshake bound: TLS to a plain-text port waited iovalkey's connect timeout
 *   (10 s), so every cache's first command failed with a bare "not connected within … ms" (in
 *   sentinel mode too, where that connection is made once a sentinel named the master).
 *
 * Local servers only (no Redis needed): one that completes the TLS handshake and then resets each
 * connection, one that accepts TCP and never answers, and a fake sentinel naming the latter.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createSecureContext, TLSSocket } from 'node:tls';
import { Redis } from 'iovalkey';
import { createRedisCache, type RedisCache } from '../../../lib/cache/redis/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { createTestPki, skipOpenssl, type TestPki } from '../../harness/tls.js';
import { watchUnhandled } from './helpers.js';

/** Far above the time a diagnosed fault takes (the 2 s handshake bound at most). */
const COMMAND_TIMEOUT = 6000;

async function getError(cache: RedisCache): Promise<CacheError> {
  try {
    await cache.get('k');
  } catch (err) {
    assert.ok(err instanceof CacheError, String(err));
    return err;
  }
  assert.fail(`${cache.keyPrefix}: get succeeded`);
}

/** A TCP server on loopback; `onSocket` gets each connection. */
async function listen(onSocket: (socket: Socket) => void): Promise<Server & { sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(server, { sockets });
}

async function stop(server: (Server & { sockets: Set<Socket> }) | undefined): Promise<void> {
  if (!server) return;
  for (const s of server.sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
}

describe('an injected TLS client shared by two caches', { skip: skipOpenssl() }, () => {
  let pki: TestPki;
  let resetting: (Server & { sockets: Set<Socket> }) | undefined;
  let silent: (Server & { sockets: Set<Socket> }) | undefined;
  const unhandled = watchUnhandled();
  before(async () => {
    pki = await createTestPki();
    // Completes the TLS handshake, then resets (what a server refusing the client certificate
    // often looks like in TLS 1.3, its alert unread).
    resetting = await listen((raw) => {
      const secure = new TLSSocket(raw, {
        isServer: true,
        secureContext: createSecureContext({ cert: pki.server.certPem, key: pki.server.keyPem }),
      });
      secure.on('error', () => {});
      secure.once('secure', () => raw.resetAndDestroy());
    });
    // A plain-text port that never answers a TLS ClientHello (as Redis does).
    silent = await listen(() => {});
  });
  after(async () => {
    await stop(resetting);
    await stop(silent);
    await pki?.remove();
    unhandled.check();
    unhandled.dispose();
  });

  const twoCaches = async (server: Server | undefined, check: (e: CacheError) => void) => {
    const { port } = (server as Server).address() as AddressInfo;
    const client = new Redis({
      host: '127.0.0.1',
      port,
      tls: { ca: pki.ca.certPem },
      commandTimeout: COMMAND_TIMEOUT,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    const caches = ['a:', 'b:'].map((keyPrefix) =>
      createRedisCache({ client, keyPrefix, commandTimeout: COMMAND_TIMEOUT }),
    );
    try {
      for (const err of await Promise.all(caches.map(getError))) {
        assert.equal(err.code, 'unavailable');
        check(err);
      }
    } finally {
      await Promise.all(caches.map((c) => c.close()));
      client.disconnect();
    }
  };

  it('resets after the handshake: the client certificate, not "set `tls`"', () =>
    twoCaches(resetting, (err) => {
      assert.match(err.message, /refused the client certificate/);
      assert.doesNotMatch(err.message, /set `tls`|is `tls` needed/);
    }));

  it('TLS to a silent plain-text port: named by the handshake bound, not a bare timeout', () =>
    twoCaches(silent, (err) => assert.match(err.message, /did not answer with TLS/)));

  it('sentinel mode, TLS to a silent plain-text master: named by the handshake bound', async () => {
    // The master's first connection is made once a sentinel named it, long after the cache
    // wrapped the connector's connect (iovalkey called it in its constructor).
    const { port: masterPort } = (silent as Server).address() as AddressInfo;
    const sentinel = await fakeSentinel(masterPort);
    const { port } = sentinel.address() as AddressInfo;
    const client = new Redis({
      sentinels: [{ host: '127.0.0.1', port }],
      name: 'mymaster',
      tls: { ca: pki.ca.certPem },
      enableTLSForSentinelMode: true,
      commandTimeout: COMMAND_TIMEOUT,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    const caches = ['a:', 'b:'].map((keyPrefix) =>
      createRedisCache({ client, keyPrefix, commandTimeout: COMMAND_TIMEOUT }),
    );
    try {
      for (const err of await Promise.all(caches.map(getError)))
        assert.match(err.message, /at the master: TLS: the server did not answer with TLS/);
    } finally {
      await Promise.all(caches.map((c) => c.close()));
      client.disconnect();
      await stop(sentinel);
    }
  });
});

/**
 * A sentinel that names 127.0.0.1:`masterPort` as the master of any name, knows no other sentinel
 * and answers every other command `+OK` (enough for iovalkey's master lookup).
 */
function fakeSentinel(masterPort: number) {
  return listen((socket) => {
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const parsed = parseCommand(pending);
        if (!parsed) return;
        pending = pending.slice(parsed.length);
        const [name, sub] = parsed.args.map((a) => a.toLowerCase());
        if (name === 'sentinel' && sub === 'get-master-addr-by-name') {
          const p = String(masterPort);
          socket.write(`*2\r\n$9\r\n127.0.0.1\r\n$${p.length}\r\n${p}\r\n`);
        } else if (name === 'sentinel') socket.write('*0\r\n');
        else socket.write('+OK\r\n');
      }
    });
  });
}

/** One RESP command (an array of bulk strings) at the start of `text`, and its length. */
function parseCommand(text: string): { args: string[]; length: number } | undefined {
  const head = /^\*(\d+)\r\n/.exec(text);
  if (!head) return undefined;
  let at = head[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(head[1]); i++) {
    const len = /^\$(\d+)\r\n/.exec(text.slice(at));
    if (!len) return undefined;
    const start = at + len[0].length;
    const end = start + Number(len[1]);
    if (text.length < end + 2) return undefined;
    args.push(text.slice(start, end));
    at = end + 2;
  }
  return { args, length: at };
}
