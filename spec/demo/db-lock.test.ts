/**
 * A table locked for a while under the running demo services (a migration, a `LOCK TABLE` by an
 * operator). Reads of it wait for the lock, and the services' database bound answers them `503`
 * — but that bound was the client's alone: it dropped the connection, and the server, which does
 * not notice a dropped client while a statement waits for a lock, kept every such backend waiting.
 * Each request added one more (past the pool's 10) until PostgreSQL's `max_connections` was used
 * up and it refused every client. Now the server ends those statements itself (`statement_timeout`,
 * shortly after the client's bound): with the lock still held, no backend is left waiting on it.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers, waitFor } from '../harness/process.js';

describeWithServers('demo services with a table locked for a while', skipPostgres(), () => {
  let server: PostgresServer;
  let services: RunningServices;
  let admin: pg.Client;
  let locker: pg.Client;

  before(async () => {
    server = await startPostgres();
    services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      databaseUrl: server.url,
      tracing: { exporter: 'memory' },
      logger: 'error',
    });
    admin = new pg.Client({ connectionString: server.url });
    locker = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await locker.connect();
  });
  after(async () => {
    await locker?.query('ROLLBACK').catch(() => {});
    await locker?.end().catch(() => {});
    await admin?.end().catch(() => {});
    await services?.close().catch(() => {});
    await server?.stop();
  });

  it('requests that wait for the lock get 503, and leave no backend waiting on it', async () => {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
    const waiting = async () =>
      (
        await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
        )
      ).rows[0]!.n;

    // Order lists never read: not cached, so each read asks the locked table.
    const statuses = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await fetch(`${services.order.url}/users/${20 + i}/orders`, {
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.deepEqual(new Set(statuses), new Set([503]), `statuses: ${statuses.join(',')}`);

    // The lock is still held: before, every one of those 12 backends waited on it until it was
    // released (the client had long dropped the connection).
    await waitFor(async () => (await waiting()) === 0, {
      what: 'no backend left waiting on the lock',
      timeoutMs: 20_000,
      intervalMs: 200,
    });
    await locker.query('ROLLBACK');

    // Once the lock is gone the reads answer again.
    const res = await fetch(`${services.order.url}/users/20/orders`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(res.status, 200);
  });
});
