/**
 * A client that hangs up in the middle of a `POST /orders` body (a closed laptop, a proxy timing
 * out, Ctrl+C on curl). The request stream's ECONNRESET was taken for a database error: the
 * gateway — which has no database — logged `database unavailable` with a stack for each one, the
 * line an operator looks for when PostgreSQL is down. It is an info record now, the service goes
 * on, and the request is still counted (as aborted).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, it } from 'node:test';
import { type ServiceHandle, startService } from '../../demo/services/index.js';
import type { Logger } from '../../lib/core/contracts.js';
import { waitFor } from '../harness/process.js';

const records: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const logger: Logger = {
  debug: () => {},
  info: (msg, fields) => void records.push({ level: 'info', msg, fields }),
  warn: (msg, fields) => void records.push({ level: 'warn', msg, fields }),
  error: (msg, fields) => void records.push({ level: 'error', msg, fields }),
  child: () => logger,
};

let gateway: ServiceHandle;
before(async () => {
  gateway = await startService({
    name: 'gateway',
    port: 0,
    tracing: { exporter: 'memory' },
    // Never reached: the body does not arrive.
    peers: { user: () => 'http://127.0.0.1:9', order: () => 'http://127.0.0.1:9' },
    logger,
  });
});
after(async () => {
  await gateway?.close();
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
