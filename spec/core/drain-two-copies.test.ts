/**
 * Two copies of the package in one process (two versions installed side by side: the
 * application's and a library's nested one): the server is drained by one copy's `drainServer`
 * while its handler is wrapped by the other copy's `traceHandler`. The drain hands a request it
 * refuses to the wrappers marked as refusal-aware (a mark both copies read), and the wrapper asks
 * for the refusal to write; each copy kept its refusals in a map of its own, so the wrapper of the
 * other copy found none and ran the handler: a request that arrived during the drain was served
 * (200) instead of refused (503). The refusals are now process-wide.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as core from '../../lib/core/index.js';
import type * as tracing from '../../lib/tracing/index.js';
import { deferred } from '../harness/clock.js';
import { type SecondCopy, secondCopy } from '../harness/second-copy.js';

let copy: SecondCopy;
let other: { core: typeof core; tracing: typeof tracing };
before(async () => {
  copy = await secondCopy();
  const load = (part: string) => import(pathToFileURL(join(copy.lib, part, 'index.ts')).href);
  other = { core: await load('core'), tracing: await load('tracing') };
});
after(() => copy.remove());

it("a request arriving while one copy's drainServer drains gets its 503 through the other copy's traceHandler", async () => {
  const app = other.core.createApp();
  const served: string[] = [];
  const slowStarted = deferred();
  const releaseSlow = deferred();
  const server = createServer(
    other.tracing.traceHandler(app.ctx, async (_ctx, req, res) => {
      served.push(req.url ?? '');
      if (req.url === '/slow') {
        slowStarted.resolve();
        await releaseSlow.promise;
      }
      res.end(`served ${req.url}`);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => {
    received += chunk;
  });
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    socket.write('GET /slow HTTP/1.1\r\nHost: t\r\n\r\n');
    await slowStarted.promise;
    const drained = core.drainServer(server, { graceMs: 10_000 })();
    socket.write('GET /during-drain HTTP/1.1\r\nHost: t\r\n\r\n');
    releaseSlow.resolve();
    await drained;
    await ended;
  } finally {
    socket.destroy();
    releaseSlow.resolve();
    server.close();
    await app.close();
  }
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  assert.deepEqual(served, ['/slow'], `handler ran for: ${served.join(', ')}`);
  assert.deepEqual(statuses, ['200', '503'], received);
});
