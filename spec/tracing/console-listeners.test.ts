/**
 * The `console` exporter's 'error' listener on stdout (kept while a write is pending, so a reader
 * going away is no uncaught exception) is one for all the console exporters of the process. Each
 * exporter had its own: 12 apps with a console tracer closed together (or console tracers made and
 * closed in a loop) put 12 listeners on stdout at once, and Node printed a
 * MaxListenersExceededWarning ("possible EventEmitter memory leak") for it.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { createApp, withSpan } from '../../lib/core/index.js';
import { guardStdout } from '../../lib/tracing/otel/exporters.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

it('console tracers closed together leave one listener on stdout and no MaxListenersExceededWarning', async (t) => {
  t.mock.method(console, 'dir', () => {});
  t.mock.method(console, 'log', () => {});
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const base = process.stdout.listenerCount('error');
  const apps = Array.from({ length: 12 }, (_, i) =>
    createApp({ tracer: createOtelTracer({ serviceName: `console-${i}`, exporter: 'console' }) }),
  );
  for (const app of apps) await withSpan(app.ctx, 'op', async () => {});
  await Promise.all(apps.map((app) => app.close()));
  assert.ok(
    process.stdout.listenerCount('error') <= base + 1,
    `listeners on stdout after the closes: ${process.stdout.listenerCount('error')} (before: ${base})`,
  );
  for (let i = 0; i < 5; i++) await tick(); // the warning is emitted on a later tick
  assert.deepEqual(
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
    [],
  );
  // Gone once the pending writes are done (a pipe to a busy reader may take a while).
  await waitFor(() => process.stdout.listenerCount('error') === base, { what: 'the listener to go' });
});

it('exporters over one stream share its listener while their writes are pending', async () => {
  // A stream whose writes complete only when told: every export's write stays pending meanwhile.
  const callbacks: ((err?: Error | null) => void)[] = [];
  const out = new Writable({
    write(_chunk, _encoding, callback) {
      callbacks.push(callback);
    },
  });
  const inner = {
    export: (_spans: unknown, done: (r: { code: number }) => void) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const results: number[] = [];
  for (let i = 0; i < 12; i++) {
    const exporter = guardStdout(inner as never, out);
    exporter.export([], (r) => results.push(r.code));
  }
  assert.deepEqual(results, Array(12).fill(0));
  assert.equal(out.listenerCount('error'), 1, 'one listener for the 12 pending writes');
  // Writable writes one chunk at a time: each callback lets the next write reach `write`.
  for (let i = 0; i < 12 && callbacks.length > 0; i++) {
    callbacks.shift()?.();
    await tick();
  }
  assert.equal(out.listenerCount('error'), 0, 'removed with the last pending write');
});
