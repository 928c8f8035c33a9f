/**
 * The demo's edge inputs (issue 15 items 7 and 8), against the three services in this process
 * (embedded pglite, in-memory L2, spans in memory): an oversized body gets its 413, and an
 * out-of-range `userId` stays a client error end to end.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { downstreamStatus } from '../../demo/http.js';
import { type RunningServices, startServices } from '../../demo/services/index.js';

let services: RunningServices;

before(async () => {
  services = await startServices({
    ports: { gateway: 0, user: 0, order: 0 },
    tracing: { exporter: 'memory' },
    logger: 'error',
  });
});
after(async () => {
  await services?.close();
});

async function post(url: string, body: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const item = { sku: 'mug', quantity: 1, unitPriceCents: 500 };

describe('POST /orders with a body over 64 KB', () => {
  for (const size of [100 * 1024, 4 * 1024 * 1024]) {
    it(`answers 413 and closes the connection (${size / 1024} KB body)`, async () => {
      const padding = 'x'.repeat(size);
      const r = await post(`${services.gateway.url}/orders`, { userId: 1, items: [item], padding });
      assert.equal(r.status, 413);
      assert.match(String(r.body.error), /larger than 65536 bytes/);
      assert.equal(r.headers.get('connection'), 'close');
    });
  }

  it('a node:http client sending slowly still reads the 413 (no reset)', async () => {
    const url = new URL(`${services.gateway.url}/orders`);
    const result = await new Promise<{ status?: number; error?: string }>((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode }));
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      const chunk = Buffer.alloc(16 * 1024, 'x');
      let sent = 0;
      const write = () => {
        if (sent >= 8) return req.end();
        sent++;
        req.write(chunk);
        setTimeout(write, 10);
      };
      write();
    });
    assert.deepEqual(result, { status: 413 });
  });
});

describe('POST /orders announcing a body over 64 KB with Expect: 100-continue', () => {
  /** Sends the headers only, as curl does before its body; resolves with all that comes back. */
  const announce = (base: string, length: number) =>
    new Promise<string>((resolve, reject) => {
      const u = new URL(base);
      const socket = connect(Number(u.port), u.hostname);
      let got = '';
      socket.on('data', (b: Buffer) => {
        got += b.toString();
        // A small body is invited: send it, so the request completes.
        if (got === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('{}');
      });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => {
        socket.destroy();
        resolve(`${got}<no answer within 10 s>`);
      });
      socket.write(
        `POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
      );
    });

  it('is refused with 413 at once, without inviting the body (no 100 Continue)', async () => {
    for (const base of [services.gateway.url, services.order.url]) {
      const got = await announce(base, 10_000_000);
      assert.match(got, /^HTTP\/1\.1 413 /, `${base}: ${JSON.stringify(got.slice(0, 200))}`);
      assert.match(got, /\{"error":"request body larger than 65536 bytes"\}$/);
    }
  });

  it('a body within the limit is still invited with 100 Continue and read', async () => {
    const got = await announce(services.gateway.url, 2);
    assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 400 /, JSON.stringify(got.slice(0, 200)));
    assert.match(got, /"userId":\["is required"\]/);
  });
});

describe('POST /orders with more than 20 items (a 63 KB body of 21,000 `{}`)', () => {
  // Each item used to be checked before the count: a 2.4 MB answer listing 63,000 fields.
  const body = `{"userId":1,"items":[${Array.from({ length: 21_000 }, () => '{}').join(',')}]}`;
  for (const target of ['gateway', 'order'] as const)
    it(`the ${target === 'gateway' ? 'gateway' : 'order service'} answers 400 naming items alone, not every item`, async () => {
      const r = await post(`${services[target].url}/orders`, body);
      assert.equal(r.status, 400);
      assert.deepEqual(r.body.fields, { items: ['must hold at most 20 items'] });
    });

  it('within 20, every bad item is still reported with its path', async () => {
    const r = await post(`${services.gateway.url}/orders`, {
      userId: 1,
      items: [{}, { ...item, quantity: 0 }],
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.fields, {
      'items.0.sku': ['is required'],
      'items.0.quantity': ['is required'],
      'items.0.unitPriceCents': ['is required'],
      'items.1.quantity': ['must be ≥ 1'],
    });
  });
});

describe('a POST /orders body, or an item of it, that is a JSON array', () => {
  // It passed the schema's object check and was answered "userId: is required, items: is required".
  for (const target of ['gateway', 'order'] as const)
    it(`the ${target === 'gateway' ? 'gateway' : 'order service'} answers 400: the body must be a JSON object`, async () => {
      for (const body of [[], [{ userId: 1, items: [item] }]]) {
        const r = await post(`${services[target].url}/orders`, body);
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { error: 'invalid order', fields: { $: ['must be a JSON object'] } });
      }
    });
  it('an item that is an array (a tuple such as ["mug", 1, 500]) is "must be an object"', async () => {
    const r = await post(`${services.gateway.url}/orders`, { userId: 1, items: [item, ['mug', 1, 500]] });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.fields, { 'items.1': ['must be an object'] });
  });
});

describe('userId out of range', () => {
  for (const userId of [3_000_000_000, 1e300, 2_147_483_648]) {
    it(`the gateway answers 400 with the field for userId ${userId}`, async () => {
      const r = await post(`${services.gateway.url}/orders`, { userId, items: [item] });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body.fields?.userId, ['must be ≤ 2147483647']);
    });
  }

  it('sent straight to the order service it is a 400 too, never a 502', async () => {
    const r = await post(`${services.order.url}/orders`, { userId: 3_000_000_000, items: [item] });
    assert.equal(r.status, 400);
  });

  it('1e300 in the JSON text is rejected too', async () => {
    const r = await post(
      `${services.gateway.url}/orders`,
      `{"userId":1e300,"items":[${JSON.stringify(item)}]}`,
    );
    assert.equal(r.status, 400);
  });

  it('the largest valid id passes validation and is an unknown user (422), not a 5xx', async () => {
    const r = await post(`${services.gateway.url}/orders`, { userId: 2_147_483_647, items: [item] });
    assert.equal(r.status, 422);
  });

  it('a downstream 4xx stays a 4xx: GET /users/:id with a bad id through the gateway', async () => {
    const res = await fetch(`${services.gateway.url}/users/3000000000/orders`);
    assert.equal(res.status, 400);
    const res2 = await fetch(`${services.gateway.url}/users/999999/orders`);
    assert.equal(res2.status, 404);
  });

  it('maps downstream statuses: 4xx → same 4xx, 503 → 503, other failures → 502', () => {
    assert.equal(downstreamStatus(400), 400);
    assert.equal(downstreamStatus(404), 404);
    assert.equal(downstreamStatus(422), 422);
    assert.equal(downstreamStatus(503), 503);
    assert.equal(downstreamStatus(500), 502);
    assert.equal(downstreamStatus(502), 502);
    assert.equal(downstreamStatus(301), 502);
  });
});

describe('methods: HEAD, and the 405 of a known path', () => {
  it('HEAD is served by the GET route: its status and headers, no body', async () => {
    for (const path of ['/users/1', '/users/1/orders', '/users/999999', '/healthz']) {
      const get = await fetch(`${services.gateway.url}${path}`);
      await get.text();
      const head = await fetch(`${services.gateway.url}${path}`, { method: 'HEAD' });
      assert.equal(head.status, get.status, `HEAD ${path}`);
      assert.equal(head.headers.get('content-type'), get.headers.get('content-type'), `HEAD ${path}`);
      assert.equal(await head.text(), '', `HEAD ${path}`);
    }
  });

  it('a method the path does not take gets 405 with the Allow header', async () => {
    const cases: [string, string, string][] = [
      ['DELETE', '/users/1', 'GET, HEAD'],
      ['OPTIONS', '/users/1/orders', 'GET, HEAD'],
      ['PUT', '/users/abc', 'GET, HEAD'],
      ['GET', '/orders', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${services.gateway.url}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
      assert.deepEqual(await res.json(), { error: 'method not allowed' });
    }
  });

  it('405s and HEADs are counted under the route template in /metrics', async () => {
    await (await fetch(`${services.user.url}/users/5`, { method: 'DELETE' })).text();
    await (await fetch(`${services.user.url}/users/5`, { method: 'HEAD' })).text();
    const text = await (await fetch(`${services.user.url}/metrics`)).text();
    const count = (method: string, status: string) =>
      text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('http_server_request_duration_seconds_count{') &&
            l.includes(`http_request_method="${method}"`) &&
            l.includes('http_route="/users/:id"') &&
            l.includes(`http_response_status_code="${status}"`),
        );
    assert.ok(count('DELETE', '405'), 'DELETE /users/:id 405 is recorded');
    assert.ok(count('HEAD', '200'), 'HEAD /users/:id 200 is recorded');
  });
});

describe('absolute-form request target (GET http://host/users/1)', () => {
  /** One request whose target is the absolute URL (as sent to a proxy); RFC 9112 3.2.2 says a server must accept it. */
  const absolute = (base: string, path: string) =>
    new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const u = new URL(base);
      const req = request({ host: u.hostname, port: u.port, path: `${base}${path}` }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('is routed like its origin form, on every service and for /metrics', async () => {
    const user = await absolute(services.gateway.url, '/users/1');
    assert.equal(user.status, 200, user.body);
    assert.equal(JSON.parse(user.body).id, 1);
    assert.equal((await absolute(services.order.url, '/users/1/orders')).status, 200);
    assert.equal((await absolute(services.user.url, '/users/999999')).status, 404);
    const metrics = await absolute(services.user.url, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /http_server_request_duration_seconds_count\{/);
    assert.equal((await absolute(services.gateway.url, '/healthz')).status, 200);
  });
});

describe('order items have one shape', () => {
  const keysOf = (orders: { items: Record<string, unknown>[] }[]) =>
    new Set(orders.flatMap((o) => o.items.map((i) => Object.keys(i).sort().join(','))));

  it('seeded orders read back with unitPriceCents, like the ones POST /orders makes', async () => {
    // User 1 starts with two seeded orders; add one through the API.
    const made = await post(`${services.gateway.url}/orders`, { userId: 1, items: [item] });
    assert.equal(made.status, 201);
    const res = await fetch(`${services.gateway.url}/users/1/orders`);
    assert.equal(res.status, 200);
    const { orders } = (await res.json()) as {
      orders: { totalCents: number; items: { quantity: number; unitPriceCents: number }[] }[];
    };
    assert.ok(orders.length >= 3, JSON.stringify(orders));
    assert.deepEqual([...keysOf(orders)], ['quantity,sku,unitPriceCents']);
    for (const o of orders)
      assert.equal(
        o.totalCents,
        o.items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0),
      );
  });

  it('an order stored by the earlier seed (unit_price_cents) is answered in the API shape', async () => {
    // A database seeded by an earlier demo keeps its rows: the seed runs on an empty table only.
    await services.db.query(`INSERT INTO orders (user_id, items, total_cents) VALUES ($1, $2::jsonb, $3)`, [
      2,
      JSON.stringify([{ sku: 'pen', quantity: 2, unit_price_cents: 150 }]),
      300,
    ]);
    const res = await fetch(`${services.order.url}/users/2/orders`);
    assert.equal(res.status, 200);
    const { orders } = (await res.json()) as { orders: { items: Record<string, unknown>[] }[] };
    assert.deepEqual(
      orders.map((o) => o.items),
      [[{ sku: 'pen', quantity: 2, unitPriceCents: 150 }]],
    );
  });
});

describe('a path parameter that is not valid percent-encoding', () => {
  it('is a 400 saying so on every service, not a 404 "no such route"', async () => {
    for (const [base, path] of [
      [services.gateway.url, '/users/%E0%A4%A'],
      [services.gateway.url, '/users/%ZZ/orders'],
      [services.user.url, '/users/%C3'],
      [services.order.url, '/users/%/orders'],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      const body = await res.json();
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(body)}`);
      assert.deepEqual(body, { error: 'malformed percent-encoding in the path' });
    }
    // A valid escape still reaches its route (é is not an id: the route's own 400).
    const ok = await fetch(`${services.gateway.url}/users/%C3%A9`);
    assert.equal(ok.status, 400);
    assert.deepEqual(await ok.json(), {
      error: 'invalid id',
      fields: { id: ['must be a positive integer'] },
    });
  });
});

