/**
 * A server still loading its data: iovalkey's ready check asks INFO again after the server's
 * `loading_eta_seconds`, capped by its `maxLoadingRetryTime` (default 10 s). The estimate is rough
 * early in a load: found from outside (/tmp probe, a restart with a 5.7 s load that said "about
 * 118 s left"), the cache came back 4.3 s after the server had loaded. The cache now checks again
 * within a second (client.ts `LOADING_RECHECK_MS`). A loopback stand-in answers INFO with a load
 * of 60 s left, so the next check is iovalkey's cap: with the old 10 s it came past this test's
 * bound.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import { rejectsWith, sleep } from './helpers.js';

/** The commands (arrays of strings) complete in `buf`, and the bytes left over. */
function parse(buf: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const start = at;
    const line = (from: number) => {
      const end = buf.indexOf('\r\n', from);
      return end < 0 ? undefined : { text: buf.toString('latin1', from, end), next: end + 2 };
    };
    const head = line(at);
    if (head?.text[0] !== '*') return { commands, rest: buf.subarray(start) };
    const args: string[] = [];
    let next = head.next;
    let complete = true;
    for (let i = 0; i < Number(head.text.slice(1)); i++) {
      const len = line(next);
      if (!len) {
        complete = false;
        break;
      }
      const size = Number(len.text.slice(1));
      if (buf.length < len.next + size + 2) {
        complete = false;
        break;
      }
      args.push(buf.toString('latin1', len.next, len.next + size));
      next = len.next + size + 2;
    }
    if (!complete) return { commands, rest: buf.subarray(start) };
    commands.push(args);
    at = next;
  }
}

describe('a server loading its data with a long estimate', () => {
  let server: Server | undefined;
  let port = 0;
  let loading = true;
  let infos = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let pending: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        const { commands, rest } = parse(Buffer.concat([pending, chunk]));
        pending = rest;
        for (const [name = ''] of commands) {
          const cmd = name.toUpperCase();
          if (cmd === 'INFO') {
            infos++;
            const info = loading
              ? '# Persistence\r\nloading:1\r\nloading_eta_seconds:60\r\n'
              : '# Persistence\r\nloading:0\r\n';
            socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
          } else if (loading) socket.write('-LOADING Redis is loading the dataset in memory\r\n');
          else if (cmd === 'GET') socket.write('$-1\r\n');
          else if (cmd === 'PING') socket.write('+PONG\r\n');
          else socket.write('+OK\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('checks again within a second, so the cache serves soon after the load ends', async () => {
    const cache = createRedisCache({ addresses: [`127.0.0.1:${port}`], commandTimeout: 500 });
    try {
      const err = await rejectsWith(cache.get('k'), 'unavailable');
      assert.match(err.message, /still loading its data into memory \(.*about 60 s left\)/);
      // A second ready check (INFO) while the server loads: the old cap made it 10 s away.
      for (let i = 0; i < 40 && infos < 2; i++) await sleep(100);
      assert.ok(infos >= 2, `one ready check only in 4 s (INFO asked ${infos} times)`);
      loading = false;
      let served = false;
      for (let i = 0; i < 40 && !served; i++) {
        served = await cache.get('k').then(
          () => true,
          () => false,
        );
        if (!served) await sleep(100);
      }
      assert.ok(served, 'not served within 4 s of the end of the load');
    } finally {
      await cache.close();
    }
  });
});
