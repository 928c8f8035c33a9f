/**
 * `HOST=::1 npm run demo` (session-10 audit): the services listened on the IPv6 loopback, but
 * their URLs were `http://::1:8081`, which is no URL — every one of the 600 requests of the demo
 * failed ("network error: 600"), and so did the calls between services. An IPv6 literal must be
 * bracketed. In-process services, embedded database: needs no server (only an IPv6 loopback).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { type RunningServices, startServices } from '../../demo/services/index.js';

/** True when this machine can listen on ::1. */
async function hasIpv6Loopback(): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
}

describe('demo services bound to an IPv6 literal (HOST=::1)', async () => {
  const ipv6 = await hasIpv6Loopback();
  let services: RunningServices | undefined;
  after(async () => {
    await services?.close();
  });

  it('their URLs are bracketed and a request crossing all three services is answered', {
    skip: !ipv6 && 'no ::1 here',
  }, async () => {
    services = await startServices({
      host: '::1',
      ports: { gateway: 0, user: 0, order: 0 },
      tracing: { exporter: 'none' },
      logger: 'error',
    });
    for (const s of services.all) assert.match(s.url, /^http:\/\/\[::1\]:\d+$/);
    const res = await fetch(`${services.gateway.url}/users/4/orders`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { user?: { id: number }; orders?: unknown[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.user?.id, 4);
    assert.ok(Array.isArray(body.orders));
  });
});
