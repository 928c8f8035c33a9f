/**
 * One tiny query interface over the two databases the demo can run on: a real PostgreSQL server
 * through `pg` (when `DATABASE_URL` is set) and embedded PostgreSQL in WebAssembly through
 * `@electric-sql/pglite` (when it is not), plus a traced data-access helper that gives every
 * query a client span with the OpenTelemetry database attributes.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppContext } from '../lib/core/context.js';
import { withSpan } from '../lib/core/span.js';
import { dbAttributes, SENSITIVE_QUERY_PARAMS } from '../lib/tracing/semconv.js';

/** Anything that runs one parameterised statement and returns its rows. */
export interface Queryable {
  query<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface Db extends Queryable {
  /** `postgres` (a server reached over TCP) or `pglite` (embedded, in this process). */
  readonly kind: 'postgres' | 'pglite';
  /** Where the server is, for span attributes; `undefined` for the embedded database. */
  readonly server: { readonly host: string; readonly port: number } | undefined;
  /** Database name (`db.namespace`). */
  readonly database: string;
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
   * `unbounded`: its statements get no query timeout (the migrations, which may wait for a lock).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { unbounded?: boolean }): Promise<T>;
  /** Connections currently in use (checked out of the pool; for pglite, statements running). */
  activeConnections(): number;
  /**
   * The pool's connections by state, for `db_client_connection_count{db_client_connection_state}`: `used` (checked out)
   * and `idle` (open, waiting in the pool). pglite has no pool: statements running, no `idle`.
   */
  connections(): { used: number; idle?: number };
  /**
   * Whether the database answers `SELECT 1` within `timeoutMs` (for `/healthz` and `/readyz`).
   * Never rejects. Concurrent calls share one `SELECT 1` in flight (a burst of probes against a
   * database that hangs holds one connection, not one each), itself bounded by `timeoutMs`.
   */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Socket-level codes meaning the database server could not be reached (or went away). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * SQLSTATEs of a server that is shutting down, starting, or full (no fault of the request), and
 * 57014: a statement the server cancelled — its `statement_timeout` (see SERVER_STATEMENT_GRACE_MS:
 * one the client would have stopped waiting for, reached first when this process lags) or an
 * operator's `pg_cancel_backend`.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/**
 * Whether `err` (or one of its causes) says the database is down or unreachable, as opposed to a
 * bad statement: refused/reset connections, `pg`'s connect timeout and terminated connections,
 * SQLSTATE class 08 (connection exception), admin shutdown, "starting up", too many connections.
 * The services answer these with `503` and `Retry-After`, not `500`.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && typeof e === 'object' && i < 5; e = e.cause as typeof e, i++) {
    if (e instanceof DatabaseUnavailableError) return true;
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNREACHABLE_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))
      return true;
    const message = typeof e.message === 'string' ? e.message : '';
    // pg's own errors carry no code: a connect that timed out, a connection that died under a query.
    // `Query read timeout`: a statement got no answer within the query timeout (a server that hangs).
    // `timeout expired`: the connect timeout of pg's client, armed beside the pool's own one of the
    // same length; the pool's usually fires first and says `Connection terminated due to connection
    // timeout`, but Node does not promise the order of two timers, and a request whose connect
    // timed out on the client's answered 500 instead of 503.
    if (
      /^timeout exceeded when trying to connect|^Connection terminated|Client has encountered a connection error|^Query read timeout|^timeout expired$/.test(
        message,
      )
    )
      return true;
  }
  return false;
}

/**
 * `ping` for a database: runs `select1(timeoutMs)` — at most one at a time; a call while one is in
 * flight waits for that one — and answers whether it succeeded within `timeoutMs`.
 */
