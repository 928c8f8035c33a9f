/**
 * A tiny CALL_TIMEOUT_MS (audit item: `CALL_TIMEOUT_MS=1`) makes the database timeout tiny too
 * (40 % of it): a service on a healthy PostgreSQL stopped at start with "PostgreSQL … did not
 * accept a connection: Connection terminated due to connection timeout; start it, or fix
 * DATABASE_URL", sending the user to a database that was fine. The message now names the bound
 * and where it came from. (Here a server that accepts and never answers stands in for a database
 * too slow for the bound: deterministic, where a real one may or may not answer within 1 ms.)
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DatabaseUnavailableError } from '../../demo/db.js';
import { startService } from '../../demo/services/index.js';

const sockets = new Set<Socket>();
const silent = createServer((s) => {
  sockets.add(s);
  s.on('error', () => {});
});
let url = '';

before(async () => {
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  url = `postgres://app:pw-never-printed@127.0.0.1:${port}/app`;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
});

const start = (callTimeoutMs: number | undefined) =>
  startService({
    name: 'user-service',
    port: 0,
    databaseUrl: url,
    callTimeoutMs,
    tracing: { exporter: 'none' },
    metrics: false,
    peers: { user: () => 'http://127.0.0.1:1', order: () => 'http://127.0.0.1:1' },
    logger: 'error',
  });

describe('demo: a database timeout derived from CALL_TIMEOUT_MS, at start', () => {
  it('the start error names the bound and CALL_TIMEOUT_MS, never the password', async () => {
    await assert.rejects(start(50), (err: unknown) => {
      assert.ok(err instanceof DatabaseUnavailableError, String(err));
      assert.match(
        err.message,
        /did not accept a connection within 20 ms \(the database timeout: 40 % of CALL_TIMEOUT_MS=50/,
      );
      assert.match(err.message, /raise CALL_TIMEOUT_MS/);
      assert.doesNotMatch(err.message, /pw-never-printed/);
      return true;
    });
  });
});
