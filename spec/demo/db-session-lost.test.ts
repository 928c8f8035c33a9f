/**
 * A PostgreSQL session that ends between two statements of a demo transaction — what a server
 * restart does to every session (FATAL 57P01, "terminating connection due to administrator
 * command") — fails that transaction as "database unavailable" (a 503 for POST /orders). It used
 * to crash the order service: pg-pool takes its 'error' listener off a checked-out client, so the
 * client emitted the error with no listener (found restarting PostgreSQL under POST load against
 * the standalone services).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { createPostgresDb, type Db, isDatabaseUnavailable } from '../../demo/db.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';

describeWithServers('demo database: a session lost inside a transaction', skipPostgres(), () => {
  let server: PostgresServer;
  let admin: pg.Client;
  let db: Db;

  before(async () => {
    server = await startPostgres();
    admin = new pg.Client({ connectionString: server.url });
    admin.on('error', () => {});
    await admin.connect();
    db = await createPostgresDb(server.url);
  });
  after(async () => {
    await db?.close().catch(() => {});
    await admin?.end().catch(() => {});
    await server?.stop();
  });

  it('rejects the transaction as unavailable, does not crash, and the pool goes on', async () => {
    const failure = await db
      .transaction(async (tx) => {
        const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await admin.query('SELECT pg_terminate_backend($1)', [row!.pid]);
        // Until the session is gone (its FATAL message sent), bounded; then a few turns of the
        // event loop so the message is read while no statement is running on the client.
        for (let i = 0; i < 100; i++) {
          const r = await admin.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
            [row!.pid],
          );
          if (r.rows[0]!.n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        for (let i = 0; i < 5; i++) await admin.query('SELECT 1');
        await tx.query('SELECT 1');
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(failure, 'the transaction rejects');
    assert.ok(isDatabaseUnavailable(failure), `a database-unavailable error: ${String(failure)}`);
    // The broken client was dropped, not pooled: the next statements run on a fresh connection.
    for (let i = 0; i < 3; i++) assert.deepEqual(await db.query('SELECT 1 AS x'), [{ x: 1 }]);
  });
});
