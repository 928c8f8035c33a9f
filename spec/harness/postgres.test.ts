import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { it } from 'node:test';
import pg from 'pg';
import { skipPostgres, startPostgres } from './postgres.js';
import { describeWithServers, portOpen } from './process.js';

describeWithServers('postgres harness', skipPostgres(), () => {
  it('starts a trust-auth server on a loopback port, serves queries and transactions, cleans up', async (t) => {
    const server = await startPostgres();
    t.after(() => server.stop());
    assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);

    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pool.on('error', () => {}); // the idle connection is cut by stop() below
    t.after(() => pool.end().catch(() => {}));
    const { rows } = await pool.query<{ v: string }>('SELECT version() AS v');
    assert.match(rows[0]!.v, /^PostgreSQL 15\./);

    await pool.query('CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO t VALUES (1, $1)', ['one']);
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await client.query('INSERT INTO t VALUES (2, $1)', ['two']);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const after = await pool.query<{ id: number }>('SELECT id FROM t ORDER BY id');
    assert.deepEqual(
      after.rows.map((r) => r.id),
      [2],
    );

    // stop() disconnects the idle pool connection (fast shutdown) and removes the data dir.
    await server.stop();
    assert.equal(server.server.exited, true);
    assert.equal(existsSync(server.dataDir), false);
    assert.equal(await portOpen(server.port), false);
    await server.stop(); // idempotent
  });

  it('runs two independent servers side by side', async (t) => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    t.after(() => a.stop());
    t.after(() => b.stop());
    assert.notEqual(a.port, b.port);
    const ca = new pg.Client({ connectionString: a.url });
    const cb = new pg.Client({ connectionString: b.url });
    for (const c of [ca, cb]) {
      c.on('error', () => {});
      t.after(() => c.end().catch(() => {}));
    }
    await ca.connect();
    await cb.connect();
    await ca.query('CREATE TABLE only_in_a (x int)');
    const inB = await cb.query("SELECT to_regclass('only_in_a') AS r");
    assert.equal(inB.rows[0].r, null);
  });
});
