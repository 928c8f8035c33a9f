import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Attributes, Span, SpanOptions, Tracer } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { contextFromHeaders, injectHeaders, startSpan, withSpan } from '../../lib/core/span.js';
import { tick } from '../harness/clock.js';

/** A recording tracer for testing the helpers' own logic (not an integration). */
function recordingTracer(opts: { activate?: boolean } = {}) {
  const spans: {
    name: string;
    parent?: Span;
    attributes: Record<string, unknown>;
    errors: unknown[];
    ended: number;
  }[] = [];
  let active: Span | undefined;
  const tracer: Tracer = {
    startSpan(name: string, options?: SpanOptions) {
      const rec = {
        name,
        parent: options?.parent,
        attributes: { ...options?.attributes },
        errors: [] as unknown[],
        ended: 0,
      };
      spans.push(rec);
      const span: Span = {
        setAttributes(a: Attributes) {
          Object.assign(rec.attributes, a);
          return span;
        },
        addEvent: () => span,
        recordError(e: unknown) {
          rec.errors.push(e);
          return span;
        },
        setStatus: () => span,
        updateName: () => span,
        end: () => void rec.ended++,
        spanContext: () => ({
          traceId: 'a'.repeat(32),
          spanId: String(spans.indexOf(rec)).padStart(16, '0'),
          traceFlags: 1,
        }),
        isRecording: () => true,
      };
      return span;
    },
    inject: noopTracer.inject,
    extract: noopTracer.extract,
    ...(opts.activate
      ? {
          activate<T>(span: Span, fn: () => T): T {
            const prev = active;
            active = span;
            try {
              return fn();
            } finally {
              active = prev;
            }
          },
        }
      : {}),
  };
  return { tracer, spans, active: () => active };
}

describe('AppContext', () => {
  it('is immutable; with() returns a new context and merges attributes and baggage', () => {
    const { ctx } = createApp();
    assert.throws(() => {
      (ctx as unknown as { span: unknown }).span = 1;
    }, TypeError);
    const a = ctx.with({ attributes: { 'request.id': 'r1' }, baggage: { tenant: 't' } });
    const b = a.with({ attributes: { 'user.id': 'u1' } });
    assert.deepEqual(ctx.attributes, {});
    assert.deepEqual(a.attributes, { 'request.id': 'r1' });
    assert.deepEqual(b.attributes, { 'request.id': 'r1', 'user.id': 'u1' });
    assert.deepEqual(b.baggage, { tenant: 't' });
    assert.equal(b.tracer, ctx.tracer);
  });

  it('with() ignores attributes or baggage that are not an object (a string, an array), with one warning', () => {
    // Spread, 'req-1' became attributes 0…4 on every span and baggage 'ab' went out as `0=a,1=b`.
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (m: string) => void warnings.push(m),
      error() {},
      child: () => logger,
    };
    const { ctx } = createApp({ logger });
    const base = ctx.with({ attributes: { 'request.id': 'r1' }, baggage: { tenant: 't' } });
    const c = base.with({ attributes: 'req-1', baggage: 'ab' } as never);
    const d = base.with({ attributes: ['x'] } as never);
    assert.deepEqual({ ...c.attributes }, { 'request.id': 'r1' });
    assert.deepEqual({ ...c.baggage }, { tenant: 't' });
    assert.deepEqual({ ...d.attributes }, { 'request.id': 'r1' });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /baggage must be an object, got string; ignored/);
  });

  // Spread, a Map's (or Headers') entries are lost: `baggage: new Map([['tenant', 'acme']])` sent no
  // baggage and said nothing, where a string got the warning above.
  for (const [kind, make] of [
    ['Map', () => new Map([['tenant', 'acme']])],
    ['Set', () => new Set(['tenant'])],
    ['Headers', () => new Headers({ tenant: 'acme' })],
  ] as const)
    it(`with() ignores a ${kind} given as attributes or baggage, with one warning naming it`, () => {
      const warnings: string[] = [];
      const logger = {
        debug() {},
        info() {},
        warn: (m: string) => void warnings.push(m),
        error() {},
        child: () => logger,
      };
      // A tracer of its own: the warning is once per tracer, and the no-op one is shared.
      const { ctx } = createApp({ logger, tracer: recordingTracer().tracer });
      const base = ctx.with({ attributes: { 'request.id': 'r1' }, baggage: { tenant: 't' } });
      const c = base.with({ baggage: make() } as never);
      const d = base.with({ attributes: make() } as never);
      assert.deepEqual(c.baggage, { tenant: 't' });
      assert.deepEqual(d.attributes, { 'request.id': 'r1' });
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(
        warnings[0]!,
        new RegExp(`baggage must be an object, got a ${kind} \\(its entries are not properties`),
      );
    });
});

