/**
 * closeOnSignals' handlers go when the app is closed another way. They were removed only after a
 * signal-started close: an app closed by code (an admin endpoint, a worker's end, a test) kept its
 * SIGTERM/SIGINT handlers — and through them itself — for the rest of the process, and the 11th
 * app wired and closed in turn gave a MaxListenersExceededWarning (found by a 200-cycle
 * createApp/close soak). Counted listeners, not timings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeOnSignals, createApp } from '../../lib/core/app.js';

describe('closeOnSignals after app.close() from code', () => {
  it('12 apps wired and closed in turn leave no signal handler behind', async () => {
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    for (let i = 0; i < 12; i++) {
      const app = createApp({});
      closeOnSignals(app, { exit: false });
      await app.close();
    }
    // The handlers go once the close has settled: one more turn for its callbacks.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') },
      before,
    );
  });

  it('an app already closed when wired loses its handlers too', async () => {
    const before = process.listenerCount('SIGTERM');
    const app = createApp({});
    await app.close();
    closeOnSignals(app, { exit: false });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(process.listenerCount('SIGTERM'), before);
  });

  it('the handlers are gone when `await app.close()` resumes, not a turn later', async () => {
    // They were removed by a callback on the close's promise registered after the caller's own
    // `await`, so code right after `await app.close()` (a test counting listeners, a supervisor
    // checking that nothing is left) still saw them.
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const app = createApp({});
    closeOnSignals(app, { exit: false });
    app.defer('slow', () => new Promise<void>((resolve) => setImmediate(resolve)));
    await app.close();
    assert.deepEqual(
      { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') },
      before,
    );
    // `await using` (Symbol.asyncDispose) is the same close.
    {
      await using scoped = createApp({});
      closeOnSignals(scoped, { exit: false });
    }
    assert.equal(process.listenerCount('SIGTERM'), before.term);
  });

  it('a second close() (and one from inside a disposer) still resolves, and the handlers are gone', async () => {
    const before = process.listenerCount('SIGTERM');
    const app = createApp({});
    closeOnSignals(app, { exit: false });
    let inner: Promise<void> | undefined;
    app.defer('calls close', () => {
      inner = app.close();
    });
    const a = app.close();
    const b = app.close();
    assert.equal(a, b, 'concurrent calls share one close');
    await a;
    await inner;
    assert.equal(process.listenerCount('SIGTERM'), before);
  });
});
