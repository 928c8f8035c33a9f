/**
 * `metrics.instrument(handler)` under node:http2's compatibility API (`http2.createServer(handler)`,
 * or `createSecureServer({ allowHTTP1: true }, handler)`), which hands node:http-shaped req/res to
 * the same handler. A stream the client cancelled before the handler answered emits 'finish' there
 * and reports `writableFinished`, though the response was never ended: it was recorded as a
 * complete `200` without `error_type`, where an HTTP/1 connection going away is `aborted`.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createTestPki, skipOpenssl } from '../harness/tls.js';

const COUNT = 'http_server_request_duration_seconds_count';

describe('instrument() on a node:http2 compatibility server', () => {
  it('a completed request keeps its status; a cancelled stream is aborted (status only when its headers went out)', async (t) => {
    const metrics = createMetrics();
    t.after(() => metrics.close());
    let handled = 0;
    let onHandled: () => void = () => {};
    const server = http2.createServer(
      metrics.instrument(
        (req, res) => {
          handled++;
          onHandled();
          if (req.url === '/ok') res.end('ok');
          else if (req.url === '/partial') {
            res.writeHead(200);
            res.write('part');
          }
          // '/hang': never answered
        },
        { route: (req) => req.url ?? '' },
      ) as unknown as Parameters<typeof http2.createServer>[0],
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    client.on('error', () => {});
    t.after(() => {
      client.destroy();
      server.close();
    });
    /** One request; cancelled once the handler ran (and, for '/partial', once the headers arrived). */
    const call = (path: string, cancel: boolean) =>
      new Promise<void>((resolve) => {
        const before = handled;
        const stream = client.request({ ':path': path });
        stream.on('error', () => {});
        stream.on('close', () => resolve());
        stream.on('response', () => {
          stream.resume();
          if (cancel) stream.close(http2.constants.NGHTTP2_CANCEL);
        });
        if (cancel && path === '/hang') {
          onHandled = () => stream.close(http2.constants.NGHTTP2_CANCEL);
          if (handled > before) stream.close(http2.constants.NGHTTP2_CANCEL);
        }
        stream.end();
      });
    await call('/ok', false);
    await call('/hang', true);
    await call('/partial', true);
    // Recorded from the response's listeners: read until all three are there (bounded).
    let lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      const { body } = await metrics.render();
      lines = body.split('\n').filter((l) => l.startsWith(COUNT));
      if (lines.length >= 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const line = (route: string) => lines.find((l) => l.includes(`http_route="${route}"`));
    assert.match(line('/ok') ?? '', /http_response_status_code="200"/);
    assert.doesNotMatch(line('/ok') ?? '', /error_type/);
    assert.match(line('/hang') ?? '', /error_type="aborted"/, lines.join('\n'));
    assert.doesNotMatch(line('/hang') ?? '', /http_response_status_code/);
    assert.match(line('/partial') ?? '', /http_response_status_code="200"/);
    assert.match(line('/partial') ?? '', /error_type="aborted"/, lines.join('\n'));
  });
});

describe('instrument() on a node:http2 secure server', { skip: skipOpenssl() }, () => {
  it('records url_scheme="https" for HTTP/2 over TLS, as for HTTP/1.1 over TLS', async (t) => {
    const pki = await createTestPki();
    t.after(() => pki.remove());
    const metrics = createMetrics();
    t.after(() => metrics.close());
    const server = http2.createSecureServer(
      { cert: pki.server.certPem, key: pki.server.keyPem, allowHTTP1: true },
      metrics.instrument((_req, res) => void res.end('ok'), {
        route: (req) => (req.httpVersion === '2.0' ? '/h2' : '/h1'),
      }) as unknown as Parameters<typeof http2.createSecureServer>[1],
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = http2.connect(origin, { ca: pki.ca.certPem });
    client.on('error', () => {});
    t.after(() => {
      client.destroy();
      server.close();
    });
    await new Promise<void>((resolve, reject) => {
      const stream = client.request({ ':path': '/' });
      stream.on('error', reject);
      stream.on('end', () => resolve());
      stream.resume();
      stream.end();
    });
    await new Promise<void>((resolve, reject) =>
      get(origin, { ca: pki.ca.certPem }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      }).on('error', reject),
    );
    let lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      lines = (await metrics.render()).body.split('\n').filter((l) => l.startsWith(COUNT));
      if (lines.length >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // Before: the HTTP/2 request was url_scheme="http" (its socket, a proxy of the closed stream's
    // session, read when the response finished, no longer said `encrypted`).
    const line = (route: string) => lines.find((l) => l.includes(`http_route="${route}"`)) ?? '';
    assert.match(line('/h2'), /url_scheme="https"/, lines.join('\n'));
    assert.match(line('/h1'), /url_scheme="https"/, lines.join('\n'));
  });
});
