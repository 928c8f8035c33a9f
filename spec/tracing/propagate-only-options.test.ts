/**
 * `createPropagateOnlyTracer` checks its options like `createOtelTracer({ exporter: 'none' })`,
 * which lib/tracing/README.md says it behaves the same as: a `sampleRate` outside [0, 1] (or not a
 * number) and unknown keys are one `ConfigError`. They used to be taken as given: `sampleRate: 2`
 * sampled every new trace, `sampleRate: '0.1'` none, and `{ sampleRat: 0.1 }` sampled everything.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lib/core/errors.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const paths = (e: unknown) => (e instanceof ConfigError ? e.issues.map((i) => i.path).sort() : []);

describe('createPropagateOnlyTracer options', () => {
  for (const sampleRate of [2, -0.1, Number.NaN, '0.1']) {
    it(`rejects sampleRate ${String(sampleRate)}, as createOtelTracer({ exporter: 'none' }) does`, () => {
      assert.throws(() => createOtelTracer({ exporter: 'none', sampleRate } as never), ConfigError);
      assert.throws(
        () => createPropagateOnlyTracer({ sampleRate } as never),
        (e: unknown) => paths(e).join() === 'sampleRate',
      );
    });
  }

  it('lists an unknown key (with the nearest known one) and a bad random together', () => {
    assert.throws(
      () => createPropagateOnlyTracer({ sampleRat: 0.1, random: 0.5 } as never),
      (e: unknown) =>
        paths(e).join() === 'random,sampleRat' &&
        /did you mean `sampleRate`\?/.test((e as ConfigError).message),
    );
    assert.throws(() => createPropagateOnlyTracer(null as never), ConfigError);
  });

  it('accepts the bounds and the documented options', () => {
    for (const sampleRate of [0, 0.25, 1]) {
      const tracer = createPropagateOnlyTracer({ sampleRate, random: () => 0.5 });
      const span = tracer.startSpan('s');
      assert.equal(span.spanContext().traceFlags & 1, sampleRate > 0.5 ? 1 : 0);
    }
    assert.ok(createPropagateOnlyTracer());
  });
});

describe('createPropagateOnlyTracer propagators', () => {
  const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const hop = (tracer: ReturnType<typeof createPropagateOnlyTracer>) => {
    const { parent, baggage } = tracer.extract({ traceparent: TP, tracestate: 'a=1', baggage: 'k=v' });
    const headers: Record<string, string> = {};
    tracer.inject(headers, { span: tracer.startSpan('s', { parent }), baggage });
    return { parent: parent?.spanContext().spanId, baggage, headers };
  };
  const sameAsOtel = (propagators: ('tracecontext' | 'baggage')[]) => {
    const ours = hop(createPropagateOnlyTracer({ propagators }));
    const otel = createOtelTracer({ exporter: 'none', propagators });
    const { parent, baggage } = otel.extract({ traceparent: TP, tracestate: 'a=1', baggage: 'k=v' });
    const headers: Record<string, string> = {};
    otel.inject(headers, { span: otel.startSpan('s', { parent }), baggage });
    assert.deepEqual(Object.keys(ours.headers).sort(), Object.keys(headers).sort());
    assert.deepEqual(ours.baggage, baggage);
    return ours;
  };

  it('[tracecontext]: baggage is neither read nor written', () => {
    const r = sameAsOtel(['tracecontext']);
    assert.equal(r.parent, '00f067aa0ba902b7');
    assert.deepEqual(r.baggage, {});
    assert.deepEqual(Object.keys(r.headers).sort(), ['traceparent', 'tracestate']);
  });

  it('[baggage]: no parent is read, no traceparent written', () => {
    const r = sameAsOtel(['baggage']);
    assert.equal(r.parent, undefined);
    assert.deepEqual(r.headers, { baggage: 'k=v' });
  });

  it('[]: nothing propagates (OTEL_PROPAGATORS=none)', () => {
    const r = sameAsOtel([]);
    assert.equal(r.parent, undefined);
    assert.deepEqual(r.headers, {});
  });

  it('default: both; an unknown or non-W3C format is a ConfigError naming it', () => {
    assert.deepEqual(Object.keys(hop(createPropagateOnlyTracer()).headers).sort(), [
      'baggage',
      'traceparent',
      'tracestate',
    ]);
    assert.throws(
      () => createPropagateOnlyTracer({ propagators: ['tracecontext', 'b3'] } as never),
      (e: unknown) => paths(e).join() === 'propagators.1',
    );
    assert.throws(
      () => createPropagateOnlyTracer({ propagators: 'baggage' } as never),
      (e: unknown) => paths(e).join() === 'propagators',
    );
  });
});

describe('createPropagateOnlyTracer inject: a parent span of the user’s own is checked like a received one', () => {
  const T = '4bf92f3577b34da6a3ce929d0e0e4736';
  const S = '00f067aa0ba902b7';
  const own = (traceId: string, spanId: string, traceState?: string) =>
    ({
      spanContext: () => ({ traceId, spanId, traceFlags: 1, traceState }),
    }) as unknown as Parameters<ReturnType<typeof createPropagateOnlyTracer>['inject']>[1]['span'];

  it('ids that are not hex inject nothing; a tracestate with a line break is dropped, a sloppy one cleaned', () => {
    const tracer = createPropagateOnlyTracer();
    const notHex: Record<string, string> = {};
    tracer.inject(notHex, { span: own('z'.repeat(32), S, 'a=1'), baggage: {} });
    assert.deepEqual(notHex, {});
    const injected: Record<string, string> = {};
    tracer.inject(injected, { span: own(T, S, 'a=1\r\nx-injected: yes'), baggage: {} });
    assert.deepEqual(injected, { traceparent: `00-${T}-${S}-01` });
    const sloppy: Record<string, string> = {};
    tracer.inject(sloppy, { span: own(T, S, ' a=1 , ,b=2'), baggage: {} });
    assert.equal(sloppy.tracestate, 'a=1,b=2');
    // A child started from such a parent carries the parent's tracestate: cleaned the same way.
    const child = tracer.startSpan('c', { parent: own(T, S, 'a=1\r\nx: y') });
    const fromChild: Record<string, string> = {};
    tracer.inject(fromChild, { span: child, baggage: {} });
    assert.equal(fromChild.tracestate, undefined);
    assert.match(fromChild.traceparent ?? '', new RegExp(`^00-${T}-[0-9a-f]{16}-01$`));
  });
});
