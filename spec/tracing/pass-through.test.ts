/**
 * Tracing switched off by `OTEL_SDK_DISABLED=true` over the propagate-only setup: with
 * OpenTelemetry installed `createAppFromConfig` builds the disabled OpenTelemetry tracer, without
 * it the pass-through of `lib/tracing/propagate-only.ts`. Both must propagate alike — the same
 * `traceparent` (the parent's ids: nothing recorded) and the request's `baggage`, each only when
 * its format is among `propagators`. It was the no-op tracer there, which reads and writes no
 * baggage: the same file and environment dropped the request's baggage or passed it on depending
 * on whether OpenTelemetry happened to be installed (spec/consumer/missing-peers.test.ts builds
 * the app without it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tracer } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { createPassThroughTracer } from '../../lib/tracing/propagate-only.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** What a tracer passes on for one incoming request, and what it writes for a span of its own. */
function passedOn(tracer: Tracer) {
  const incoming = tracer.extract({
    traceparent: TP,
    tracestate: 'a=1',
    baggage: 'tenant=acme,user=al%20ice',
  });
  const onward: Record<string, string> = {};
  tracer.inject(onward, {
    span: tracer.startSpan('child', { parent: incoming.parent }),
    baggage: { ...incoming.baggage, added: '1' },
  });
  const own: Record<string, string> = {};
  tracer.inject(own, { span: tracer.startSpan('root'), baggage: { own: 'x' } });
  return { baggage: incoming.baggage, onward, own };
}

describe('the pass-through of a disabled tracer without OpenTelemetry', () => {
  for (const propagators of [
    undefined,
    ['tracecontext', 'baggage'],
    ['tracecontext'],
    ['baggage'],
    [],
  ] as const)
    it(`propagators ${JSON.stringify(propagators)}: as the disabled OpenTelemetry tracer`, async () => {
      const otel = createOtelTracer({ enabled: false, exporter: 'none', propagators });
      const expected = passedOn(otel);
      assert.deepEqual(passedOn(createPassThroughTracer(propagators)), expected);
      await otel.close();
    });

  it('the default formats: the parent and the baggage pass on unchanged', () => {
    assert.deepEqual(passedOn(createPassThroughTracer()), {
      baggage: { tenant: 'acme', user: 'al ice' },
      onward: { traceparent: TP, tracestate: 'a=1', baggage: 'tenant=acme,user=al%20ice,added=1' },
      own: { baggage: 'own=x' },
    });
  });
});
