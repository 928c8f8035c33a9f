/**
 * `registerGlobal` with `exporter: 'none'` (propagate-only): the propagator is registered as the
 * global OpenTelemetry one (README), since propagation is all that mode does — it used to register
 * nothing, so third-party code injecting through the global API sent no traceparent. Also from
 * config (`register_global: true`, `exporter: none`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** What the global propagator writes for a context continuing TP (empty when none is registered). */
function globalInject(): Record<string, string> {
  const extracted = propagation.extract(ROOT_CONTEXT, { traceparent: TP, baggage: 'k=v' });
  const out: Record<string, string> = {};
  propagation.inject(extracted, out);
  return out;
}

describe("registerGlobal with exporter 'none'", () => {
  it('registers the propagator globally; close() unregisters it', async () => {
    assert.deepEqual(globalInject(), {}, 'nothing registered before');
    const tracer = createOtelTracer({ exporter: 'none', registerGlobal: true });
    assert.deepEqual(globalInject(), { traceparent: TP, baggage: 'k=v' });
    assert.deepEqual(propagation.fields().sort(), ['baggage', 'traceparent', 'tracestate']);
    // No provider: the global tracer stays the no-op one.
    assert.equal(trace.getTracer('x').startSpan('s').isRecording(), false);
    await tracer.close();
    assert.deepEqual(globalInject(), {});
  });

  it('a disabled tracer registers nothing', async () => {
    const tracer = createOtelTracer({ exporter: 'none', enabled: false, registerGlobal: true });
    assert.deepEqual(globalInject(), {});
    await tracer.close();
  });

  it('from config: register_global with exporter none registers the propagator', async () => {
    const app = await createAppFromConfig(
      parseConfig({ tracing: { exporter: 'none', register_global: true } }, { env: {} }),
    );
    try {
      assert.deepEqual(globalInject(), { traceparent: TP, baggage: 'k=v' });
    } finally {
      await app.close();
    }
    assert.deepEqual(globalInject(), {});
  });
});
