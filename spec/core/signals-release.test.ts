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
});