function sharedPing(
  select1: (timeoutMs: number) => Promise<unknown>,
): (timeoutMs: number) => Promise<boolean> {
  let inflight: Promise<boolean> | undefined;
  return async (timeoutMs) => {
    inflight ??= select1(timeoutMs)
      .then(
        () => true,
        () => false,
      )
      .finally(() => {
        inflight = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        inflight,
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Query parameters whose values a logged URL hides: libpq and pg read any connection parameter
 * from the query (`?password=`, `?sslpassword=`), and a collector URL may carry a token there
 * (also under a name such as `jwt` or `code`: the tracer's list for `url.query`).
 */
const SECRET_PARAM = /pass|secret|token|key|sig|auth|cred/i;
const SENSITIVE_PARAM = new Set(SENSITIVE_QUERY_PARAMS);

/** The query string (without `?`) with the values of secret-named parameters `REDACTED`. */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq === -1) return part;
      let name = part.slice(0, eq);
      try {
        name = decodeURIComponent(name);
      } catch {}
      return SECRET_PARAM.test(name) || SENSITIVE_PARAM.has(name.toLowerCase())
        ? `${part.slice(0, eq)}=REDACTED`
        : part;
    })
    .join('&');
}

/**
 * `postgres://user:secret@host/db?password=secret` → `postgres://user@host/db?password=REDACTED`,
 * so URLs can be logged. A user name given without any password is `REDACTED` too
 * (`https://REDACTED@collector/v1/traces`): it is often the credential itself — a collector's
 * API token sent as the basic-auth user name, as `hyperion/config` prints such URLs — and was
 * printed whole. A fragment written like a query (`#access_token=…`) is redacted like one.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    // With a password in the query (`postgres://app@host/db?password=…`) the user name is a name.
    const passwordInQuery = [...u.searchParams.keys()].some((k) => /pass|pwd/i.test(k));
    if (u.password) u.password = '';
    else if (u.username && !passwordInQuery) u.username = 'REDACTED';
    if (u.search) u.search = redactQuery(u.search.slice(1));
    if (u.hash.includes('=')) {
      const fragment = u.hash.slice(1);
      const q = fragment.indexOf('?') + 1;
      u.hash = fragment.slice(0, q) + redactQuery(fragment.slice(q));
    }
    return u.href.replace(/:@/, '@');
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Default bound of a connection attempt and of one statement, ms: a database that hangs (accepts
 * TCP, never answers) must fail a request with `503` before the caller's call timeout
 * (`CALL_TIMEOUT_MS`, 5000) turns it into a `502`. A request may wait for the database twice in a
 * row (connect, then a statement), so the services use 40 % of their call timeout.
 */
export const DEFAULT_DB_TIMEOUT_MS = 2000;

/** Most a database timeout derived from the call timeout may be, ms: below the 8 s drain grace. */
export const MAX_DB_TIMEOUT_MS = 5000;

/**
 * The database timeout a service with call timeout `callTimeoutMs` uses: 40 % of it, at least
 * 1 ms, at most {@link MAX_DB_TIMEOUT_MS} (the pool's old connect bound: with a long call timeout,
 * a request queued for a connection must still end within a stop's drain grace).
 */
export const dbTimeoutFor = (callTimeoutMs: number): number =>
  Math.min(MAX_DB_TIMEOUT_MS, Math.max(1, Math.floor(callTimeoutMs * 0.4)));

/**
 * How much longer than the client's bound PostgreSQL itself lets a statement run, ms (the session's
 * `statement_timeout`). The client's bound alone (pg's `query_timeout`) gives up and drops the
 * connection, but the server does not notice a dropped client while the statement waits (for a
 * lock): with a table locked for a while (a migration, `LOCK TABLE`), every request left one
 * more backend waiting on it, past the pool's 10, until PostgreSQL's `max_connections` was used up
 * and it refused everyone. Now the server ends such a statement shortly after the client gave up.
 */
const SERVER_STATEMENT_GRACE_MS = 1000;

/**
 * The server, database and port pg connects to for `url`, by its own rules: a URL without a
 * database name (`postgres://alice@host`) connects to PGDATABASE or else the user's name, one
 * without a port to PGPORT or else 5432. Read from the URL alone, the spans' db.namespace said
 * `postgres` while the statements ran in `alice`. The host is an IPv6 address without the URL's
 * brackets, as server.address is written for HTTP spans (`::1`; it was `[::1]`). A Client never
 * connected opens nothing; but pg reads the files a URL names (`sslrootcert`, `sslcert`, `sslkey`)
 * while parsing it, so a missing one is left to the first connect, which reports it as the
 * database being unavailable, naming DATABASE_URL: the URL alone gives the names then.
 */
function connectionTarget(
  Client: typeof import('pg').Client,
  url: string,
): { host: string; port: number; database: string } {
  try {
    const c = new Client({ connectionString: url });
    return { host: c.host, port: c.port, database: c.database ?? 'postgres' };
  } catch {
    const u = new URL(url);
    return {
      host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(u.port || 5432),
      database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    };
  }
}

/**
 * A `pg` pool on `url` (max `max` connections, default 10). `timeoutMs` (default
 * {@link DEFAULT_DB_TIMEOUT_MS}) bounds a connection attempt (or the wait for a free connection)
 * and every statement but those of an `unbounded` transaction; past it the call rejects with an
 * error {@link isDatabaseUnavailable} recognises.
 */
export async function createPostgresDb(
  url: string,
  options: { max?: number; onError?: (err: Error) => void; timeoutMs?: number } = {},
): Promise<Db> {
  const { default: pg } = await import('pg');
  const timeoutMs = options.timeoutMs ?? DEFAULT_DB_TIMEOUT_MS;
  // A statement with a read timeout (pg's client-side `query_timeout`): a server that stopped
  // answering fails it instead of holding the request (and a pooled connection) forever.
  const statement = (sql: string, params: readonly unknown[] | undefined, bound: number | undefined) => ({
    text: sql,
    values: params as unknown[] | undefined,
    ...(bound === undefined ? {} : { query_timeout: bound }),
  });
  // Set on each new session rather than as a startup parameter, which PgBouncer refuses
  // ("unsupported startup parameter"). A `statement_timeout` given in DATABASE_URL (as a parameter
  // or in `options`) is left to apply. pg-pool's `onConnect` hook is awaited before the session is
  // handed out: run from the 'connect' event instead, the SET was still running when the first
  // statement was sent, which pg 8 warns about on stderr (DeprecationWarning, removed in pg 9). A
  // SET that fails fails that first statement (the session is dropped, not pooled).
  const given = new URL(url).searchParams;
  const setsTimeout =
    !given.has('statement_timeout') && !/statement_timeout/.test(given.get('options') ?? '');
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: timeoutMs,
    idleTimeoutMillis: 30_000,
    ...(setsTimeout && {
      onConnect: async (client: import('pg').ClientBase) => {
        await client.query(
          statement(`SET statement_timeout = ${timeoutMs + SERVER_STATEMENT_GRACE_MS}`, undefined, timeoutMs),
        );
      },
    }),
  });
  // An idle client losing its connection emits on the pool; without a listener it would crash the process.
  pool.on('error', (err) => options.onError?.(err));
  const target = connectionTarget(pg.Client, url);
  let closed: Promise<void> | undefined;
  return {
    kind: 'postgres',
    server: { host: target.host, port: target.port },
    database: target.database,
    async query<R>(sql: string, params?: readonly unknown[]) {
      const r = await pool.query(statement(sql, params, timeoutMs));
      return r.rows as R[];
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, opts?: { unbounded?: boolean }): Promise<T> {
      const bound = opts?.unbounded ? undefined : timeoutMs;
      const client = await pool.connect();
      let broken: unknown;
      // pg-pool takes its 'error' listener off a client while it is checked out. A session that
      // ends between two statements (PostgreSQL restarting sends FATAL 57P01 to every session)
      // was then emitted with no listener and crashed the service. Noted here instead: the next
      // statement fails ("not queryable", a 503) and the client is dropped, not pooled.
      const onError = (err: Error) => {
        broken ??= err;
      };
      client.on('error', onError);
      try {
        await client.query(statement('BEGIN', undefined, bound));
        // The migrations may wait for another instance's lock: no server-side bound either.
        if (opts?.unbounded) await client.query('SET LOCAL statement_timeout = 0');
        const result = await fn({
          query: async <R>(sql: string, params?: readonly unknown[]) =>
            (await client.query(statement(sql, params, bound))).rows as R[],
        });
        await client.query(statement('COMMIT', undefined, bound));
        return result;
      } catch (err) {
        // A connection whose server stopped answering (or went away) is dropped at once: a
        // ROLLBACK on it would wait a second timeout (the server rolls back a lost session).
        if (isDatabaseUnavailable(err)) broken = err;
        else
          await client.query(statement('ROLLBACK', undefined, bound)).catch((e: unknown) => {
            broken = e; // the connection is unusable: drop it rather than return it to the pool
          });
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    activeConnections: () => pool.totalCount - pool.idleCount,
    connections: () => ({ used: pool.totalCount - pool.idleCount, idle: pool.idleCount }),
    ping: sharedPing((bound) => pool.query(statement('SELECT 1', undefined, bound))),
    close() {
      closed ??= pool.end();
      return closed;
    },
  };
}

/**
 * Where the initialised pglite data directory is cached between runs. Creating a database runs
 * initdb in WebAssembly (many seconds on a slow machine); loading a saved one takes a fraction.
 */
export const PGLITE_CACHE = fileURLToPath(
  new URL('../node_modules/.cache/hyperion-demo/pglite-base.tgz', import.meta.url),
);

/**
 * Embedded PostgreSQL (in memory, gone when the process exits). The first run saves the freshly
 * initialised data directory to `cacheFile` (default `PGLITE_CACHE`; `false` disables) and later
 * runs start from it; an unreadable cache is ignored and rebuilt.
 */
export async function createPgliteDb(options: { cacheFile?: string | false } = {}): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  const file = options.cacheFile === undefined ? PGLITE_CACHE : options.cacheFile;
  const open = async (loadDataDir?: Blob) => {
    const instance = new PGlite({ relaxedDurability: true, ...(loadDataDir ? { loadDataDir } : {}) });
    await instance.waitReady;
    return instance;
  };
  let db: Awaited<ReturnType<typeof open>> | undefined;
  if (file) {
    const saved = await readFile(file).catch(() => undefined);
    if (saved) db = await open(new Blob([saved])).catch(() => undefined);
  }
  if (!db) {
    db = await open();
    if (file) {
      // Best effort: a read-only checkout just starts slowly every time.
      await db
        .dumpDataDir('gzip')
        .then(async (blob) => {
          await mkdir(dirname(file), { recursive: true });
          const tmp = `${file}.${process.pid}.tmp`;
          await writeFile(tmp, Buffer.from(await blob.arrayBuffer()));
          await rename(tmp, file);
        })
        .catch(() => {});
    }
  }
  const live = db;
  let running = 0;
  const track = async <T>(p: () => Promise<T>): Promise<T> => {
    running++;
    try {
      return await p();
    } finally {
      running--;
    }
  };
  let closed: Promise<void> | undefined;
  return {
    kind: 'pglite',
    server: undefined,
    database: 'postgres',
    query: <R>(sql: string, params?: readonly unknown[]) =>
      track(async () => (await live.query<R>(sql, params as unknown[] | undefined)).rows),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      track(() =>
        live.transaction((tx) =>
          fn({
            query: async <R>(sql: string, params?: readonly unknown[]) =>
              (await tx.query<R>(sql, params as unknown[] | undefined)).rows,
          }),
        ),
      ),
    activeConnections: () => running,
    connections: () => ({ used: running }),
    ping: sharedPing(() => track(() => live.query('SELECT 1'))),
    close() {
      closed ??= live.closed ? Promise.resolve() : live.close();
      return closed;
    },
  };
}

