/**
 * A closed adapter with `collectRuntime` is released. prom-client's `collectDefaultMetrics` starts
 * a GC PerformanceObserver and an event-loop-delay monitor that nothing stops, and their metrics
 * hold the registry they were created in: each createMetrics({ collectRuntime: true }) kept its
 * registry, with every series, after close() — and every GC ran one more observer callback per
 * adapter ever created. The runtime metrics are now collected once per process and registered
 * into each adapter's registry. Counted with weak references, not timings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CYCLES = 10;

async function cycle(): Promise<{ registry: WeakRef<object>; text: string }> {
  const metrics = createMetrics({ collectRuntime: true });
  metrics.counter({ name: 'soak_total', help: 'soak' }).inc();
  const text = await metrics.registry.metrics();
  await metrics.close();
  return { registry: new WeakRef(metrics.registry), text };
}

describe('createMetrics({ collectRuntime: true }) releases its registry on close()', () => {
  it(`${CYCLES} create/close cycles: every one serves the runtime metrics, none stays reachable`, async () => {
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const { registry, text } = await cycle();
      assert.match(text, /^process_cpu_user_seconds_total /m);
      assert.match(text, /^nodejs_eventloop_lag_seconds /m);
      assert.match(text, /^soak_total 1$/m);
      refs.push(registry);
    }
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
  });
});
