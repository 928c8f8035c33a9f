/**
 * USER_SERVICE_URL / ORDER_SERVICE_URL of the standalone services (demo/standalone.ts), as a user
 * writes them (session-10 audit). With a trailing slash (`http://user-service:8081/`) every call
 * went to `//users/…` and the peer's 404 "no such route" came back: `GET /users/3` at the gateway
 * answered 404 as if the user did not exist. `host:port` without a scheme was taken (it parses as
 * a URL of scheme `host:`) and every call failed with 502. Embedded database, no collector: needs
 * no server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serviceUrl } from '../../demo/env.js';
import { freePort, type ServerProcess, startProcess } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'HYPERION_TRACING_ENDPOINT',
    'USER_SERVICE_URL',
    'ORDER_SERVICE_URL',
  ])
    delete env[k];
  return { ...env, LOG_LEVEL: 'warn', ...extra };
}

describe('demo standalone services: peer base URLs', () => {
  const procs: ServerProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
  });

  const start = async (name: 'gateway' | 'user-service', port: number, extra: NodeJS.ProcessEnv) => {
    const url = `http://127.0.0.1:${port}`;
    const proc = await startProcess({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', `demo/${name}.ts`],
      cwd: root,
      env: cleanEnv({ PORT: String(port), ...extra }),
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
    return url;
  };

  it('a trailing slash is dropped: the gateway reaches the user service and answers 200', async () => {
    const [gwPort, userPort] = [await freePort(), await freePort()];
    await start('user-service', userPort, {});
    const gw = await start('gateway', gwPort, { USER_SERVICE_URL: `http://127.0.0.1:${userPort}/` });
    const res = await fetch(`${gw}/users/3`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { id?: number };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.id, 3);
  });

  it('a URL without http:// or https:// stops the program at start (exit 1) naming the variable', async () => {
    const port = await freePort();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'demo/gateway.ts'],
        {
          cwd: root,
          env: cleanEnv({ PORT: String(port), ORDER_SERVICE_URL: 'localhost:8082' }),
          timeout: 60_000,
        },
        (err, _stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    assert.equal(code, 1, stderr);
    assert.match(stderr, /ORDER_SERVICE_URL must be an http:\/\/ or https:\/\/ base URL/);
  });

  it('a peer URL on a port fetch refuses (6666) stops the program at start (exit 1) naming the variable (found from outside)', async () => {
    // The gateway started, the user service answered on 6666 to anyone but fetch, and every call
    // through the gateway was a 502 "user-service did not answer", reason "TypeError".
    const port = await freePort();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'demo/gateway.ts'],
        {
          cwd: root,
          env: cleanEnv({ PORT: String(port), USER_SERVICE_URL: 'http://127.0.0.1:6666' }),
          timeout: 60_000,
        },
        (err, _stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    assert.equal(code, 1, stderr);
    assert.match(
      stderr,
      /USER_SERVICE_URL must not use port 6666: fetch and browsers refuse to connect to it/,
    );
  });

  it('serviceUrl: the ports fetch refuses are refused, the others taken', async () => {
    for (const port of [6000, 6666, 10080, 5060, 2049])
      assert.throws(
        () => serviceUrl('X', 'd', { X: `http://h:${port}` }),
        new RegExp(`^EnvError: X must not use port ${port}`),
      );
    for (const port of [6001, 6379, 8081, 5432, 16686])
      assert.equal(serviceUrl('X', 'd', { X: `http://h:${port}/` }), `http://h:${port}`);
    // Refused where fetch refuses (it fails before connecting), taken where it connects.
    const refused = await fetch('http://127.0.0.1:6666/').then(
      () => 'answered',
      (e: Error & { cause?: Error }) => String(e.cause?.message ?? e.cause),
    );
    assert.match(refused, /bad port/);
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = serviceUrl('X', 'd', { X: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      assert.equal(await (await fetch(base, { signal: AbortSignal.timeout(5000) })).text(), 'ok');
    } finally {
      server.close();
    }
  });

  it('serviceUrl: unset or empty → the default; slashes dropped; query, credentials or other schemes refused', () => {
    assert.equal(serviceUrl('USER_SERVICE_URL', 'http://d:1', {}), 'http://d:1');
    assert.equal(serviceUrl('USER_SERVICE_URL', 'http://d:1', { USER_SERVICE_URL: ' ' }), 'http://d:1');
    assert.equal(serviceUrl('X', 'd', { X: 'http://h:8081//' }), 'http://h:8081');
    assert.equal(serviceUrl('X', 'd', { X: 'https://h/api/' }), 'https://h/api');
    for (const bad of ['h:8081', 'ftp://h', 'http://h:1/?a=1', 'http://h:1/#x'])
      assert.throws(() => serviceUrl('X', 'd', { X: bad }), /^EnvError: X must be/, bad);
    assert.throws(
      () => serviceUrl('X', 'd', { X: 'http://u:sekrit@h:1' }),
      (e: Error) => /X must be/.test(e.message) && !e.message.includes('sekrit'),
    );
  });

  it('serviceUrl: a malformed URL holding credentials is refused without echoing them (found from outside)', () => {
    // A scheme typo (`http//`), no scheme, or `//` alone: the URL parser finds no user name or
    // password in these, so the value used to be echoed whole, `got "http//u:sekrit@h:8081"`.
    for (const bad of [
      'http//u:sekrit@h:8081',
      'u:sekrit@h:8081',
      '//u:sekrit@h:8081',
      'ftp://u:sekrit@h',
      'sekrit@h:1',
    ]) {
      assert.throws(
        () => serviceUrl('X', 'd', { X: bad }),
        (e: Error) =>
          /^X must be an http:\/\/ or https:\/\/ base URL/.test(e.message) && !e.message.includes('sekrit'),
        bad,
      );
    }
    // Without an `@` the value is still shown, as it helps to see the typo.
    assert.throws(() => serviceUrl('X', 'd', { X: 'h:8081' }), /got "h:8081"/);
  });
});
