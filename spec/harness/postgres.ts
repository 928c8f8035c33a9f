/**
 * Real PostgreSQL for tests and benchmarks: Debian's PostgreSQL 15 binaries (`initdb` + `postgres`)
 * run natively in a temp dir, listening on a free 127.0.0.1 port with trust authentication. initdb
 * refuses to run as root, so when the test runs as root the cluster is created and served by the
 * `postgres` system user (the temp dir is chown'd to it).
 *
 *   describeWithServers('x', skipPostgres(), () => {
 *     let pg: PostgresServer;
 *     before(async () => { pg = await startPostgres(); });
 *     after(() => pg?.stop());
 *   });
 */
import { chown, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  findBinary,
  freePort,
  runCommand,
  type ServerProcess,
  skipUnless,
  startProcess,
  tempDir,
} from './process.js';

const HOST = '127.0.0.1';

/** Skip reason for describe blocks needing PostgreSQL, or `false` when initdb and postgres exist. */
export function skipPostgres(): string | false {
  return skipUnless(['initdb', 'postgres'], 'apt-get install -y postgresql');
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth, no password). */
  readonly url: string;
  /** The data directory (inside the temp dir). */
  readonly dataDir: string;
  readonly server: ServerProcess;
  /** Fast shutdown (disconnects clients), then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Extra `-c name=value` server settings, e.g. `{ max_connections: '20' }`. */
  settings?: Readonly<Record<string, string>>;
  /** Readiness bound in ms. Default 30 000. */
  readyTimeoutMs?: number;
}

/** uid/gid of the `postgres` user when we are root (initdb refuses root), else `undefined`. */
async function runAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  const parts = line?.split(':');
  if (!parts || parts.length < 4) {
    throw new Error('running as root and no `postgres` user exists: initdb cannot run as root');
  }
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

async function ready(port: number): Promise<boolean> {
  const client = new pg.Client({
    host: HOST,
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A fresh PostgreSQL cluster (superuser `postgres`, trust auth, durability off for speed) on a
 * free loopback port. Retries on a port race. Stops what it started if it fails half-way.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const initdb = findBinary('initdb') ?? 'initdb';
  const postgres = findBinary('postgres') ?? 'postgres';
  const user = await runAs();
  const dir = await tempDir('postgres');
  try {
    if (user) await chown(dir.path, user.uid, user.gid);
    const dataDir = join(dir.path, 'data');
    await runCommand(
      initdb,
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      // LC_ALL=C: initdb must not depend on the locales installed on the machine.
      { uid: user?.uid, gid: user?.gid, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } },
    );
    const settings: Record<string, string> = {
      listen_addresses: HOST,
      unix_socket_directories: dir.path,
      // Test data is disposable: durability off makes startup and writes fast.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '100',
      ...options.settings,
    };
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const args = ['-D', dataDir, '-p', String(port)];
      for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
      try {
        const server = await startProcess({
          name: `postgres:${port}`,
          command: postgres,
          args,
          cwd: dir.path,
          env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
          ready: () => ready(port),
          ports: [port],
          readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
          uid: user?.uid,
          gid: user?.gid,
        });
        let stopping: Promise<void> | undefined;
        const stop = () => {
          stopping ??= (async () => {
            if (!server.exited) {
              // SIGINT = fast shutdown: open client connections are closed, not waited for.
              server.child.kill('SIGINT');
              await server.stop(10_000);
            }
            await dir.remove().catch(() => {});
          })();
          return stopping;
        };
        return {
          host: HOST,
          port,
          url: `postgres://postgres@${HOST}:${port}/postgres`,
          dataDir,
          server,
          stop,
        };
      } catch (err) {
        lastError = err;
        if (!/could not bind|Address already in use/i.test(String((err as Error).message))) throw err;
      }
    }
    throw lastError;
  } catch (err) {
    await dir.remove().catch(() => {});
    throw err;
  }
}
