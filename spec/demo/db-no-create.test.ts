/**
 * DATABASE_URL naming a PostgreSQL user that may not create tables (since PostgreSQL 15 a role
 * has no CREATE on `public` unless it owns the database; revoked here so every version behaves
 * so). The server accepts the connection, then the migration is refused: `npm run demo` printed
 * "demo failed: error: permission denied for schema public" with a stack trace, a standalone
 * service a bare "permission denied for schema public". Now one line naming DATABASE_URL, the
 * server and what to do, without the password, exit 1.
 *
 * A database that already has an application's `users` or `orders` table (of other columns, which
 * the README warns against): the line said to grant CREATE there too, where no grant helps; it now
 * says to give the demo a database of its own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDb } from '../../demo/db.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'pw-7d2a51-never-printed';

function run(script: string, vars: Record<string, string>): Promise<{ code: number | null; err: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'])
    delete env[k];
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { ...env, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  child.stdout.on('data', (b: Buffer) => {
    all += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    all += b.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err: all });
    }),
  );
}

describeWithServers('demo: DATABASE_URL whose user may not create tables', skipPostgres(), () => {
  let pg: PostgresServer;
  let url: string;
  before(async () => {
    pg = await startPostgres();
    const admin = await openDb(pg.url);
    try {
      await admin.query(`CREATE ROLE app LOGIN PASSWORD '${PASSWORD}'`);
      await admin.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
      await admin.query('CREATE DATABASE shop');
    } finally {
      await admin.close();
    }
    // An application's database: its own `users` and `orders`, of other columns.
    const shop = await openDb(`postgres://postgres@127.0.0.1:${pg.port}/shop`);
    try {
      await shop.query('CREATE TABLE users (id integer PRIMARY KEY, login text NOT NULL)');
      await shop.query('CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL)');
    } finally {
      await shop.close();
    }
    url = `postgres://app:${PASSWORD}@127.0.0.1:${pg.port}/postgres`;
  });
  after(() => pg?.stop());

  for (const [script, prefix] of [
    ['demo/run.ts', 'demo failed: '],
    ['demo/user-service.ts', 'user-service failed to start: '],
  ] as const)
    it(`${script}: exit 1, one line naming DATABASE_URL and what to do, no stack, no password`, async () => {
      const r = await run(script, { DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'error' });
      assert.equal(r.code, 1, r.err);
      const line = new RegExp(
        `^${prefix}PostgreSQL at 127\\.0\\.0\\.1:${pg.port}/postgres \\(DATABASE_URL\\) refused to create the demo's tables: permission denied for schema public \\(SQLSTATE 42501\\); .*unset it to use the embedded database$`,
        'm',
      );
      assert.match(r.err, line);
      assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
      assert.ok(!r.err.includes(PASSWORD), 'the password is never printed');
    });

  for (const [script, prefix, table, column] of [
    ['demo/user-service.ts', 'user-service failed to start: ', 'users', 'name'],
    ['demo/order-service.ts', 'order-service failed to start: ', 'orders', 'user_id'],
  ] as const)
    it(`${script}, a database with another ${table} table: exit 1, one line saying to give the demo a database of its own`, async () => {
      const r = await run(script, {
        DATABASE_URL: `postgres://postgres@127.0.0.1:${pg.port}/shop`,
        PORT: '0',
        LOG_LEVEL: 'error',
      });
      assert.equal(r.code, 1, r.err);
      const line = new RegExp(
        `^${prefix}PostgreSQL at 127\\.0\\.0\\.1:${pg.port}/shop \\(DATABASE_URL\\) could not set up the demo's tables: column "${column}" (of relation "${table}" )?does not exist \\(SQLSTATE 42703\\); a table the demo uses \\(users, orders, order_events\\) is there already, with other columns or rows: give the demo a database of its own, or fix DATABASE_URL, or unset it to use the embedded database$`,
        'm',
      );
      assert.match(r.err, line);
      assert.doesNotMatch(r.err, /GRANT/, 'no grant helps there');
      assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
    });
});
