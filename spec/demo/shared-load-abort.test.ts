/**
 * Two clients ask the gateway for the same user while it is not cached: the second joins the
 * first one's load (the cache's single flight). The first client hangs up. The load ran with the
 * first request's `ctx.signal`, which `callService` follows, so the call to the user service was
 * aborted and the second client — still connected — got a 502 "user-service did not answer"
 * (`AbortError`). The shared load no longer follows any one caller's signal: the second client
 * gets the user, from the one call made upstream.
 */
import assert from 'node:assert/strict';
import { createServer, request, type ServerResponse } from 'node:http';
import { after, before, it } from 'node:test';
import { type ServiceHandle, startService } from '../../demo/services/index.js';
import { waitFor } from '../harness/process.js';

/** The stand-in user service: holds every answer until the test releases it. */
const held: ServerResponse[] = [];
const upstream = createServer((_req, res) => void held.push(res));
let gateway: ServiceHandle;

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  gateway = await startService({
    name: 'gateway',
    port: 0,
    tracing: { exporter: 'memory' },
    peers: { user: () => url, order: () => url },
    logger: 'error',
  });
});
after(async () => {
  for (const res of held) res.destroy();
  await gateway?.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

it('a client hanging up does not fail the other requests waiting on the same load', async () => {
  const { port } = new URL(gateway.url);
  // First client: a raw request, so that it can hang up mid-request.
  const first = request({ host: '127.0.0.1', port: Number(port), path: '/users/7' });
  first.on('error', () => {});
  first.end();
  await waitFor(() => held.length === 1, { what: 'the load to reach the user service' });
  // Second client: joins the load in flight (its getOrSet is the cache's second miss).
  const second = fetch(`${gateway.url}/users/7`, { signal: AbortSignal.timeout(10_000) }).then(async (r) => ({
    status: r.status,
    body: await r.text(),
  }));
  await waitFor(() => gateway.layers.cache.stats?.().misses === 2, { what: 'the second request to join' });
  // The first client goes away, and the gateway has seen it (its request counted as aborted)
  // before the user service answers.
  first.destroy();
  const metrics = async () => (await fetch(`${gateway.url}/metrics`)).text();
  await waitFor(async () => /error_type="aborted"/.test(await metrics()), {
    what: 'the first request to be recorded as aborted',
  });
  // The user service answers the one call it got.
  for (const res of held) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 7, name: 'Ada', email: 'ada@example.com' }));
  }
  const answer = await second;
  assert.equal(answer.status, 200, answer.body);
  assert.deepEqual(JSON.parse(answer.body), { id: 7, name: 'Ada', email: 'ada@example.com' });
  assert.equal(held.length, 1, 'one call to the user service');
});