describe('CONNECT (a proxy tunnel request)', () => {
  it('is answered 405 with Allow on every service, not a connection closed without a word', async () => {
    for (const [base, allow] of [
      [services.gateway.url, 'GET, HEAD, POST'],
      [services.user.url, 'GET, HEAD'],
      [services.order.url, 'GET, HEAD, POST'],
    ] as const) {
      const u = new URL(base);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(u.port), u.hostname);
        let got = '';
        socket.on('data', (b: Buffer) => {
          got += b.toString();
        });
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
        socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
        socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      });
      assert.match(raw, /^HTTP\/1\.1 405 Method Not Allowed\r\n/, `${base}: ${JSON.stringify(raw)}`);
      assert.ok(raw.includes(`\r\nAllow: ${allow}\r\n`), `${base}: ${JSON.stringify(raw)}`);
      assert.ok(raw.endsWith('\r\n\r\n{"error":"method not allowed"}'), raw);
    }
  });
});

describe('a lookup of a user that does not exist', () => {
  it('its cache span is a miss (cache.hit false, cache.layer none), not an error span, in the gateway and the user service', async () => {
    const id = 900_000 + (Date.now() % 90_000);
    const res = await fetch(`${services.gateway.url}/users/${id}`);
    assert.equal(res.status, 404);
    await res.text();
    for (const svc of [services.gateway, services.user]) {
      const span = svc
        .tracer!.finishedSpans()
        .find((s) => s.name === 'cache user' && s.attributes['cache.key'] === `user:${id}`);
      assert.ok(span, `${svc.name}: no cache span`);
      assert.equal(span.status.code, 0, `${svc.name}: status ${JSON.stringify(span.status)}`);
      assert.equal(span.attributes['cache.hit'], false, svc.name);
      assert.equal(span.attributes['cache.layer'], 'none', svc.name);
    }
  });
});

