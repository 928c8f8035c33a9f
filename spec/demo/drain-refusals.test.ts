/**
 * The demo's service listener during a shutdown: a request `drainServer` refuses with 503 is
 * recorded under its route (server span, `http_server_request_duration_seconds` with status 503),
 * as with a plain `traceHandler`; `/healthz` is refused, not served. The demo's router was a plain
 * listener, so its 503s had no span and no sample.
 */
import assert from 'node:assert/strict';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import { describe, it } from 'node:test';
import { createServiceListener, hyperionServe } from '../../demo/http.js';
import { createApp } from '../../lib/core/app.js';
import { drainServer } from '../../lib/core/drain.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}

function get(port: number, path: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: new Agent() }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('demo service listener while draining', () => {
  it('a refused request is recorded under its route (span and duration sample with 503); /healthz is refused, not served', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', serviceName: 'demo-drain' });
    const metrics = createMetrics({ port: 0, logger: { warn() {} } });
    const app = createApp({ tracer, metrics });
    const address = await metrics.listen();
    let calls = 0;
    let health = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const server = createServer(
      createServiceListener({
        ctx: app.ctx,
        serve: hyperionServe(metrics),
        health: () => {
          health++;
          return {};
        },
        routes: [
          {
            method: 'GET',
            path: '/users/:id',
            handler: async () => {
              calls++;
              await released;
              return { status: 200, body: { ok: true } };
            },
          },
        ],
      }),
    );
    const port = await listen(server);
    const drain = drainServer(server, { graceMs: 5000 });
    app.defer('http', drain);
    try {
      const running = get(port, '/users/1').catch((e: Error) => ({ status: 0, body: e.message }));
      await waitFor(() => calls === 1, { what: 'the first request running' });
      const closing = app.close();
      await waitFor(() => drain.draining, { what: 'drain started' });
      const [late, healthz, missing] = await Promise.all([
        get(port, '/users/2'),
        get(port, '/healthz'),
        get(port, '/nope'),
      ]);
      assert.deepEqual([late.status, healthz.status, missing.status], [503, 503, 503]);
      assert.equal(calls, 1, 'the route handler ran for a refused request');
      assert.equal(health, 0, '/healthz was served during the drain');

      const scrape = await (await fetch(address!.url)).text();
      const refused = scrape
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('http_server_request_duration_seconds_count{') &&
            l.includes('http_response_status_code="503"'),
        );
      assert.equal(refused.length, 2, `503 samples:\n${refused.join('\n')}`);
      assert.ok(refused.some((l) => l.includes('http_route="/users/:id"') && l.endsWith(' 1')));
      assert.ok(refused.some((l) => l.includes('http_route="unmatched"') && l.endsWith(' 1')));

      const spans = tracer.finishedSpans().filter((s) => s.attributes['http.response.status_code'] === 503);
      assert.deepEqual(spans.map((s) => s.name).sort(), ['GET', 'GET /users/:id']);
      for (const s of spans) assert.equal(s.attributes['hyperion.http.refused'], 'draining');

      release();
      assert.equal((await running).status, 200);
      await closing;
    } finally {
      release();
      server.closeAllConnections();
      server.close();
      await app.close();
    }
  });
});
