/**
 * `traceHandler` joins the signal of the `ctx` it was given (an app-wide shutdown signal, alive
 * for the whole process) to each request's signal without leaving anything on it once the
 * response is closed. It used `AbortSignal.any`, which records every request's signal on the
 * long-lived one; Node 20 never removes those records (~60 bytes a request, without bound). Then
 * it added a listener per request on it: with 11 requests running at once, Node printed a
 * MaxListenersExceededWarning ("possible EventTarget memory leak") for that signal.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { traceHandler } from '../../lib/tracing/http.js';

/** What the signal keeps per signal made from it with AbortSignal.any (Node's own field). */
function dependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = key === undefined ? undefined : (signal as unknown as Record<symbol, unknown>)[key];
  // Node's SafeSet: not `instanceof Set`, but with its `size`.
  const size = (set as { size?: unknown } | undefined)?.size;
  return typeof size === 'number' ? size : 0;
}

describe('traceHandler and a long-lived ctx.signal', () => {
  it('keeps nothing on the ctx signal once the responses are closed; the handler still hears it', async (t) => {
    const app = createApp();
    const shutdown = new AbortController();
    const seen: AbortSignal[] = [];
    const server = createServer(
      traceHandler(app.ctx.with({ signal: shutdown.signal }), (ctx, _req, res) => {
        seen.push(ctx.signal!);
        res.end('ok');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await app.close();
    });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    for (let i = 0; i < 50; i++) assert.equal(await (await fetch(`${base}/r${i}`)).text(), 'ok');
    // The response's close event comes a tick after the client has the body.
    for (let i = 0; i < 50 && getEventListeners(shutdown.signal, 'abort').length > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen.length, 50);
    assert.equal(dependants(shutdown.signal), 0, 'no record per request on the long-lived signal');
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0, 'no listener left');
    // A ctx signal already aborted reaches the handler at once, with its reason.
    shutdown.abort(new Error('shutting down'));
    const after = await fetch(`${base}/late`);
    assert.equal(await after.text(), 'ok');
    const last = seen.at(-1)!;
    assert.equal(last.aborted, true);
    assert.equal((last.reason as Error).message, 'shutting down');
  });

  it('30 requests running at once put one listener on the ctx signal, and all hear its abort', async (t) => {
    const app = createApp();
    const shutdown = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    let running = 0;
    const server = createServer(
      traceHandler(app.ctx.with({ signal: shutdown.signal }), async (ctx, _req, res) => {
        running++;
        // Answers once its signal aborts (at most 5 s), with the reason it heard.
        const reason = await new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve('not aborted'), 5000);
          ctx.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve(String((ctx.signal?.reason as Error | undefined)?.message));
          });
        });
        res.end(reason);
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(async () => {
      process.off('warning', onWarning);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await app.close();
    });
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const answers = Array.from({ length: 30 }, (_, i) => fetch(`${base}/c${i}`).then((r) => r.text()));
    for (let i = 0; i < 500 && running < 30; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(running, 30);
    const listening = getEventListeners(shutdown.signal, 'abort').length;
    shutdown.abort(new Error('shutting down'));
    assert.deepEqual(await Promise.all(answers), Array(30).fill('shutting down'));
    // A warning is emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
      [],
    );
    assert.equal(listening, 1, 'one listener for all of them');
    assert.equal(getEventListeners(shutdown.signal, 'abort').length, 0);
  });
});
