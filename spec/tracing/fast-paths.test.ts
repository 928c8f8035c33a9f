import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Context, context, SamplingDecision, type SpanKind, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import type { SdkSampler } from '../../lib/tracing/otel/sdk.js';
import { rawProvider, sdk } from './otel-line.js';

const { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler } = sdk;

const SAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const UNSAMPLED = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
const HEX32 = /^(?!0{32})[0-9a-f]{32}$/;
const HEX16 = /^(?!0{16})[0-9a-f]{16}$/;

function withProvider(sampler: SdkSampler) {
  const exporter = new sdk.InMemorySpanExporter();
  const provider = rawProvider({ sampler, exporter });
  return { exporter, provider, tracer: createOtelTracer({ provider }) };
}

describe('unsampled spans (sampler decided before the SDK)', () => {
  it('a dropped root span still has a valid, unsampled identity that propagates', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', sampleRate: 0 });
    const a = tracer.startSpan('a', { attributes: { k: 1 } });
    const b = tracer.startSpan('b');
    assert.equal(a.isRecording(), false);
    const sc = a.spanContext();
    assert.match(sc.traceId, HEX32);
    assert.match(sc.spanId, HEX16);
    assert.equal(sc.traceFlags, 0);
    assert.equal(a.spanContext(), sc, 'identity is stable');
    assert.notEqual(b.spanContext().traceId, sc.traceId);

    const carrier: Record<string, string> = {};
    tracer.inject(carrier, { span: a });
    assert.equal(carrier.traceparent, `00-${sc.traceId}-${sc.spanId}-00`);

    const child = tracer.startSpan('child', { parent: a });
    assert.equal(child.isRecording(), false);
    assert.equal(child.spanContext().traceId, sc.traceId);
    assert.notEqual(child.spanContext().spanId, sc.spanId);
    assert.match(child.spanContext().spanId, HEX16);

    // Every method is a harmless no-op, before and after end().
    for (const s of [a, child]) {
      s.setAttributes({ x: 1 }).addEvent('e').recordError(new Error('boom')).setStatus({ code: 'error' });
      s.updateName('renamed').end();
      s.end();
      assert.equal(s.isRecording(), false);
    }
    assert.deepEqual(tracer.finishedSpans(), []);
    await tracer.close();
  });

  it('an unsampled remote parent gives children its trace id and trace state, sampled flag off', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', sampleRate: 1 });
    const { parent } = tracer.extract({ traceparent: UNSAMPLED, tracestate: 'vendor=abc' });
    const child = tracer.startSpan('child', { parent });
    const grandchild = tracer.startSpan('grandchild', { parent: child });
    for (const s of [child, grandchild]) {
      assert.equal(s.isRecording(), false);
      assert.equal(s.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(s.spanContext().traceFlags, 0);
      assert.equal(s.spanContext().traceState, 'vendor=abc');
    }
    assert.notEqual(grandchild.spanContext().spanId, child.spanContext().spanId);
    const carrier: Record<string, string> = {};
    tracer.inject(carrier, { span: grandchild });
    assert.equal(
      carrier.traceparent,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${grandchild.spanContext().spanId}-00`,
    );
    assert.equal(carrier.tracestate, 'vendor=abc');
    // A sampled remote parent is still followed at rate 0 (parent-based).
    const zero = createOtelTracer({ exporter: 'memory', sampleRate: 0 });
    assert.equal(
      zero.startSpan('c', { parent: zero.extract({ traceparent: SAMPLED }).parent }).isRecording(),
      true,
    );
    await Promise.all([tracer.close(), zero.close()]);
  });

  it('samplers it cannot prove to drop are left to the SDK', async () => {
    // Children of unsampled local parents are sampled here: the shortcut must not apply.
    const custom = withProvider(
      new ParentBasedSampler({ root: new AlwaysOffSampler(), localParentNotSampled: new AlwaysOnSampler() }),
    );
    const root = custom.tracer.startSpan('root');
    assert.equal(root.isRecording(), false);
    const child = custom.tracer.startSpan('child', { parent: root });
    assert.equal(child.isRecording(), true);
    assert.equal(child.spanContext().traceId, root.spanContext().traceId);
    child.end();
    assert.equal(custom.exporter.getFinishedSpans()[0]?.parentSpanContext?.spanId, root.spanContext().spanId);

    // A subclass of AlwaysOffSampler may decide otherwise, so it goes through the SDK.
    class Sneaky extends AlwaysOffSampler {
      shouldSample() {
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      }
    }
    const sneaky = withProvider(new ParentBasedSampler({ root: new Sneaky() }));
    assert.equal(sneaky.tracer.startSpan('s').isRecording(), true);
    await Promise.all([custom.provider.shutdown(), sneaky.provider.shutdown()]);
  });

  it('in activeContext mode, follows the active span and respects suppressed tracing', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', sampleRate: 0, activeContext: true });
    const root = tracer.startSpan('root');
    const inner = tracer.activate!(root, () => tracer.startSpan('inner'));
    assert.equal(inner.isRecording(), false);
    assert.equal(inner.spanContext().traceId, root.spanContext().traceId);
    // Suppressed: the SDK returns the invalid context; so must we.
    const suppressed = context.with(suppressTracing(context.active()), () => tracer.startSpan('quiet'));
    assert.equal(suppressed.spanContext().traceId, '0'.repeat(32));
    // Third-party OTel spans nest under an unsampled span of ours, unsampled too.
    const third = tracer.activate!(root, () =>
      trace.getTracer('third').startSpan('x', {}, context.active() as Context),
    );
    assert.equal(third.spanContext().traceId, root.spanContext().traceId);
    await tracer.close();
  });

  it('counts dropped spans in otel.sdk.span.started like the SDK does', async () => {
    const exporter = new InMemoryMetricExporter(0);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const provider = rawProvider({
      sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
      meterProvider,
    });
    const tracer = createOtelTracer({ provider });
    const root = tracer.startSpan('root');
    tracer.startSpan('child', { parent: root });
    provider.getTracer('raw').startSpan('raw', { kind: 0 as SpanKind });
    await reader.forceFlush();
    const points = exporter
      .getMetrics()
      .flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
      .filter((m) => m.descriptor.name === 'otel.sdk.span.started')
      .flatMap((m) => m.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]);
    const byOrigin = Object.fromEntries(
      points.map((p) => [
        `${p.attributes['otel.span.parent.origin']}/${p.attributes['otel.span.sampling_result']}`,
        p.value,
      ]),
    );
    assert.deepEqual(byOrigin, { 'none/DROP': 2, 'local/DROP': 1 });
    await Promise.all([meterProvider.shutdown(), provider.shutdown()]);
  });
});

describe('propagation without baggage (the baggage propagator is skipped)', () => {
  it('injects and extracts baggage only when there is some, alongside the trace context', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const span = tracer.startSpan('s');
    const plain: Record<string, string> = {};
    tracer.inject(plain, { span });
    assert.deepEqual(Object.keys(plain), ['traceparent']);
    const withBag: Record<string, string> = {};
    tracer.inject(withBag, { span, baggage: { tenant: 'acme', bad: 1 as never } });
    assert.equal(withBag.traceparent, plain.traceparent);
    assert.equal(withBag.baggage, 'tenant=acme');
    const onlyBag: Record<string, string> = {};
    tracer.inject(onlyBag, { baggage: { tenant: 'acme' } });
    assert.deepEqual(onlyBag, { baggage: 'tenant=acme' });

    assert.deepEqual(tracer.extract({ traceparent: SAMPLED }).baggage, {});
    assert.deepEqual(tracer.extract({ traceparent: SAMPLED, baggage: ['a=1', 'b=2'] }).baggage, {
      a: '1',
      b: '2',
    });
    const back = tracer.extract(withBag);
    assert.equal(back.parent?.spanContext().spanId, span.spanContext().spanId);
    assert.deepEqual(back.baggage, { tenant: 'acme' });
    await tracer.close();
    if (sdk.line === 3) return; // no Jaeger propagator on the 3.x line
    // Jaeger carries baggage in its own headers, so it is still read without a `baggage` header.
    const jaeger = createOtelTracer({ exporter: 'memory', propagators: ['jaeger', 'baggage'] });
    const j = jaeger.extract({
      'uber-trace-id': '4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1',
      'uberctx-user': 'u1',
    });
    assert.deepEqual(j.baggage, { user: 'u1' });
    await jaeger.close();
  });
});
