/**
 * Slow clients against the demo's gateway (three services in this process): a connection that
 * sends nothing or stops half-way through its headers is answered 408 and closed after about
 * 10 s, one that trickles its body after about 30 s. Before, Node's defaults (60 s for headers,
 * 300 s for the request, checked every 30 s) held such connections, and a POST's handler, for
 * minutes. The three run in parallel: the file takes about 31 s.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  HEADERS_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
  type RunningServices,
  startServices,
} from '../../demo/services/index.js';

let services: RunningServices;

before(async () => {
  services = await startServices({
    ports: { gateway: 0, user: 0, order: 0 },
    tracing: { exporter: 'memory' },
    logger: 'error',
  });
});
after(() => services?.close());

/** Opens a connection, writes `first`, then stalls; resolves with when and how the server ended it. */
function stall(port: number, first: string, giveUpMs: number) {
  return new Promise<{ ms: number; statusLine: string; closed: boolean }>((resolve) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(first));
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
    });
    socket.on('error', () => {});
    const done = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, statusLine: got.split('\r\n')[0] ?? '', closed });
    };
    socket.on('close', () => done(true));
    const timer = setTimeout(() => {
      socket.destroy();
      done(false);
    }, giveUpMs);
  });
}

describe('demo services: slow clients get 408 and are closed', () => {
  it('nothing sent, half the headers, half the body: 408 after the headers / request timeouts', async () => {
    const port = services.gateway.port;
    const bound = REQUEST_TIMEOUT_MS + 8000;
    const [nothing, headers, body] = await Promise.all([
      stall(port, '', bound),
      stall(port, 'GET /users/1 HTTP/1.1\r\nHost: gateway\r\n', bound),
      stall(
        port,
        'POST /orders HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
        bound,
      ),
    ]);
    for (const [what, r, limit] of [
      ['nothing sent', nothing, HEADERS_TIMEOUT_MS],
      ['half the headers', headers, HEADERS_TIMEOUT_MS],
      ['half the body', body, REQUEST_TIMEOUT_MS],
    ] as const) {
      assert.ok(r.closed, `${what}: still open after ${Math.round(r.ms)} ms`);
      assert.ok(r.ms >= limit - 500 && r.ms < limit + 5000, `${what}: closed after ${Math.round(r.ms)} ms`);
      // "nothing sent" gets the 408 too (Node answers it before closing).
      assert.match(r.statusLine, /^HTTP\/1\.1 408 /, what);
    }
    // The service still answers.
    assert.equal((await fetch(`${services.gateway.url}/users/1`)).status, 200);
  });
});
