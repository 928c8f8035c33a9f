/**
 * The demo's statement spans on failure carry what the OpenTelemetry database conventions ask of a
 * failed operation: `error.type`, and `db.response.status_code` when PostgreSQL answered with a
 * SQLSTATE. They had neither — only the error status and the `exception` event —, so a query for
 * failed database calls by `error.type` (as for the HTTP spans beside them) found none.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { after, before, it } from 'node:test';
import { createDataAccess, createPostgresDb, type Db, dbErrorAttributes, openDb } from '../../demo/db.js';
import { createApp } from '../../lib/core/index.js';
import { withTimeout } from '../../lib/core/timeout.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';

describeWithServers('demo: a failed statement span names its error', skipPostgres(), () => {
  let pg: PostgresServer;
  let db: Db;
  before(async () => {
    pg = await startPostgres();
    db = await createPostgresDb(pg.url, { max: 1, timeoutMs: 2000 });
  });
  after(async () => {
    await db?.close();
    await pg?.stop();
  });

  it('error.type and db.response.status_code from the SQLSTATE; an error.type when the server is gone', async () => {
    const tracer = createOtelTracer({ serviceName: 'db-errors', exporter: 'memory' });
    const app = createApp({ tracer });
    try {
      const data = createDataAccess(db);
      await data.query(app.ctx, { operation: 'SELECT', table: 'users' }, 'SELECT 1 AS one');
      await assert.rejects(
        data.query(app.ctx, { operation: 'SELECT', table: 'missing' }, 'SELECT * FROM missing'),
        (err: Error & { code?: string }) => err.code === '42P01',
      );
      await pg.stop();
      await assert.rejects(data.query(app.ctx, { operation: 'SELECT', table: 'users' }, 'SELECT 1 AS one'));
      const spans = tracer.finishedSpans();
      assert.equal(spans.length, 3);
      const [ok, bad, down] = spans;
      assert.equal(ok!.attributes['db.system.name'], 'postgresql');
      assert.equal(ok!.attributes['error.type'], undefined, 'a statement that succeeded has no error.type');
      assert.equal(ok!.attributes['db.response.status_code'], undefined);
      assert.equal(bad!.name, 'SELECT missing');
      assert.equal(bad!.attributes['error.type'], '42P01');
      assert.equal(bad!.attributes['db.response.status_code'], '42P01');
      assert.equal(bad!.status.code, 2, 'error status');
      // Refused (ECONNREFUSED), or the server's own shutdown notice (SQLSTATE 57P01) on a pooled connection.
      const type = down!.attributes['error.type'];
      assert.ok(
        typeof type === 'string' && type !== '',
        `error.type of the statement to a stopped server: ${type}`,
      );
      const status = down!.attributes['db.response.status_code'];
      assert.ok(status === undefined || status === type, 'a SQLSTATE, when there is one, is the error.type');
    } finally {
      await app.close();
    }
  });
});

it("a socket error whose code has a SQLSTATE's shape (EPIPE) is no db.response.status_code; the server's SQLSTATE still is", async () => {
  // A real EPIPE: writing on a loopback connection the other end has closed.
  const server = createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const err = await withTimeout(
      new Promise<Error & { code?: string }>((resolve) => {
        const c = connect({
          port: (server.address() as AddressInfo).port,
          host: '127.0.0.1',
          allowHalfOpen: true,
        });
        c.on('error', resolve);
        c.on('end', () => {
          const write = (left: number) => {
            if (left === 0 || c.destroyed) return;
            c.write('x');
            setTimeout(() => write(left - 1), 20);
          };
          write(100);
        });
      }),
      10_000,
      () => new Error('no socket error within 10 s'),
    );
    // ECONNRESET on some kernels' timing; EPIPE is the case that matters here.
    if (err.code === 'EPIPE') {
      // Before: { 'db.response.status_code': 'EPIPE', 'error.type': 'EPIPE' }, as if PostgreSQL had answered EPIPE.
      assert.deepEqual(dbErrorAttributes(err), { 'error.type': 'EPIPE' });
      assert.deepEqual(dbErrorAttributes(new Error('query failed', { cause: err })), {
        'error.type': 'Error',
      });
    } else assert.deepEqual(dbErrorAttributes(err), { 'error.type': err.code });
  } finally {
    server.close();
  }
  // The embedded database's own error keeps its SQLSTATE as the status code.
  const db = await openDb(undefined);
  try {
    const err = await db.query('SELECT * FROM missing').then(
      () => assert.fail('the query succeeded'),
      (e: unknown) => e,
    );
    assert.deepEqual(dbErrorAttributes(err), { 'db.response.status_code': '42P01', 'error.type': '42P01' });
  } finally {
    await db.close();
  }
});
