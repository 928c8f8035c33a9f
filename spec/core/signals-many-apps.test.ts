/**
 * closeOnSignals with many apps open at once (a test suite building an app per test and running
 * tests concurrently, several services in one process): each call added its own process
 * listener per signal, so the 11th app wired while the others were still open gave Node's
 * `MaxListenersExceededWarning` ("Possible EventEmitter memory leak detected") for SIGTERM and
 * SIGINT — a false alarm, and a failure for suites that treat warnings as errors. Found by an
 * app-per-test soak with 15 apps open together. Counted listeners and warnings, not timings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeOnSignals, createApp } from '../../lib/core/app.js';

const APPS = 12;

/** Resolves once every app's `closed` marker has been hit, or after `polls` turns of the loop. */
async function settle(done: () => boolean, polls = 200): Promise<void> {
  for (let i = 0; i < polls && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('closeOnSignals with many apps open at once', () => {
  it(`${APPS} apps wired together give no MaxListenersExceededWarning and leave no handler`, async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
      const apps = Array.from({ length: APPS }, () => createApp({}));
      for (const app of apps) closeOnSignals(app, { exit: false });
      // One process listener per signal, whatever the number of apps wired.
      assert.deepEqual(
        { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') },
        { term: before.term + 1, int: before.int + 1 },
      );
      await Promise.all(apps.map((app) => app.close()));
      // Process warnings are emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
      );
      assert.deepEqual(
        { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') },
        before,
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('one signal still closes every wired app; an app whose handlers were removed stays open', async () => {
    const before = process.listenerCount('SIGUSR2');
    const apps = Array.from({ length: APPS }, () => createApp({}));
    const closed = new Set<number>();
    for (const [i, app] of apps.entries()) app.defer('mark', () => void closed.add(i));
    const removers = apps.map((app) => closeOnSignals(app, { signals: ['SIGUSR2'], exit: false }));
    removers[0]!(); // unwired before the signal: this app is not closed by it
    process.kill(process.pid, 'SIGUSR2');
    await settle(() => closed.size === APPS - 1 && process.listenerCount('SIGUSR2') === before);
    assert.deepEqual(
      [...closed].sort((a, b) => a - b),
      Array.from({ length: APPS - 1 }, (_, i) => i + 1),
    );
    assert.equal(apps[0]!.closed, false);
    assert.equal(process.listenerCount('SIGUSR2'), before, 'the handlers go once every close is done');
    await apps[0]!.close();
  });
});
