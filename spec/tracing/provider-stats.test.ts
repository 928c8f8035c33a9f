/**
 * A tracer given a `provider` cannot see that provider's exports (they go through its own span
 * processors): it has no `exportStats`, and `createApp` publishes no span export series for it.
 * It used to answer zeros for everything — `spans_exported_total 0` while spans were exported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer, type OtelTracerOptions } from '../../lib/tracing/otel/index.js';
import { rawProvider, sdk } from './otel-line.js';

describe('exportStats of a tracer with a provider passed in', () => {
  it('is absent, not a misleading zero; no spans_*_total series from createApp', async () => {
    const exporter = new sdk.InMemorySpanExporter();
    const tracer = createOtelTracer({ provider: rawProvider({ exporter }) as never });
    const metrics = createMetrics({ collectRuntime: false });
    const app = createApp({ tracer, metrics });
    try {
      for (let i = 0; i < 3; i++) app.tracer.startSpan(`s${i}`).end();
      assert.equal(exporter.getFinishedSpans().length, 3, 'the provider exported the spans');
      assert.equal(tracer.exportStats, undefined);
      const text = (await metrics.render()).body;
      assert.doesNotMatch(text, /spans_exported_total|spans_dropped_total/);
    } finally {
      await app.close();
    }
  });

  // Found from outside (/tmp/K9/r3.mts): a provider with tracing disabled had `exportStats` though
  // typed as having none. Options typed `OtelTracerOptions` (a provider known at run time) keep the
  // `OtelTracer` type, as users assign it so; the README says to check `exportStats` there.
  it('a tracer with a provider has no exportStats, also disabled; without one it has', async () => {
    const provider = rawProvider({ exporter: new sdk.InMemorySpanExporter() }) as never;
    const options: OtelTracerOptions = { provider };
    const maybe = createOtelTracer(options);
    // Typed `OtelTracer` (assignable where one is expected), so the README says to check first.
    assert.equal(typeof maybe.exportStats, 'undefined');
    assert.equal(maybe.exportStats?.(), undefined);
    const disabled = createOtelTracer({ provider, enabled: false });
    assert.equal(disabled.exportStats, undefined);
    const own = createOtelTracer({ exporter: 'memory', enabled: false });
    assert.equal(own.exportStats().exportedSpans, 0, 'no provider: typed and present');
    await Promise.all([maybe.close(), disabled.close(), own.close()]);
  });

  it('a tracer that exports itself still counts', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    tracer.startSpan('s').end();
    await tracer.flush();
    assert.equal(tracer.exportStats?.().exportedSpans, 1);
    await tracer.close();
  });
});
