/**
 * A cluster cache's `health()` budget and its re-read of the topology under a step of the host's
 * wall clock (an NTP step), the process's `Date.now` stepped as NTP would — the moved-to-steady
 * parts that `clock-step.test.ts` does not cover. Both measure their one budget on the monotonic
 * clock (lib/cache/redis/steady.ts). On `Date.now`, a forward step while the first probe ran
 * skipped the re-check that keeps a node being replaced from being reported down (health() said
 * not ok for a healthy cluster), a backward step stretched the re-check's budget by the step
 * (health() could hang for an hour), and `refreshTopology` stopped waiting for the slot-map read
 * in flight at a forward step, or waited on it for the hour at a backward one. No server: a
 * stand-in for the iovalkey Cluster, just enough for these paths.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Cluster } from 'iovalkey';
import { probeHealth, refreshTopology } from '../../../lib/cache/redis/health.js';
import { within } from '../../harness/clock.js';

const realNow = Date.now;
const stepClock = (ms: number) => {
  Date.now = () => realNow() + ms;
};

/** A cluster whose node lists are empty (a probe that is not ok); `onNodes` runs during the probe. */
function fakeCluster(opts: { answers: boolean; onNodes?: () => void }) {
  const calls = { refresh: 0, refreshWhileRefreshing: 0 };
  const fake = {
    isCluster: true,
    status: 'ready',
    isRefreshing: false,
    slots: [] as string[][],
    nodes() {
      opts.onNodes?.();
      return [];
    },
    refreshSlotsCache(callback?: () => void) {
      calls.refresh++;
      if (fake.isRefreshing) calls.refreshWhileRefreshing++;
      if (opts.answers) setImmediate(() => callback?.());
    },
  };
  return { cluster: fake as unknown as Cluster, fake, calls };
}

describe('redis cluster health and topology re-read: the wall clock stepped', () => {
  afterEach(() => {
    Date.now = realNow;
  });

  it('health(): a forward step during the first probe does not skip the re-check', async () => {
    let stepped = false;
    const { cluster, calls } = fakeCluster({
      answers: true,
      onNodes: () => {
        if (!stepped) stepClock(3_600_000);
        stepped = true;
      },
    });
    const h = await within(probeHealth(cluster, 'cluster', 1000, []), 5000, 'health()');
    assert.equal(h.ok, false); // no master in this stand-in
    assert.ok(calls.refresh >= 1, 'the topology was re-read before reporting not ok');
  });

  it('health(): a backward step during the first probe does not stretch its budget', async () => {
    let stepped = false;
    // The slot-map read never answers: the re-check waits for it within what is left of 100 ms.
    const { cluster, calls } = fakeCluster({
      answers: false,
      onNodes: () => {
        if (!stepped) stepClock(-3_600_000);
        stepped = true;
      },
    });
    const h = await within(probeHealth(cluster, 'cluster', 100, []), 5000, 'health() with a 100 ms budget');
    assert.equal(h.ok, false);
    assert.equal(calls.refresh, 1);
  });

  it('refreshTopology: a forward step does not cut the wait for the read in flight', async () => {
    const { cluster, fake, calls } = fakeCluster({ answers: true });
    fake.isRefreshing = true;
    const done = refreshTopology(cluster, 2000);
    stepClock(3_600_000);
    setTimeout(() => {
      fake.isRefreshing = false;
    }, 30);
    await within(done, 5000, 'refreshTopology');
    assert.equal(calls.refresh, 1);
    assert.equal(calls.refreshWhileRefreshing, 0, 'asked while the read in flight had not ended');
  });

  it('refreshTopology: a backward step does not stretch its budget', async () => {
    const { cluster, fake, calls } = fakeCluster({ answers: false });
    fake.isRefreshing = true; // a read in flight that never ends
    const done = refreshTopology(cluster, 100);
    stepClock(-3_600_000);
    await within(done, 5000, 'refreshTopology with a 100 ms budget');
    assert.ok(calls.refresh <= 1);
  });
});
