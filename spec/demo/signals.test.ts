/**
 * A demo service run as its own program (demo/standalone.ts) gets SIGTERM twice while a request
 * is in flight — an orchestrator or supervisor repeating the signal, an impatient operator. The
 * README promises that requests already running finish (up to 8 s) and the service exits 0; the
 * second signal must not kill the process mid-drain. (Session-5 audit: it did, exit by signal,
 * the request reset.) Embedded database, no collector: needs no server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, type ServerProcess, startProcess, waitFor } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('demo service: a repeated SIGTERM during the drain', () => {
  const procs: ServerProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
  });

  const start = async (name: 'order-service' | 'user-service', port: number, extra: NodeJS.ProcessEnv) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'HYPERION_TRACING_ENDPOINT'])
      delete env[k];
    const url = `http://127.0.0.1:${port}`;
    const proc = await startProcess({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', `demo/${name}.ts`],
      cwd: root,
      env: { ...env, PORT: String(port), LOG_LEVEL: 'info', ...extra },
      ports: [port],
      ready: async () => {
        try {
          return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
        } catch {
          return false;
        }
      },
      readyTimeoutMs: 60_000,
    });
    procs.push(proc);
    return proc;
  };

  it('the request in flight is still answered and the service exits 0', async () => {
    const [port, userPort] = [await freePort(), await freePort()];
    // POST /orders checks the user with the user service: it runs (and is not signalled).
    const peers = {
      USER_SERVICE_URL: `http://127.0.0.1:${userPort}`,
      ORDER_SERVICE_URL: `http://127.0.0.1:${port}`,
    };
    await start('user-service', userPort, peers);
    const p = await start('order-service', port, peers);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      p.child.once('exit', (code, signal) => resolve({ code, signal }));
    });

    // A POST whose body arrives slowly: in flight (reading its body) until we finish it.
    const body = JSON.stringify({ userId: 1, items: [{ sku: 'mug', quantity: 1, unitPriceCents: 500 }] });
    let answer: (r: { status?: number; error?: string }) => void;
    const answered = new Promise<{ status?: number; error?: string }>((r) => {
      answer = r;
    });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/orders',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => answer({ status: res.statusCode }));
        res.on('error', (e: NodeJS.ErrnoException) => answer({ error: e.code ?? e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => answer({ error: e.code ?? e.message }));
    req.write(body.slice(0, 10));
    // The server has the request once its first bytes are read; the drain record counts it.
    await new Promise((r) => setTimeout(r, 300));

    p.child.kill('SIGTERM');
    await waitFor(() => p.output().includes('http: draining'), {
      what: 'the drain to begin',
      timeoutMs: 10_000,
    });
    p.child.kill('SIGTERM');
    // Let the second signal be delivered and handled before the request completes.
    await new Promise((r) => setTimeout(r, 300));
    req.end(body.slice(10));

    const result = await answered;
    const exit = await exited;
    assert.deepEqual(result, { status: 201 }, 'the order in flight is created');
    assert.deepEqual(exit, { code: 0, signal: null }, p.output().slice(-2000));
  });
});

describe('demo service: a SIGTERM while it starts', () => {
  it('is handled, not fatal mid-start (nor lost, as PID 1 in a container would lose it)', async (t) => {
    // The handlers were installed only once the service was up: a signal during the start (a
    // database connect can take seconds) killed it by the default action. Here the "database"
    // accepts the connection and never answers, so the start is seen to be in progress; the start
    // then fails on the database timeout (exit 1 with its line), and the signal is not what ends it.
    const sockets = new Set<Socket>();
    let connected!: () => void;
    const dbReached = new Promise<void>((resolve) => {
      connected = resolve;
    });
    const db = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      connected();
    });
    await new Promise<void>((resolve) => db.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const s of sockets) s.destroy();
      db.close();
    });
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'HYPERION_TRACING_ENDPOINT']) delete env[k];
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/user-service.ts'], {
      cwd: root,
      env: {
        ...env,
        PORT: '0',
        DATABASE_URL: `postgres://demo@127.0.0.1:${(db.address() as AddressInfo).port}/demo`,
        CALL_TIMEOUT_MS: '2000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    t.after(() => {
      clearTimeout(kill);
      child.kill('SIGKILL');
    });
    await dbReached;
    child.kill('SIGTERM');
    const exit = await exited;
    assert.equal(exit.signal, null, `killed by the signal mid-start\n${out.slice(-2000)}`);
    assert.equal(exit.code, 1, out.slice(-2000));
    assert.match(out, /user-service failed to start/);
  });
});
