/**
 * The database and server a statement span names (`db.namespace`, `server.address`) are those pg
 * connects to. A DATABASE_URL without a database name (`postgres://alice@host:5432`) connects to
 * the user's database (pg, like libpq, falls back to PGDATABASE, then the user name); the demo
 * read the name from the URL alone and every span said `postgres` while the statements ran in
 * `alice`. An IPv6 literal is the address alone, as the HTTP spans write it (it was `[::1]`).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { createDataAccess, createPostgresDb, DatabaseUnavailableError, openDb } from '../../demo/db.js';
import { createApp } from '../../lib/core/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers, freePort } from '../harness/process.js';

describeWithServers('demo database: the database and server its spans name', skipPostgres(), () => {
  let server: PostgresServer;
  before(async () => {
    // On ::1 too, for a DATABASE_URL with an IPv6 literal.
    server = await startPostgres({ settings: { listen_addresses: '127.0.0.1,::1' } });
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query('CREATE ROLE alice LOGIN');
      await admin.query('CREATE DATABASE alice OWNER alice');
    } finally {
      await admin.end();
    }
  });
  after(async () => {
    await server?.stop();
  });

  for (const [what, host, path, expected, address] of [
    ['a URL without a database name: the database of the user', '127.0.0.1', '', 'alice', '127.0.0.1'],
    ['a URL naming the database: that one', '127.0.0.1', '/postgres', 'postgres', '127.0.0.1'],
    // server.address is the address alone, as the HTTP spans write it: it was `[::1]`.
    ['an IPv6 literal: server.address without the brackets', '[::1]', '/postgres', 'postgres', '::1'],
  ] as const) {
    it(what, async () => {
      // Neither variable may decide for the URL here (pg reads them when the URL names no database).
      const saved = { PGDATABASE: process.env.PGDATABASE, PGPORT: process.env.PGPORT };
      delete process.env.PGDATABASE;
      delete process.env.PGPORT;
      const db = await createPostgresDb(`postgres://alice@${host}:${server.port}${path}`, {
        max: 1,
      }).finally(() => {
        for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
      });
      const tracer = createOtelTracer({ serviceName: 'db-namespace', exporter: 'memory' });
      const app = createApp({ tracer });
      try {
        const data = createDataAccess(db);
        const [row] = await data.query<{ name: string }>(
          app.ctx,
          { operation: 'SELECT', table: 'current_database' },
          'SELECT current_database() AS name',
        );
        assert.equal(row?.name, expected, 'the database pg connected to');
        assert.equal(db.database, expected);
        const [span] = tracer.finishedSpans();
        assert.equal(span?.attributes['db.namespace'], expected, 'db.namespace is the database queried');
        assert.equal(span?.attributes['server.port'], server.port);
        assert.equal(span?.attributes['server.address'], address);
      } finally {
        await app.close();
        await db.close();
      }
    });
  }
});

// pg reads the files a URL names while parsing it: reading the names from pg must leave a missing
// one to the first connect, which says DATABASE_URL is unusable (not a bare ENOENT with a stack).
it('a DATABASE_URL naming a missing sslrootcert is still one DatabaseUnavailableError naming DATABASE_URL', async () => {
  const url = `postgres://u:secret@127.0.0.1:${await freePort()}/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem`;
  await assert.rejects(openDb(url), (err: Error) => {
    assert.ok(err instanceof DatabaseUnavailableError, `${err.name}: ${err.message}`);
    assert.match(err.message, /\(DATABASE_URL\)/);
    assert.match(err.message, /ENOENT/);
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
});
