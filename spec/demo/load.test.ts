/**
 * `demo/load.ts` (the README's walk-through step 2) with bad arguments or no gateway behind the
 * URL: exit 1 with a line saying what is wrong, never "0 requests" or "N failed" and exit 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { freePort } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runLoad(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/load.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, JAEGER_UI_URL: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    }),
  );
}

describe('demo/load.ts', () => {
  const cases: [string[], RegExp][] = [
    [['http://127.0.0.1:8080', 'abc'], /^REQUESTS must be a whole number 1\.\.1000000, got "abc"$/m],
    [['http://127.0.0.1:8080', '-5'], /^REQUESTS must be a whole number/m],
    [['http://127.0.0.1:8080', '10', '0'], /^CONCURRENCY must be a whole number 1\.\.1000, got "0"$/m],
    // Found from outside: ignored without a word.
    [
      ['http://127.0.0.1:8080', '10', '2', '--verbose'],
      /^unexpected argument after CONCURRENCY: "--verbose"$/m,
    ],
    [['localhost:8080', '10'], /^BASE_URL must be an http:\/\/ or https:\/\/ URL, got "localhost:8080"$/m],
    // Found from outside: both echoed the password (a scheme typo in the "got" part; with
    // credentials fetch refused every request and "nothing at http://u:sekrit@… answered" followed).
    [
      ['http//u:sekrit@127.0.0.1:8080', '10'],
      /^BASE_URL must be an http:\/\/ or https:\/\/ URL \(the value is not shown/m,
    ],
    [
      ['http://u:sekrit@127.0.0.1:8080', '10'],
      /^BASE_URL must be an http:\/\/ or https:\/\/ URL without a user name or password$/m,
    ],
    // Found from outside: a gateway on a port fetch refuses got "nothing at … answered".
    [
      ['http://127.0.0.1:6666', '10'],
      /^BASE_URL must not use port 6666: fetch and browsers refuse to connect/m,
    ],
  ];
  for (const [args, expected] of cases)
    it(`refuses ${JSON.stringify(args)} with exit 1 and the usage`, async () => {
      const r = await runLoad(args);
      assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
      assert.match(r.err, expected);
      assert.match(r.err, /^usage: node --import tsx demo\/load\.ts/m);
      assert.ok(!`${r.out}${r.err}`.includes('sekrit'), 'no password printed');
    });

  // Found from outside: pointed at Jaeger's UI (an HTML page for every path) or Prometheus (a
  // plain-text 404), both in the compose stack, it printed "N answered (2xx/4xx), 0 failed", exit 0.
  for (const [what, status, type] of [
    ['an HTML page for every path (Jaeger UI)', 200, 'text/html'],
    ['a plain-text 404 for every path (Prometheus)', 404, 'text/plain'],
  ] as const)
    it(`another server at BASE_URL, ${what}: exit 1 naming what came back`, async () => {
      const server = createServer((_req, res) => {
        res.writeHead(status, { 'content-type': type }).end('not the gateway');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const r = await runLoad([base, '10', '2']);
        assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
        assert.match(r.out, /: 0 answered \(2xx\/4xx\), 10 failed;/);
        assert.match(
          r.err,
          new RegExp(
            `^no request to ${base} was served as the demo's gateway serves it \\(got 10 × ${status} \\(not JSON\\)\\)`,
            'm',
          ),
        );
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

  it('--help (or -h) prints the usage on stdout and exits 0, sending nothing', async () => {
    // It was refused as a BASE_URL: 'got "--help"', exit 1.
    for (const arg of ['--help', '-h']) {
      const r = await runLoad([arg]);
      assert.equal(r.code, 0, `stdout: ${r.out}\nstderr: ${r.err}`);
      assert.match(r.out, /^usage: node --import tsx demo\/load\.ts /);
      assert.equal(r.err, '');
    }
  });

  // Found from outside: the run stopped starting requests at 120 s without a word, then printed
  // "N requests in 120.0 s: N answered (2xx/4xx), 0 failed" and exited 0, N short of REQUESTS.
  it('a run cut at its time limit says so and exits 2 (LOAD_TIME_LIMIT_S)', async () => {
    // A gateway stand-in answering as the gateway does (JSON 200), each answer 300 ms late: 40
    // requests one at a time need 12 s, the limit is 1 s.
    const server = createServer((req, res) => {
      req.resume();
      const timer = setTimeout(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
        300,
      );
      res.once('close', () => clearTimeout(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await runLoad([base, '40', '1'], { LOAD_TIME_LIMIT_S: '1' });
      assert.equal(r.code, 2, `stdout: ${r.out}\nstderr: ${r.err}`);
      const m =
        /^stopped at the time limit \(LOAD_TIME_LIMIT_S=1 s\): (\d+) of the 40 requests asked for were sent;/m.exec(
          r.err,
        );
      assert.ok(m, `stderr: ${r.err}`);
      assert.ok(Number(m[1]) < 40);
      assert.match(r.out, new RegExp(`^${m[1]} requests in `, 'm'));
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('LOAD_TIME_LIMIT_S that is not a whole number 1..86400: exit 1 naming it, nothing sent', async () => {
    for (const value of ['0', 'abc', '1.5', '100000']) {
      // (Port 2: port 1 is one fetch refuses, itself refused as BASE_URL before this check.)
      const r = await runLoad(['http://127.0.0.1:2', '5'], { LOAD_TIME_LIMIT_S: value });
      assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
      assert.match(
        r.err,
        new RegExp(
          `^LOAD_TIME_LIMIT_S must be a whole number 1\\.\\.86400, got "${value.replace('.', '\\.')}"$`,
          'm',
        ),
      );
      assert.equal(r.out, '');
    }
  });

  it('no gateway at BASE_URL: exit 1, says nothing answered', async () => {
    const port = await freePort();
    const r = await runLoad([`http://127.0.0.1:${port}`, '5']);
    assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
    assert.match(r.err, new RegExp(`^nothing at http://127\\.0\\.0\\.1:${port} answered a request`, 'm'));
  });
});

describe('demo/load.ts: the trace link follows JAEGER_UI_URL', () => {
  let services: RunningServices;
  before(async () => {
    services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      tracing: { exporter: 'memory' },
      logger: 'error',
    });
  });
  after(() => services?.close());

  it('JAEGER_UI_URL set (with a base path and a trailing slash): the link points there', async () => {
    const r = await runLoad([services.gateway.url, '40', '4'], {
      JAEGER_UI_URL: 'http://jaeger.internal:9686/jaeger/',
    });
    assert.equal(r.code, 0, `stdout: ${r.out}\nstderr: ${r.err}`);
    // Before: always http://localhost:16686, whatever the stack's Jaeger address.
    assert.match(r.out, /^a trace to open: http:\/\/jaeger\.internal:9686\/jaeger\/trace\/[0-9a-f]{32}$/m);
  });

  it('the gateway under a path it does not have (`…/api`): its 404s are no success, exit 1', async () => {
    const r = await runLoad([`${services.gateway.url}/api`, '10', '2']);
    assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
    assert.match(r.err, /was served as the demo's gateway serves it \(got 10 × 404\)/);
    assert.doesNotMatch(r.out, /a trace to open/);
  });

  it('unset: the compose stack default, http://localhost:16686', async () => {
    const r = await runLoad([services.gateway.url, '40', '4']);
    assert.equal(r.code, 0, `stdout: ${r.out}\nstderr: ${r.err}`);
    assert.match(r.out, /^a trace to open: http:\/\/localhost:16686\/trace\/[0-9a-f]{32}$/m);
  });

  it('its output read by a reader that goes away (`| head -1`): no EPIPE stack trace, exit 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'demo/load.ts', services.gateway.url, '40', '4'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, JAEGER_UI_URL: '' },
      },
    );
    // The reader is gone before anything is written: the first write meets EPIPE.
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    // It was an uncaught 'error' event once the traffic had been sent: a stack trace, exit 1.
    assert.equal(code, 0, `stderr: ${err}`);
    assert.doesNotMatch(err, /EPIPE|Unhandled/);
  });

  it('not an http(s) URL: exit 1 naming JAEGER_UI_URL, no traffic sent', async () => {
    const r = await runLoad([services.gateway.url, '40', '4'], { JAEGER_UI_URL: 'jaeger:16686' });
    assert.equal(r.code, 1, `stdout: ${r.out}\nstderr: ${r.err}`);
    assert.match(r.err, /^JAEGER_UI_URL must be an http:\/\/ or https:\/\/ base URL/m);
    assert.equal(r.out, '');
  });
});
