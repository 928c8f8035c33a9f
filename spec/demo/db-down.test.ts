/**
 * PostgreSQL stops under the running demo services (a real server, started by the harness, then
 * shut down): requests that need the database get `503` with `Retry-After`, not `500`, end to end
 * through the gateway; `/healthz` stops saying `ok` (`degraded`, `checks.database: down`) and
 * `/readyz` answers `503`, while the service itself keeps answering.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { isDatabaseUnavailable } from '../../demo/db.js';
import { type RunningServices, startServices } from '../../demo/services/index.js';
import { type PostgresServer, skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';

async function call(url: string, init?: RequestInit) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

describeWithServers('demo services with PostgreSQL down', skipPostgres(), () => {
  let pg: PostgresServer;
  let services: RunningServices;

  before(async () => {
    pg = await startPostgres();
    services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      databaseUrl: pg.url,
      tracing: { exporter: 'memory' },
      logger: 'error',
    });
  });
  after(async () => {
    await services?.close().catch(() => {});
    await pg?.stop();
  });

  it('while it is up: /healthz ok, /readyz ready, reads answer 200', async () => {
    for (const s of [services.user, services.order]) {
      const h = await call(`${s.url}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(h.body?.status, 'ok');
      assert.deepEqual(h.body?.checks, { database: 'up' });
      const r = await call(`${s.url}/readyz`);
      assert.equal(r.status, 200);
      assert.equal(r.body?.status, 'ready');
    }
    assert.equal((await call(`${services.gateway.url}/users/1`)).status, 200);
    // User 2 is now in the user service's cache; its order list was never read.
    assert.equal((await call(`${services.user.url}/users/2`)).status, 200);
  });

  it('once it is down: 503 with Retry-After for every request that needs it, through the gateway too', async () => {
    await pg.stop();
    const orderOf = (userId: number) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId, items: [{ sku: 'mug', quantity: 1, unitPriceCents: 500 }] }),
    });
    const order = orderOf(1);
    // Users never read before: not in any cache, so the database is asked.
    const cases: [string, string, RequestInit?][] = [
      ['user-service GET /users/:id', `${services.user.url}/users/151`],
      ['gateway GET /users/:id', `${services.gateway.url}/users/150`],
      ['gateway GET /users/:id/orders', `${services.gateway.url}/users/152/orders`],
      ['order-service GET /users/:id/orders', `${services.order.url}/users/153/orders`],
      // The user is served from the cache; its order list needs the database (the user service
      // answered `{"error": "order service failed", "upstream": 503}`).
      ['gateway GET /users/:id/orders, user cached', `${services.gateway.url}/users/2/orders`],
      ['user-service GET /users/:id/orders, user cached', `${services.user.url}/users/2/orders`],
      ['gateway POST /orders', `${services.gateway.url}/orders`, order],
      // A user never read: the order service's check with the user service gets the 503.
      ['gateway POST /orders, user not cached', `${services.gateway.url}/orders`, orderOf(154)],
    ];
    for (const [what, url, init] of cases) {
      const r = await call(url, init);
      assert.equal(r.status, 503, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(r.retryAfter, '5', `${what}: Retry-After`);
      assert.match(JSON.stringify(r.body), /database unavailable/, what);
      // The documented body, as the service said it: the gateway's GET /users/:id wrapped it
      // (`{"error": "upstream answered", "upstream": {…}}`) while its /users/:id/orders passed it on,
      // and the order service answered `{"error": "user service failed", "upstream": 503}`.
      assert.deepEqual(r.body, { error: 'database unavailable' }, what);
    }
  });

  it('once it is down: a failed user lookup counts as user_lookups_total{result="error"}, not as a miss', async () => {
    const lookups = async () => {
      const text = await (await fetch(`${services.user.url}/metrics`)).text();
      const of = (result: string) =>
        Number(
          text.match(new RegExp(`^user_lookups_total\\{result="${result}"[^}]*\\} (\\S+)$`, 'm'))?.[1] ?? 0,
        );
      return { miss: of('miss'), error: of('error') };
    };
    const before = await lookups();
    // A user never read: not cached, so the database is asked (and is down).
    assert.equal((await call(`${services.user.url}/users/160`)).status, 503);
    const after = await lookups();
    // It was counted as a miss, so a dead database looked like a cold cache.
    assert.equal(after.miss, before.miss, 'no miss counted');
    assert.equal(after.error, before.error + 1, 'one error counted');
  });

  it('once it is down: /healthz degraded (still 200, the process is alive), /readyz 503 naming the database', async () => {
    for (const s of [services.user, services.order]) {
      const h = await call(`${s.url}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(h.body?.status, 'degraded');
      assert.deepEqual(h.body?.checks, { database: 'down' });
      const r = await call(`${s.url}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(r.retryAfter, '5');
      assert.equal(r.body?.status, 'unavailable');
      assert.deepEqual(r.body?.checks, { database: 'down' });
    }
    // The gateway has no database of its own: it stays ready (it serves its L1 and relays 503s).
    assert.equal((await call(`${services.gateway.url}/readyz`)).status, 200);
  });
});

it('isDatabaseUnavailable: connection faults yes, statement errors no', () => {
  const pgError = (code: string) => Object.assign(new Error('x'), { code });
  assert.equal(isDatabaseUnavailable(pgError('ECONNREFUSED')), true);
  assert.equal(isDatabaseUnavailable(pgError('57P01')), true, 'admin shutdown');
  assert.equal(isDatabaseUnavailable(pgError('08006')), true, 'connection failure');
  assert.equal(isDatabaseUnavailable(pgError('57014')), true, 'statement cancelled by statement_timeout');
  assert.equal(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect')), true);
  assert.equal(
    isDatabaseUnavailable(new Error('wrapped', { cause: new Error('Connection terminated unexpectedly') })),
    true,
  );
  assert.equal(isDatabaseUnavailable(pgError('42P01')), false, 'undefined table');
  assert.equal(isDatabaseUnavailable(pgError('23505')), false, 'unique violation');
  assert.equal(isDatabaseUnavailable(new Error('boom')), false);
  assert.equal(isDatabaseUnavailable(undefined), false);
});