/** `DATABASE_URL` set → PostgreSQL through `pg`; unset → embedded pglite. */
/**
 * `DATABASE_URL` is unusable: not a PostgreSQL URL, nothing there accepts a connection, or the
 * demo's tables cannot be created there. Its message names the variable and the server (password
 * removed) and says what to do.
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

/**
 * The demo's database: `pg` on `url` (checked with one `SELECT 1`, so an unreachable server is a
 * {@link DatabaseUnavailableError} at once, not a stack trace from the first migration), or the
 * embedded pglite when `url` is unset.
 */
export async function openDb(
  url: string | undefined,
  onError?: (err: Error) => void,
  timeoutMs?: number,
  /** Set when `timeoutMs` was derived from a configured call timeout: named in the start error. */
  callTimeoutMs?: number,
): Promise<Db> {
  if (!url) return createPgliteDb();
  const fix = 'fix DATABASE_URL, or unset it to use the embedded database';
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new DatabaseUnavailableError(
      `DATABASE_URL is not a URL (expected postgres://user:password@host:5432/database); ${fix}`,
    );
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:')
    throw new DatabaseUnavailableError(
      `DATABASE_URL must be a postgres:// or postgresql:// URL, not ${protocol}//…; ${fix}`,
    );
  const db = await createPostgresDb(url, { onError, timeoutMs });
  try {
    await db.query('SELECT 1');
  } catch (err) {
    await db.close().catch(() => {});
    const reason = err instanceof Error ? err.message : String(err);
    // With CALL_TIMEOUT_MS=1 the database timeout is 1 ms: a healthy server "did not accept a
    // connection", and the message sent the user to check a database that was fine. Name the bound
    // and where it came from.
    const within =
      callTimeoutMs === undefined
        ? ''
        : ` within ${timeoutMs ?? DEFAULT_DB_TIMEOUT_MS} ms (the database timeout: 40 % of CALL_TIMEOUT_MS=${callTimeoutMs}, at most ${MAX_DB_TIMEOUT_MS} ms)`;
    const raise = callTimeoutMs === undefined ? '' : ', or raise CALL_TIMEOUT_MS';
    throw new DatabaseUnavailableError(
      `PostgreSQL at ${redactUrl(url)} (DATABASE_URL) did not accept a connection${within}: ${reason}; start it${raise}, or ${fix}`,
      { cause: err },
    );
  }
  return db;
}