describe('a path that matches no route', () => {
  it('its server span is named by the method alone, without http.route; the metric keeps http_route="unmatched"', async () => {
    const path = `/no-such-route-${Date.now()}`;
    const res = await fetch(`${services.user.url}${path}`);
    assert.equal(res.status, 404);
    await res.text();
    const span = services.user
      .tracer!.finishedSpans()
      .find((s) => s.attributes['url.path'] === path && s.attributes['http.response.status_code'] === 404);
    assert.ok(span, 'no server span for the 404');
    assert.equal(span.name, 'GET');
    assert.equal(span.attributes['http.route'], undefined);
    const text = await (await fetch(`${services.user.url}/metrics`)).text();
    assert.match(
      text,
      /http_server_request_duration_seconds_count\{[^}]*http_route="unmatched"[^}]*http_response_status_code="404"/,
    );
  });
});

describe('the asterisk-form target (OPTIONS *, RFC 9110 9.3.7)', () => {
  /** One request with the target `*`, as `curl -X OPTIONS --request-target '*'` sends it. */
  const asterisk = (base: string, method: string) =>
    new Promise<{ status?: number; allow?: string; length?: string; body: string }>((resolve, reject) => {
      const u = new URL(base);
      const req = request({ host: u.hostname, port: u.port, path: '*', method }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString();
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            allow: res.headers.allow,
            length: res.headers['content-length'],
            body,
          }),
        );
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end();
    });

  it('OPTIONS * is answered 200 with the methods of the server, not a 404 "no such route"', async () => {
    const expected: [string, string][] = [
      [services.gateway.url, 'GET, HEAD, POST'],
      [services.user.url, 'GET, HEAD'],
      [services.order.url, 'GET, HEAD, POST'],
    ];
    for (const [base, allow] of expected) {
      const r = await asterisk(base, 'OPTIONS');
      assert.equal(r.status, 200, `${base}: ${r.body}`);
      assert.equal(r.allow, allow, base);
      assert.equal(r.length, '0', base);
      assert.equal(r.body, '');
    }
  });

  it('another method with the target * is a 400, not a 404', async () => {
    const r = await asterisk(services.gateway.url, 'GET');
    assert.equal(r.status, 400, r.body);
    assert.match(JSON.parse(r.body).error, /only for OPTIONS/);
  });
});

