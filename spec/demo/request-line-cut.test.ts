/**
 * The request line of an answer the service itself cut names the cut as /metrics and the span
 * do. A request drainServer cut at the end of its grace period (a deploy) is `shutdown` there, but
 * its line said `aborted` — a client going away — as for every request whose answer never
 * finished.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, it } from 'node:test';
import { type ServiceHandle, startService } from '../../demo/services/index.js';
import type { Logger } from '../../lib/core/contracts.js';
import { freePort, waitFor } from '../harness/process.js';

const records: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const logger: Logger = {
  debug: () => {},
  info: (msg, fields) => void records.push({ level: 'info', msg, fields }),
  warn: (msg, fields) => void records.push({ level: 'warn', msg, fields }),
  error: (msg, fields) => void records.push({ level: 'error', msg, fields }),
  child: () => logger,
};

let gateway: ServiceHandle | undefined;
/** The gateway's peers: accepts connections, never answers, so a request stays in flight. */
let silent: Server;
const sockets = new Set<Socket>();
before(async () => {
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  silent.listen(await freePort(), '127.0.0.1');
  await once(silent, 'listening');
  const peer = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  gateway = await startService({
    name: 'gateway',
    port: 0,
    tracing: { exporter: 'memory' },
    peers: { user: () => peer, order: () => peer },
    logger,
    // The peer call outlives the grace period: the drain, not the call's timeout, ends it.
    callTimeoutMs: 60_000,
    drainGraceMs: 200,
  });
});
after(async () => {
  await gateway?.close();
  for (const s of sockets) s.destroy();
  silent?.close();
});

it('a request cut by the drain at shutdown has its request line as shutdown, not aborted', async () => {
  const { port } = new URL(gateway!.url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.add(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const calling = once(silent, 'connection');
  socket.write('GET /users/7 HTTP/1.1\r\nHost: x\r\n\r\n');
  // In flight: the gateway waits for the user service's answer.
  await calling;
  const closing = gateway!.close();
  const line = await waitFor(
    () => records.find((r) => r.msg === 'request' && r.fields?.route === '/users/:id'),
    { what: 'the request line of the cut GET', timeoutMs: 20_000 },
  );
  await closing;
  gateway = undefined;
  assert.equal(line.fields?.error_type, 'shutdown', JSON.stringify(line.fields));
  assert.equal(line.fields?.status, undefined, 'no status was sent');
  assert.equal(typeof line.fields?.duration_ms, 'number');
});