/** What a traced statement is about: becomes the span name and the `db.*` attributes. */
export interface StatementInfo {
  /** `SELECT`, `INSERT`, … (`db.operation.name`). */
  operation: string;
  /** Main table (`db.collection.name`). */
  table: string;
}

export interface DataAccess {
  readonly db: Db;
  /** One statement in a client span named `OPERATION table`. */
  query<R>(ctx: AppContext, info: StatementInfo, sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** A transaction in a span; statements run through the given `q` get child spans. */
  transaction<T>(
    ctx: AppContext,
    name: string,
    fn: (q: <R>(info: StatementInfo, sql: string, params?: readonly unknown[]) => Promise<R[]>) => Promise<T>,
  ): Promise<T>;
  /** Statements run so far by this service (tests use it to prove cached reads skip the database). */
  readonly statements: number;
}

/**
 * What the database conventions ask of a failed statement's span: `error.type`, and the
 * database's own status code in `db.response.status_code` when it sent one (a SQLSTATE such as
 * `42P01`, which is then the `error.type` too); else the error's code (`ECONNREFUSED`, as
 * `tracedFetch` writes a socket error) or its class. The spans had neither: a failed statement
 * showed only the error status and the `exception` event.
 */
export function dbErrorAttributes(err: unknown): Record<string, string> {
  let e = err as { code?: unknown; severity?: unknown; cause?: unknown } | undefined;
  // Only an error the server sent (pg's and pglite's carry its `severity`): a socket error's code
  // can have a SQLSTATE's shape too (`EPIPE`, a connection that went away under a write), and was
  // reported as the database's own status code.
  for (let i = 0; e && typeof e === 'object' && i < 5; e = e.cause as typeof e, i++)
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string')
      return { 'db.response.status_code': e.code, 'error.type': e.code };
  const top = err as { code?: unknown; name?: unknown } | undefined;
  if (typeof top?.code === 'string' && top.code !== '') return { 'error.type': top.code };
  if (typeof top?.name === 'string' && top.name !== '') return { 'error.type': top.name };
  return { 'error.type': '_OTHER' };
}

/** Traced access to `db` for one service. Attribute names follow the OpenTelemetry database conventions. */
export function createDataAccess(db: Db): DataAccess {
  let statements = 0;
  // Stable names only (db.system.name, db.query.text); OTEL_SEMCONV_STABILITY_OPT_IN=database/dup
  // adds the deprecated db.system / db.statement for backends that still read those.
  const server = {
    system: 'postgresql',
    namespace: db.database,
    serverAddress: db.server?.host,
    serverPort: db.server?.port,
  };
  const run = <R>(
    ctx: AppContext,
    target: Queryable,
    info: StatementInfo,
    sql: string,
    params?: readonly unknown[],
  ) =>
    withSpan(
      ctx,
      `${info.operation} ${info.table}`,
      async (_ctx, span) => {
        statements++;
        try {
          return await target.query<R>(sql, params);
        } catch (err) {
          span.setAttributes(dbErrorAttributes(err));
          throw err;
        }
      },
      {
        kind: 'client',
        attributes: dbAttributes({
          ...server,
          operation: info.operation,
          collection: info.table,
          queryText: sql,
        }),
      },
    );
  return {
    db,
    query: (ctx, info, sql, params) => run(ctx, db, info, sql, params),
    transaction: (ctx, name, fn) =>
      withSpan(
        ctx,
        name,
        (txCtx) => db.transaction((tx) => fn((info, sql, params) => run(txCtx, tx, info, sql, params))),
        { kind: 'internal', attributes: dbAttributes({ ...server, operation: 'TRANSACTION' }) },
      ),
    get statements() {
      return statements;
    },
  };
}
