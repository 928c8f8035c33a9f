/**
 * close() closes the bus (and the tracker) beside L2, not one after the other. Against a hung
 * Redis each part waits out bounds of its own — the bus's QUIT ~1 s, L2's QUIT ~1 s plus its
 * commands in flight — and in turn those waits added up: found from outside with redis-server
 * SIGSTOPped, a tiered cache with a bus took 2.1 s to close (bus 1.0 s, then L2 1.1 s), now 1.1 s.
 * Checked here by order, not by time: L2's close must begin while the bus's is still running.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createTieredCache } from '../../../lib/cache/tiered/index.js';
import type { InvalidationBus } from '../../../lib/core/contracts.js';
import { busHub, fakeCache, tick } from './fakes.js';

it('close(): L2 starts closing while the bus is still closing, and close waits for both', async () => {
  const hub = busHub();
  const inner = hub.bus();
  const events: string[] = [];
  let finishBus!: () => void;
  const bus: InvalidationBus = {
    publish: (m) => inner.publish(m),
    subscribe: (a, b, c) => inner.subscribe(a, b, c),
    async close() {
      events.push('bus close begins');
      // Stands for a QUIT the server does not answer: it ends when the test says so, at the latest
      // after a few turns of the loop (so the old, sequential close ends too, and fails the check).
      await new Promise<void>((resolve) => {
        finishBus = resolve;
        let turns = 0;
        const spin = () => (++turns >= 20 ? resolve() : setImmediate(spin));
        setImmediate(spin);
      });
      events.push('bus close ends');
      await inner.close();
    },
  };
  const l1 = fakeCache('l1');
  const l2 = fakeCache('l2');
  const l2Close = l2.close?.bind(l2);
  l2.close = async () => {
    events.push('l2 close begins');
    finishBus?.();
    await l2Close?.();
  };
  const cache = createTieredCache({ l1, l2, bus });
  await cache.ready;
  await cache.set('k', new Uint8Array([1]));
  await cache.close();
  await tick();
  assert.deepEqual(events, ['bus close begins', 'l2 close begins', 'bus close ends']);
});
