/**
 * `tracedFetch` and the signals it follows: `ctx.signal` (a long-lived, app-wide shutdown signal)
 * and a Request's own. Given a Request, it joined them with `AbortSignal.any`, which records every
 * call on `ctx.signal`; Node 20 never frees those records (~60–110 bytes a request, without bound).
 * Given a URL, it passed `ctx.signal` to fetch, whose own listener per call stayed on it until a
 * GC (a MaxListenersExceededWarning per call past 1,500). Both signals must still abort the body
 * read after fetch has resolved, also once a GC has run and the caller kept only the body reader.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createApp } from '../../lib/core/app.js';
import type { AppContext } from '../../lib/core/context.js';
import { tracedFetch } from '../../lib/tracing/http.js';

// Collecting what a call left behind needs real GCs; expose gc without a command-line flag.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A few full GCs, each followed by a turn of the event loop (finalizers run then). */
async function collect(rounds = 4): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** What the signal keeps per signal made from it with AbortSignal.any (Node's own field). */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = key === undefined ? undefined : (signal as unknown as Record<symbol, unknown>)[key];
  // Node's SafeSet: not `instanceof Set`, but with its `size`.
  const size = (set as { size?: unknown } | undefined)?.size;
  return typeof size === 'number' ? size : 0;
}

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

/** Settles with the outcome, or with `pending` when nothing happened within 3 s (no hang). */
async function outcome(p: Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((r) => {
    timer = setTimeout(r, 3000, 'pending');
  });
  try {
    return await Promise.race([p.then(() => 'resolved'), pending]);
  } catch (err) {
    return `rejected: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

const app = createApp();
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hang') return; // never answers: the call is in flight until aborted
    if (req.url === '/body') {
      res.write('first'); // then nothing: the body read stays open until aborted
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
});

/**
 * Starts a call whose body stays open, reads the first chunk and keeps only the reader (the
 * Request and Response are let go), runs GCs, then aborts `which` and reads on.
 */
async function abortMidBody(form: 'request' | 'url', which: 'ctx' | 'own', withCtxSignal = true) {
  const shutdown = new AbortController();
  const own = new AbortController();
  const ctx = withCtxSignal ? app.ctx.with({ signal: shutdown.signal }) : app.ctx;
  const reader = await (async () => {
    const res = await tracedFetch(
      ctx,
      form === 'request' ? new Request(`${base}/body`, { signal: own.signal }) : `${base}/body`,
    );
    const r = res.body!.getReader();
    assert.equal(new TextDecoder().decode((await r.read()).value), 'first');
    return r;
  })();
  await collect();
  (which === 'ctx' ? shutdown : own).abort(new Error(`${which} aborted`));
  return outcome(reader.read());
}

/**
 * `n` calls, each body read; the most listeners seen on `ctx.signal` meanwhile. A function of its
 * own: nothing of the calls stays reachable from the test's frame.
 */
async function calls(ctx: AppContext, form: 'request' | 'url', n: number): Promise<number> {
  let most = 0;
  for (let i = 0; i < n; i++) {
    const res = await tracedFetch(ctx, form === 'request' ? new Request(`${base}/ok`) : `${base}/ok`);
    assert.equal(await res.text(), 'ok');
    if (i % 50 === 0) most = Math.max(most, listeners(ctx.signal!));
  }
  return most;
}

describe('tracedFetch: ctx.signal and the Request signal abort the call, also the body read', () => {
  it('ctx.signal aborting during the body read rejects the read with its reason (Request and URL forms)', async () => {
    assert.equal(await abortMidBody('request', 'ctx'), 'rejected: ctx aborted');
    assert.equal(await abortMidBody('url', 'ctx'), 'rejected: ctx aborted');
  });

  it("the Request's own signal aborts the body read, also when the caller let the Request go", async () => {
    // It stayed pending: fetch follows the Request's signal only while the Request lives.
    assert.equal(await abortMidBody('request', 'own'), 'rejected: own aborted');
    assert.equal(await abortMidBody('request', 'own', false), 'rejected: own aborted');
  });

  it('either signal aborts a call in flight with its reason; an aborted ctx.signal aborts at once', async () => {
    for (const which of ['ctx', 'own'] as const) {
      const shutdown = new AbortController();
      const own = new AbortController();
      const call = tracedFetch(
        app.ctx.with({ signal: shutdown.signal }),
        new Request(`${base}/hang`, { signal: own.signal }),
      );
      await collect(2);
      (which === 'ctx' ? shutdown : own).abort(new Error(`${which} in flight`));
      assert.equal(await outcome(call), `rejected: ${which} in flight`);
    }
    const gone = new AbortController();
    gone.abort(new Error('already shut down'));
    const ctx = app.ctx.with({ signal: gone.signal });
    assert.equal(await outcome(tracedFetch(ctx, new Request(`${base}/ok`))), 'rejected: already shut down');
    assert.equal(await outcome(tracedFetch(ctx, `${base}/ok`)), 'rejected: already shut down');
  });

  for (const form of ['request', 'url'] as const) {
    it(`${form} form: leaves nothing on ctx.signal once 5,000 responses are read and let go`, async () => {
      const shutdown = new AbortController();
      const ctx = app.ctx.with({ signal: shutdown.signal });
      const most = await calls(ctx, form, 5000);
      // One listener for all the calls in progress, never one per call (fetch's own, in the URL
      // form, stayed until a GC).
      assert.ok(most <= 1, `at most 1 listener on ctx.signal during the calls, saw ${most}`);
      for (let i = 0; i < 50 && listeners(shutdown.signal) + dependants(shutdown.signal) > 0; i++)
        await collect(1);
      assert.equal(dependants(shutdown.signal), 0, 'no AbortSignal.any record per call');
      assert.equal(listeners(shutdown.signal), 0, 'no listener left');
      // And it still aborts what comes next.
      const reader = (
        await tracedFetch(ctx, form === 'request' ? new Request(`${base}/body`) : `${base}/body`)
      ).body!.getReader();
      await reader.read();
      shutdown.abort(new Error('shutting down'));
      assert.equal(await outcome(reader.read()), 'rejected: shutting down');
    });
  }
});