describe('POST /orders: the body must be JSON as sent (Content-Type, charset, Content-Encoding)', () => {
  const order = JSON.stringify({ userId: 1, items: [item] });
  const send = async (headers: Record<string, string>, body: string | Uint8Array = order) => {
    const res = await fetch(`${services.gateway.url}/orders`, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    return {
      status: res.status,
      acceptPost: res.headers.get('accept-post'),
      body: (await res.json()) as { error?: string },
    };
  };

  // Before: all of these were accepted (201) or misread as "not valid JSON" (400).
  const refused: [string, Record<string, string>, RegExp][] = [
    [
      'text/plain (what fetch sends for a string body)',
      { 'content-type': 'text/plain' },
      /got "text\/plain"/,
    ],
    [
      'a form (curl -d)',
      { 'content-type': 'application/x-www-form-urlencoded' },
      /got "application\/x-www-form-urlencoded"/,
    ],
    ['charset=latin1', { 'content-type': 'application/json; charset=latin1' }, /must be UTF-8/],
    [
      'a gzip Content-Encoding',
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      /Content-Encoding "gzip" is not supported/,
    ],
  ];
  for (const [what, headers, message] of refused)
    it(`${what}: 415 with Accept-Post: application/json`, async () => {
      const r = await send(headers);
      assert.equal(r.status, 415, JSON.stringify(r.body));
      assert.equal(r.acceptPost, 'application/json');
      assert.match(String(r.body.error), message);
    });

  it('application/json with charset=UTF-8, and an application/…+json type, are accepted', async () => {
    assert.equal((await send({ 'content-type': 'application/json; charset=UTF-8' })).status, 201);
    assert.equal((await send({ 'content-type': 'application/vnd.demo+json' })).status, 201);
  });

  it('invalid JSON sent as JSON is still a 400', async () => {
    const r = await send({ 'content-type': 'application/json' }, '{"userId": 1,');
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /not valid JSON/);
  });
});
