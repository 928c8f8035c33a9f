/**
 * A drained server is released. The drain closes the listener through net's `close()`, which —
 * unlike http's own `close()` — leaves the server's connections-checking interval (header and
 * request timeouts, unref'd) running for good; that interval held the server and, through its
 * request listener, everything the handler reaches (the app, its tracer, caches, metrics). A
 * process that built and closed apps repeatedly (workers, tests, reloads) kept every one of them:
 * ~0.2 MB per createApp/close cycle with an OTel tracer, metrics and a tiered cache (found by a
 * 250-cycle soak, heap after GC growing linearly). Counted with weak references, not timings.
 */
import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createApp } from '../../lib/core/app.js';
import { drainServer } from '../../lib/core/drain.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CYCLES = 10;

/** One app with a drained server that answered one request; weak references to what it held. */
async function cycle(): Promise<{ server: WeakRef<object>; app: WeakRef<object> }> {
  const app = createApp({});
  const server = createServer((_req, res) => res.end(String(app.ctx !== undefined)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.defer('http', drainServer(server));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    // agent: false — no pooled socket outlives the request (it would hold the server itself).
    get({ host: '127.0.0.1', port, agent: false }, (res) => {
      res.resume();
      res.once('end', resolve);
    }).once('error', reject);
  });
  await app.close();
  return { server: new WeakRef(server), app: new WeakRef(app) };
}

describe('drainServer releases the server after app.close()', () => {
  it(`${CYCLES} createApp/drain/close cycles leave no server and no app reachable`, async () => {
    const refs: { server: WeakRef<object>; app: WeakRef<object> }[] = [];
    for (let i = 0; i < CYCLES; i++) refs.push(await cycle());
    // Let the closed sockets' last callbacks run, then collect.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const servers = refs.filter((r) => r.server.deref() !== undefined).length;
    const apps = refs.filter((r) => r.app.deref() !== undefined).length;
    assert.deepEqual({ servers, apps }, { servers: 0, apps: 0 });
  });

  it(`${CYCLES} apps closed while their listen() was still binding leave no server and no app reachable`, async () => {
    // Close during startup: the drain resolves at once and closes the listener as soon as it
    // binds. Binding starts http's connections-checking interval, which that late close left
    // running for good, holding the server and, through its handler, the app.
    const refs: { server: WeakRef<object>; app: WeakRef<object> }[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const app = createApp({});
      const server = createServer((_req, res) => res.end(String(app.ctx !== undefined)));
      const closed = new Promise<void>((resolve) => server.once('close', resolve));
      server.listen(0, '127.0.0.1');
      assert.equal(server.listening, false, 'precondition: listen() with a host binds asynchronously');
      app.defer('http', drainServer(server));
      await app.close();
      await closed;
      assert.equal(server.listening, false, 'the listener was closed as it bound');
      refs.push({ server: new WeakRef(server), app: new WeakRef(app) });
    }
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    const servers = refs.filter((r) => r.server.deref() !== undefined).length;
    const apps = refs.filter((r) => r.app.deref() !== undefined).length;
    assert.deepEqual({ servers, apps }, { servers: 0, apps: 0 });
  });
});
