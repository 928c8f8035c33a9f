/**
 * A peer that refuses connections (stopped, not started yet): the caller answers `503` with
 * `Retry-After` — as every other 503 of the demo — and its client span and
 * `http_client_request_duration_seconds` name the cause, `error.type` / `error_type`
 * `ECONNREFUSED`. Found from outside (standalone gateway, user and order services down): the 503
 * had no `Retry-After`, and the metric and span said `error_type="TypeError"` — fetch's class for
 * every network failure. Gateway and user service in-process, embedded database; needs no server.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type ServiceHandle, startService } from '../../demo/services/index.js';
import { freePort } from '../harness/process.js';

describe('demo: a peer that refuses connections', () => {
  let gateway: ServiceHandle;
  let user: ServiceHandle;
  let downUrl: string;

  before(async () => {
    downUrl = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    user = await startService({
      name: 'user-service',
      port: 0,
      tracing: { exporter: 'memory' },
      peers: { user: () => downUrl, order: () => downUrl },
      logger: 'error',
    });
    gateway = await startService({
      name: 'gateway',
      port: 0,
      tracing: { exporter: 'memory' },
      peers: { user: () => user.url, order: () => downUrl },
      logger: 'error',
    });
  });
  after(async () => {
    await gateway?.close();
    await user?.close();
  });

  it('503 with Retry-After, passed on by the gateway, for a call whose peer refused', async () => {
    const cases: [string, string, RequestInit?][] = [
      // The gateway calls the order service, which is down.
      [
        'gateway POST /orders',
        `${gateway.url}/orders`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 1, items: [{ sku: 'mug', quantity: 1, unitPriceCents: 500 }] }),
        },
      ],
      // The user service calls the order service; the gateway passes its 503 on.
      ['gateway GET /users/:id/orders', `${gateway.url}/users/4/orders`],
      ['user-service GET /users/:id/orders', `${user.url}/users/4/orders`],
    ];
    for (const [what, url, init] of cases) {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 503, `${what}: ${JSON.stringify(body)}`);
      assert.equal(res.headers.get('retry-after'), '5', `${what}: Retry-After`);
      assert.equal(body.reason, 'ECONNREFUSED', what);
    }
  });

  it('the client span and http_client_request_duration_seconds say ECONNREFUSED, not TypeError', async () => {
    const port = new URL(downUrl).port;
    for (const s of [gateway, user]) {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const lines = text
        .split('\n')
        .filter(
          (l) => l.startsWith('http_client_request_duration_seconds_count{') && l.includes(`"${port}"`),
        );
      assert.ok(lines.length > 0, `${s.name}: a client sample for the refused peer\n${text}`);
      for (const l of lines) assert.match(l, /error_type="ECONNREFUSED"/, `${s.name}: ${l}`);
      const spans = s.tracer!.finishedSpans().filter((sp) => sp.attributes['server.port'] === Number(port));
      assert.ok(spans.length > 0, `${s.name}: a client span for the refused peer`);
      for (const sp of spans)
        assert.equal(sp.attributes['error.type'], 'ECONNREFUSED', `${s.name}: ${sp.name}`);
    }
  });
});

// A peer that takes the connection and resets it once the request arrives: the caller cannot know
// whether it was acted on. A GET may be sent again (Retry-After); a POST — an order that may have
// been written — gets its 503 without the invitation to send it twice.
describe('demo: a peer that resets the connection under the request', () => {
  let gateway: ServiceHandle;
  let resetUrl: string;
  const sockets = new Set<Socket>();
  const resetting = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('data', () => s.resetAndDestroy());
  });

  before(async () => {
    await new Promise<void>((r) => resetting.listen(0, '127.0.0.1', r));
    resetUrl = `http://127.0.0.1:${(resetting.address() as { port: number }).port}`;
    gateway = await startService({
      name: 'gateway',
      port: 0,
      tracing: { exporter: 'none' },
      peers: { user: () => resetUrl, order: () => resetUrl },
      logger: 'error',
    });
  });
  after(async () => {
    await gateway?.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => resetting.close(r));
  });

  it('GET: 503 with Retry-After; POST /orders: 503 without it', async () => {
    const get = await fetch(`${gateway.url}/users/3`, { signal: AbortSignal.timeout(15_000) });
    const getBody = (await get.json()) as Record<string, unknown>;
    assert.equal(get.status, 503, JSON.stringify(getBody));
    assert.equal(get.headers.get('retry-after'), '5');
    const post = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 1, items: [{ sku: 'mug', quantity: 1, unitPriceCents: 500 }] }),
      signal: AbortSignal.timeout(15_000),
    });
    const postBody = (await post.json()) as Record<string, unknown>;
    assert.equal(post.status, 503, JSON.stringify(postBody));
    assert.equal(
      post.headers.get('retry-after'),
      null,
      'no Retry-After for an order that may have been written',
    );
  });
});
