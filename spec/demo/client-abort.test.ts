/**
 * A client that hangs up in the middle of a `POST /orders` body (a closed laptop, a proxy timing
 * out, Ctrl+C on curl). The request stream's ECONNRESET was taken for a database error: the
 * gateway — which has no database — logged `database unavailable` with a stack for each one, the
 * line an operator looks for when PostgreSQL is down. It is an info record now, the service goes
 * on, and the request is still counted (as aborted).
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

let gateway: ServiceHandle;
/** The gateway's peers: accepts connections, never answers. */
let silent: Server;
const peerSockets = new Set<Socket>();
before(async () => {
  silent = createServer((socket) => {
    peerSockets.add(socket);
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
  });
});
after(async () => {
  await gateway?.close();
  for (const s of peerSockets) s.destroy();
  silent?.close();
});

it('a client closing its connection mid-body is no "database unavailable" warning', async () => {
  const { port } = new URL(gateway.url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const began = new Promise<void>((resolve) => gateway.server.once('request', () => resolve()));
  socket.write(
    'POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"userId":',
  );
  // Closed once the server has the request and its handler is reading the body.
  await began;
  await new Promise((r) => setImmediate(r));
  socket.destroy();
  const seen = await waitFor(
    () => records.find((r) => r.msg === 'request body not received' || r.msg === 'database unavailable'),
    { what: 'the record of the aborted request', timeoutMs: 10_000 },
  );
  assert.equal(seen.msg, 'request body not received', JSON.stringify(records.slice(-5)));
  assert.equal(seen.level, 'info');
  // Its request line too, as aborted (the answer was never sent).
  const line = await waitFor(
    () => records.find((r) => r.msg === 'request' && r.fields?.route === '/orders'),
    { what: 'the request line of the aborted POST', timeoutMs: 10_000 },
  );
  assert.equal(line.fields?.error_type, 'aborted');
  assert.deepEqual(
    records.filter((r) => r.level !== 'info').map((r) => r.msg),
    [],
    'no warning or error',
  );
  // The service goes on answering.
  const res = await fetch(`${gateway.url}/healthz`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  // Counted in /metrics, as aborted.
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  assert.match(
    text,
    /http_server_request_duration_seconds_count\{[^}]*http_route="\/orders"[^}]*error_type="aborted"/,
  );
});

// It wrote no line at all: the one per request is written when the answer is finished, and an
// answer to a client that went away never is (/metrics and the span recorded it as aborted).
it('a client that goes away while its GET waits for a peer still gets its request line, as aborted', async () => {
  const { port } = new URL(gateway.url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  const calling = once(silent, 'connection');
  socket.write('GET /users/7 HTTP/1.1\r\nHost: x\r\n\r\n');
  // Gone once the gateway is waiting for the user service's answer.
  await calling;
  socket.destroy();
  const line = await waitFor(
    () => records.find((r) => r.msg === 'request' && r.fields?.route === '/users/:id'),
    { what: 'the request line of the aborted GET', timeoutMs: 10_000 },
  );
  assert.equal(line.level, 'info');
  assert.equal(line.fields?.method, 'GET');
  assert.equal(line.fields?.error_type, 'aborted');
  assert.equal(line.fields?.status, undefined, 'no status was sent');
  assert.equal(typeof line.fields?.duration_ms, 'number');
  assert.equal(
    records.filter((r) => r.msg === 'request' && r.fields?.route === '/users/:id').length,
    1,
    'one line for the request',
  );
});