describe('span helpers', () => {
  it('startSpan parents on ctx.span and copies ctx attributes onto the span', () => {
    const { tracer, spans } = recordingTracer();
    const { ctx } = createApp({ tracer });
    const req = ctx.with({ attributes: { 'request.id': 'r1' } });
    const { ctx: c1, span: s1 } = startSpan(req, 'outer', { attributes: { a: 1 } });
    const { span: s2 } = startSpan(c1, 'inner');
    assert.equal(c1.span, s1);
    assert.equal(spans[0]?.parent, undefined);
    assert.equal(spans[1]?.parent, s1);
    assert.deepEqual(spans[0]?.attributes, { 'request.id': 'r1', a: 1 });
    assert.deepEqual(spans[1]?.attributes, { 'request.id': 'r1' });
    assert.notEqual(s1, s2);
    assert.equal(req.span, undefined, 'the parent context is unchanged');
  });

  it('withSpan ends the span for sync and async functions and passes the child ctx', async () => {
    const { tracer, spans } = recordingTracer();
    const { ctx } = createApp({ tracer });
    const v = withSpan(ctx, 'sync', (child, span) => {
      assert.equal(child.span, span);
      return 5;
    });
    assert.equal(v, 5);
    const w = await withSpan(ctx, 'async', async () => {
      await tick(); // settles in a later turn, not in the same one
      return 6;
    });
    assert.equal(w, 6);
    assert.deepEqual(
      spans.map((s) => [s.name, s.ended]),
      [
        ['sync', 1],
        ['async', 1],
      ],
    );
  });

  it('withSpan records and rethrows sync throws and async rejections', async () => {
    const { tracer, spans } = recordingTracer();
    const { ctx } = createApp({ tracer });
    const boom = new Error('boom');
    assert.throws(
      () =>
        withSpan(ctx, 'sync', () => {
          throw boom;
        }),
      boom,
    );
    await assert.rejects(
      withSpan(ctx, 'async', async () => {
        throw boom;
      }),
      boom,
    );
    assert.deepEqual(
      spans.map((s) => [s.errors.length, s.ended]),
      [
        [1, 1],
        [1, 1],
      ],
    );
  });

  it('withSpan runs inside tracer.activate when the tracer offers it', () => {
    const rec = recordingTracer({ activate: true });
    const { ctx } = createApp({ tracer: rec.tracer });
    withSpan(ctx, 'x', (_c, span) => assert.equal(rec.active(), span));
    assert.equal(rec.active(), undefined);
  });

  it('injectHeaders / contextFromHeaders round-trip the W3C trace context through the no-op tracer', () => {
    const { ctx } = createApp();
    const incoming = {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'k=v',
    };
    const remote = contextFromHeaders(ctx, incoming);
    assert.equal(remote.span?.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
    const { ctx: child } = startSpan(remote, 'work');
    const out = injectHeaders(child);
    assert.equal(out.traceparent, incoming.traceparent);
    assert.equal(out.tracestate, 'k=v');
  });
});

describe('createContext called without its parts', () => {
  it('is a ConfigError naming each missing part, not a raw TypeError', async () => {
    const { createContext } = await import('../../lib/core/context.js');
    const { ConfigError } = await import('../../lib/core/errors.js');
    const { createNoopCache, noopLogger, noopMetrics } = await import('../../lib/core/noop.js');
    for (const given of [undefined, null, 5]) {
      assert.throws(
        () => createContext(given as never),
        (e: unknown) => e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === '',
      );
    }
    assert.throws(
      () => createContext({ tracer: noopTracer, metrics: noopMetrics } as never),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues.map((i) => i.path).join() === 'cache,logger' &&
        /noopLogger/.test(e.message),
    );
    const ctx = createContext({
      tracer: noopTracer,
      cache: createNoopCache(),
      metrics: noopMetrics,
      logger: noopLogger,
    });
    assert.equal(ctx.tracer, noopTracer);
  });
});
