/**
 * Hex case of trace and span ids. W3C Trace Context allows lowercase hex only in `traceparent`
 * (`HEXDIGLC`; a header with other characters MUST be ignored), and OpenTelemetry JS's
 * `W3CTraceContextPropagator` refuses uppercase ids: every tracer here does the same (a new trace
 * starts) and always writes lowercase ids. OpenTelemetry's B3 multi-header and Jaeger propagators
 * take uppercase ids, though: those used to go out as an uppercase — invalid — `traceparent`
 * (`00-4BF92F…`), which the next W3C service dropped, breaking the trace. They are lowercased on
 * extraction now, so the trace continues with the canonical ids.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import type { Span, Tracer } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { formatTraceparent, parseTraceparent } from '../../lib/core/w3c.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/propagate-only.js';
import { sdk } from './otel-line.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';
const TP = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

const UPPERCASE_HEADERS = [
  `00-${TID.toUpperCase()}-${SID.toUpperCase()}-01`,
  `00-${TID.toUpperCase()}-${SID}-01`,
  `00-${TID}-${SID.toUpperCase()}-01`,
  `00-4bf92f3577b34da6a3ce929d0e0e473A-${SID}-01`,
  `00-${TID}-${SID}-0A`,
];

function outgoing(
  tracer: Tracer,
  carrier: Record<string, string>,
): { headers: Record<string, string>; span: Span } {
  const { parent } = tracer.extract(carrier);
  const span = tracer.startSpan('child', { parent });
  const headers: Record<string, string> = {};
  tracer.inject(headers, { span });
  span.end();
  return { headers, span };
}

const tracers = (): [string, Tracer][] => [
  ['otel (recording)', createOtelTracer({ serviceName: 'svc', exporter: 'memory' })],
  ['otel exporter none (propagate-only)', createOtelTracer({ serviceName: 'svc', exporter: 'none' })],
  ['propagate-only', createPropagateOnlyTracer({})],
  ['core no-op', noopTracer],
];

describe('traceparent with uppercase hex: refused like any invalid header (W3C, OpenTelemetry)', () => {
  for (const header of UPPERCASE_HEADERS)
    it(`${header}: a new trace starts; what goes out is lowercase`, () => {
      assert.equal(parseTraceparent(header), undefined, 'the core parser refuses it');
      for (const [name, tracer] of tracers()) {
        const { parent } = tracer.extract({ traceparent: header });
        assert.equal(parent, undefined, `${name}: no remote parent`);
        const { headers } = outgoing(tracer, { traceparent: header });
        if (tracer === noopTracer) {
          assert.deepEqual(headers, {}, 'the no-op tracer has no trace to continue');
          continue;
        }
        assert.match(headers.traceparent ?? '', TP, `${name}: a valid traceparent`);
        assert.ok(!headers.traceparent!.includes(TID), `${name}: not the refused trace`);
      }
    });

  it('the lowercase form of the same header is continued', () => {
    for (const [name, tracer] of tracers()) {
      const { headers } = outgoing(tracer, { traceparent: `00-${TID}-${SID}-01` });
      assert.equal(headers.traceparent?.slice(3, 35), TID, `${name}: same trace`);
    }
  });
});

describe('ids are written in lowercase, whatever case they came in', () => {
  it('B3 multi-header and Jaeger ids in uppercase continue the trace with lowercase ids everywhere', () => {
    const cases: [string, Record<string, string>][] = [
      [
        'b3multi',
        { 'x-b3-traceid': TID.toUpperCase(), 'x-b3-spanid': SID.toUpperCase(), 'x-b3-sampled': '1' },
      ],
      // The Jaeger propagator exists on the 2.x line only (3.x refuses the name).
      ...(sdk.line === 2
        ? [
            ['jaeger', { 'uber-trace-id': `${TID.toUpperCase()}:${SID.toUpperCase()}:0:1` }] as [
              string,
              Record<string, string>,
            ],
          ]
        : []),
    ];
    for (const [propagator, carrier] of cases) {
      const tracer = createOtelTracer({
        serviceName: 'svc',
        exporter: 'memory',
        propagators: ['tracecontext', propagator as 'b3multi' | 'jaeger'],
      });
      const { parent } = tracer.extract(carrier);
      assert.equal(parent?.spanContext().traceId, TID, `${propagator}: remote parent in lowercase`);
      assert.equal(parent?.spanContext().spanId, SID);
      const { headers, span } = outgoing(tracer, carrier);
      assert.match(headers.traceparent ?? '', TP, `${propagator}: ${headers.traceparent}`);
      assert.equal(headers.traceparent!.slice(3, 35), TID, `${propagator}: the same trace, lowercase`);
      assert.equal(span.spanContext().traceId, TID, `${propagator}: the span's own trace id`);
      for (const [k, v] of Object.entries(headers))
        assert.doesNotMatch(v, /[A-F]/, `${propagator}: header ${k} has no uppercase hex: ${v}`);
    }
  });

  it('a parent span context made with uppercase ids is injected as a lowercase traceparent', () => {
    const upper = { traceId: TID.toUpperCase(), spanId: SID.toUpperCase(), traceFlags: 1 };
    assert.equal(formatTraceparent(upper), `00-${TID}-${SID}-01`);
    const otel = createOtelTracer({ serviceName: 'svc', exporter: 'memory' });
    const headers: Record<string, string> = {};
    // An OpenTelemetry span made elsewhere (OpenTelemetry's own check accepts uppercase hex).
    const foreign = trace.wrapSpanContext(upper);
    otel.inject(headers, { span: otel.startSpan('s', { parent: foreign as unknown as Span }) });
    assert.match(headers.traceparent ?? '', TP, String(headers.traceparent));
    assert.equal(headers.traceparent!.slice(3, 35), TID, 'the parent trace, lowercase');
  });

  it("a child of a span of the user's own with uppercase ids is recorded, exported and injected in lowercase", () => {
    // A `Span` of your own (a wrapper around another tracing system's span): isValidSpanContext
    // takes either case. Its children used to keep the uppercase trace id (their spanContext()
    // and the exported span, whose parent span id stayed uppercase too), and the `b3` header
    // went out in uppercase, which B3 receivers that check the format (lowercase hex) drop.
    const own = {
      spanContext: () => ({ traceId: TID.toUpperCase(), spanId: SID.toUpperCase(), traceFlags: 1 }),
    } as unknown as Span;
    const recording = createOtelTracer({
      serviceName: 'svc',
      exporter: 'memory',
      propagators: ['tracecontext', 'b3', 'b3multi'],
    });
    const list: [string, Tracer][] = [
      ['otel (recording, b3)', recording],
      [
        'otel exporter none, b3',
        createOtelTracer({ serviceName: 'svc', exporter: 'none', propagators: ['tracecontext', 'b3'] }),
      ],
      ['propagate-only', createPropagateOnlyTracer({})],
    ];
    for (const [name, tracer] of list) {
      const span = tracer.startSpan('child', { parent: own });
      assert.equal(span.spanContext().traceId, TID, `${name}: the child's trace id, lowercase`);
      for (const source of [{ span }, { span: own }]) {
        const headers: Record<string, string> = {};
        tracer.inject(headers, source);
        assert.equal(headers.traceparent?.slice(3, 35), TID, `${name}: the same trace`);
        for (const [k, v] of Object.entries(headers))
          assert.doesNotMatch(v, /[A-F]/, `${name}: header ${k} has no uppercase hex: ${v}`);
      }
      span.end();
    }
    const [exported] = recording.finishedSpans();
    assert.equal(exported?.spanContext().traceId, TID, 'exported trace id, lowercase');
    assert.equal(exported?.parentSpanContext?.spanId, SID, 'exported parent span id, lowercase');
  });
});
