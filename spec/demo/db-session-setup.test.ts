/**
 * Each new PostgreSQL session gets the demo's `statement_timeout` before its first statement. It
 * was set from pg-pool's 'connect' event, which does not wait: the SET was still running when the
 * pool handed the session to its first statement, and pg 8 printed a DeprecationWarning ("Calling
 * client.query() when the client is already executing a query…", removed in pg 9) on every demo
 * start against a real PostgreSQL. Now the SET runs in the pool's awaited `onConnect` hook.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createPostgresDb, type Db } from '../../demo/db.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';

describeWithServers('demo database sessions', skipPostgres(), () => {
  let server: PostgresServer;
  let db: Db | undefined;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  before(async () => {
    server = await startPostgres();
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await db?.close().catch(() => {});
    await server?.stop();
  });

  it('every new session has statement_timeout set before its first statement, with no warning', async () => {
    db = await createPostgresDb(server.url, { max: 4, timeoutMs: 1500 });
    // Four at once: four new sessions, each first statement sent as soon as its session is handed out.
    const rows = await Promise.all(
      Array.from({ length: 4 }, () =>
        db!.query<{ statement_timeout: string; pid: number }>(
          'SELECT current_setting($1) AS statement_timeout, pg_backend_pid() AS pid, pg_sleep(0.05)',
          ['statement_timeout'],
        ),
      ),
    );
    assert.equal(new Set(rows.map((r) => r[0]!.pid)).size, 4, 'four sessions');
    for (const r of rows) assert.equal(r[0]!.statement_timeout, '2500ms');
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
    );
  });
});
