/**
 * A small close budget (`disposeTimeoutMs: 50`) still exports to a collector that answers at once.
 * close() kept a flat 50 ms of its budget for giving up, which took all of a budget up to 50 ms:
 * every queued span was dropped as `shutdown` without a request, in a few ms of a 50 ms budget.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

describeWithServers('close with a small budget', skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });

  it('disposeTimeoutMs: 50 delivers what is queued to a collector that answers (it dropped it all)', async () => {
    // A first export warms the connection path (module loading, first encode) outside the budget.
    const warm = createOtelTracer({
      exporter: 'otlp',
      endpoint: jaeger.otlpEndpoint,
      serviceName: 'small-budget-warm',
    });
    warm.startSpan('warm').end();
    await warm.close({ timeoutMs: 5000 });

    const tracer = createOtelTracer({
      exporter: 'otlp',
      endpoint: jaeger.otlpEndpoint,
      serviceName: 'small-budget',
    });
    const app = createApp({ tracer, disposeTimeoutMs: 50 });
    const span = tracer.startSpan('queued');
    const traceId = span.spanContext().traceId;
    span.end();
    await app.close();
    const stats = tracer.exportStats();
    assert.equal(stats.droppedSpans.shutdown, 0, JSON.stringify(stats));
    assert.equal(stats.exportedSpans, 1, JSON.stringify(stats));
    const trace = await waitFor(() => jaeger.getTrace(traceId), { what: 'the trace in Jaeger' });
    assert.deepEqual(
      trace.spans.map((s) => s.operationName),
      ['queued'],
    );
  });
});
