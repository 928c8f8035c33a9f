/**
 * The `Tracer` contract suite, run against every tracer (no-op, OpenTelemetry, …). What a tracer
 * cannot record (the no-op records nothing) is checked through `read` only when it is given;
 * everything else — chaining, safety after end, propagation — holds for all of them.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createContext } from '../../lib/core/context.js';
import type { Attributes, Span, SpanKind, Tracer } from '../../lib/core/contracts.js';
import { createNoopCache, noopLogger, noopMetrics } from '../../lib/core/noop.js';
import { startSpan, withSpan } from '../../lib/core/span.js';

/** A finished span in a tracer-neutral shape. */
export interface RecordedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  kind: SpanKind;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  status: { code: 'unset' | 'ok' | 'error'; message?: string | undefined };
  /** Start time, ms since the epoch. */
  startTime: number;
}

export interface TracerUnderTest {
  tracer: Tracer;
  /** Spans finished so far; omit for tracers that record nothing. */
  read?: () => RecordedSpan[];
  /** Whether baggage survives inject → extract. */
  propagatesBaggage: boolean;
  close(): Promise<void>;
}

/** Builds a fresh tracer; `sampled: false` asks for one that samples nothing new. */
export type TracerFactory = (options: { sampled: boolean }) => TracerUnderTest | Promise<TracerUnderTest>;

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function ctxFor(tracer: Tracer) {
  return createContext({ tracer, cache: createNoopCache(), metrics: noopMetrics, logger: noopLogger });
}

export function tracerConformance(name: string, factory: TracerFactory): void {
  describe(`Tracer contract: ${name}`, () => {
    const open: TracerUnderTest[] = [];
    const make = async (sampled = true) => {
      const t = await factory({ sampled });
      open.push(t);
      return t;
    };
    after(async () => {
      await Promise.all(open.map((t) => t.close()));
    });
    const byName = (t: TracerUnderTest, n: string) => {
      const found = t.read!().filter((s) => s.name === n);
      assert.equal(found.length, 1, `exactly one finished span named ${n}`);
      return found[0]!;
    };

    it('span methods chain, return the same span, and never throw', async () => {
      const { tracer } = await make();
      const span = tracer.startSpan('chain');
      assert.equal(span.setAttributes({ a: 1 }), span);
      assert.equal(span.addEvent('e'), span);
      assert.equal(span.recordError(new Error('x')), span);
      assert.equal(span.setStatus({ code: 'ok' }), span);
      assert.equal(span.updateName('chain2'), span);
      span.end();
      // After end(): everything is still callable and still chains.
      assert.equal(span.setAttributes({ b: 2 }).addEvent('late').recordError('late').updateName('x'), span);
      assert.equal(span.isRecording(), false);
    });

    it('nests children under their parent within one trace', async () => {
      const t = await make();
      const incoming = t.tracer.extract({ traceparent: INCOMING });
      const root = t.tracer.startSpan('root', { parent: incoming.parent });
      const child = t.tracer.startSpan('child', { parent: root });
      const grandchild = t.tracer.startSpan('grandchild', { parent: child });
      for (const s of [root, child, grandchild]) {
        assert.equal(s.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      }
      grandchild.end();
      child.end();
      root.end();
      if (!t.read) return;
      const [r, c, g] = ['root', 'child', 'grandchild'].map((n) => byName(t, n)) as [
        RecordedSpan,
        RecordedSpan,
        RecordedSpan,
      ];
      assert.equal(r.parentSpanId, '00f067aa0ba902b7');
      assert.equal(c.parentSpanId, r.spanId);
      assert.equal(g.parentSpanId, c.spanId);
      assert.notEqual(c.spanId, r.spanId);
      assert.match(g.spanId, HEX16);
    });

    it('starts a new trace when there is no parent', async () => {
      const t = await make();
      const a = t.tracer.startSpan('a');
      const b = t.tracer.startSpan('b');
      a.end();
      b.end();
      if (!t.read) return;
      const [ra, rb] = [byName(t, 'a'), byName(t, 'b')];
      assert.equal(ra.parentSpanId, undefined);
      assert.match(ra.traceId, HEX32);
      assert.notEqual(ra.traceId, rb.traceId);
    });

    it('records attributes from start, setAttributes and ctx (later values win, undefined skipped)', async () => {
      const t = await make();
      const ctx = ctxFor(t.tracer).with({ attributes: { 'request.id': 'r-1', 'user.id': 'u-1' } });
      const { span } = startSpan(ctx, 'attrs', { attributes: { 'user.id': 'u-2', n: 1 } });
      span.setAttributes({ flag: true, list: ['a', 'b'], nums: [1, 2], skipped: undefined, n: 2 });
      span.end();
      if (!t.read) return;
      const s = byName(t, 'attrs');
      assert.equal(s.attributes['request.id'], 'r-1');
      assert.equal(s.attributes['user.id'], 'u-2');
      assert.equal(s.attributes.n, 2);
      assert.equal(s.attributes.flag, true);
      assert.deepEqual(s.attributes.list, ['a', 'b']);
      assert.deepEqual(s.attributes.nums, [1, 2]);
      assert.ok(!('skipped' in s.attributes));
    });

    it('drops unsupported attribute values without throwing and keeps the rest', async () => {
      const t = await make();
      const weird = {
        obj: { a: 1 },
        fn: () => 1,
        big: 10n,
        mixed: [1, 'a'],
        nested: [[1]],
      } as unknown as Attributes;
      const span = t.tracer.startSpan('weird', { attributes: { ...weird, ok: 'yes' } });
      span.setAttributes({ ...weird, ok2: 3 });
      span.addEvent('ev', { ...weird, ok3: false });
      span.end();
      if (!t.read) return;
      const s = byName(t, 'weird');
      assert.deepEqual(Object.keys(s.attributes).sort(), ['ok', 'ok2']);
      assert.deepEqual(s.events[0]?.attributes, { ok3: false });
    });

    it('records events in order with their attributes', async () => {
      const t = await make();
      const span = t.tracer.startSpan('events');
      span.addEvent('first', { step: 1 });
      span.addEvent('second');
      span.end();
      if (!t.read) return;
      const s = byName(t, 'events');
      assert.deepEqual(
        s.events.map((e) => e.name),
        ['first', 'second'],
      );
      assert.equal(s.events[0]?.attributes.step, 1);
    });

    it('recordError adds an exception event and the error status; non-Error values too', async () => {
      const t = await make();
      const a = t.tracer.startSpan('err-a');
      a.recordError(new TypeError('bad input'));
      a.end();
      const b = t.tracer.startSpan('err-b');
      b.recordError('plain string');
      b.recordError({ toString: () => 'custom' });
      b.recordError(null);
      b.recordError(Object.create(null));
      b.end();
      if (!t.read) return;
      const sa = byName(t, 'err-a');
      assert.equal(sa.status.code, 'error');
      assert.equal(sa.status.message, 'bad input');
      const ev = sa.events.find((e) => e.name === 'exception');
      assert.ok(ev, 'exception event');
      assert.equal(ev.attributes['exception.message'], 'bad input');
      assert.equal(ev.attributes['exception.type'], 'TypeError');
      const sb = byName(t, 'err-b');
      assert.equal(sb.status.code, 'error');
      assert.ok(sb.events.filter((e) => e.name === 'exception').length >= 1);
    });

    it('setStatus, updateName, kind and startTime are recorded', async () => {
      const t = await make();
      const start = Date.now() - 60_000;
      const span = t.tracer.startSpan('old-name', { kind: 'server', startTime: start });
      span.updateName('new-name').setStatus({ code: 'ok' });
      span.end();
      if (!t.read) return;
      const s = byName(t, 'new-name');
      assert.equal(s.kind, 'server');
      assert.equal(s.status.code, 'ok');
      assert.ok(Math.abs(s.startTime - start) < 2, `start time ${s.startTime} ≈ ${start}`);
    });

    it('end() is idempotent and later calls are ignored', async () => {
      const t = await make();
      const span = t.tracer.startSpan('once');
      span.setAttributes({ before: 1 });
      span.end();
      span.end();
      span.setAttributes({ after: 1 });
      span.addEvent('after');
      span.setStatus({ code: 'error', message: 'late' });
      span.end();
      assert.equal(span.isRecording(), false);
      if (!t.read) return;
      const s = byName(t, 'once');
      assert.ok(!('after' in s.attributes));
      assert.equal(s.events.length, 0);
      assert.equal(s.status.code, 'unset');
    });

    it('with sampling off nothing is recorded, yet the trace context still propagates', async () => {
      const t = await make(false);
      const root = t.tracer.startSpan('unsampled-root');
      const child = t.tracer.startSpan('unsampled-child', { parent: root });
      assert.equal(root.isRecording(), false);
      assert.equal(child.isRecording(), false);
      child.setAttributes({ a: 1 }).addEvent('e').recordError(new Error('x'));
      child.end();
      root.end();
      // A sampled incoming parent is still honoured (parent-based), an unsampled one is not recorded.
      const unsampledIn = t.tracer.extract({ traceparent: INCOMING.replace(/-01$/, '-00') });
      const under = t.tracer.startSpan('under-unsampled', { parent: unsampledIn.parent });
      assert.equal(under.isRecording(), false);
      const headers: Record<string, string> = {};
      t.tracer.inject(headers, { span: under });
      assert.match(headers.traceparent ?? '', /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
      under.end();
      if (t.read) assert.equal(t.read().length, 0);
    });

    it('propagation round trip keeps trace id, span id and sampled flag', async () => {
      const t = await make();
      const incoming = t.tracer.extract({ traceparent: INCOMING, tracestate: 'vendor=abc' });
      assert.ok(incoming.parent, 'parent extracted');
      const pc = incoming.parent.spanContext();
      assert.equal(pc.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(pc.spanId, '00f067aa0ba902b7');
      assert.equal(pc.isRemote, true);
      assert.equal(pc.traceFlags & 1, 1);
      assert.equal(pc.traceState, 'vendor=abc');

      const span = t.tracer.startSpan('hop', { parent: incoming.parent, kind: 'client' });
      const headers: Record<string, string> = {};
      t.tracer.inject(headers, { span, baggage: { tenant: 'acme' } });
      const back = t.tracer.extract(headers);
      assert.ok(back.parent);
      assert.equal(back.parent.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(back.parent.spanContext().spanId, span.spanContext().spanId);
      assert.equal(back.parent.spanContext().traceFlags & 1, 1);
      if (t.propagatesBaggage) assert.deepEqual(back.baggage, { tenant: 'acme' });
      span.end();

      // A span of our own, when recording, round-trips as well.
      const own = t.tracer.startSpan('own');
      if (own.isRecording()) {
        const h: Record<string, string> = {};
        t.tracer.inject(h, { span: own });
        assert.deepEqual(
          { ...t.tracer.extract(h).parent?.spanContext(), isRemote: undefined },
          { ...own.spanContext(), isRemote: undefined },
        );
      }
      own.end();
    });

    it('extract ignores missing or malformed headers and accepts header arrays', async () => {
      const { tracer } = await make();
      for (const carrier of [
        {},
        { traceparent: 'garbage' },
        { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
        { traceparent: 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
        { traceparent: undefined },
        { baggage: '%%%;;==' },
      ]) {
        const r = tracer.extract(carrier);
        assert.equal(r.parent, undefined, JSON.stringify(carrier));
        assert.equal(typeof r.baggage, 'object');
      }
      const fromArray = tracer.extract({ traceparent: [INCOMING] });
      assert.equal(fromArray.parent?.spanContext().spanId, '00f067aa0ba902b7');
    });

    it('inject writes nothing without a valid span and baggage', async () => {
      const { tracer } = await make();
      const headers: Record<string, string> = {};
      tracer.inject(headers, {});
      tracer.inject(headers, { span: undefined, baggage: undefined });
      assert.deepEqual(headers, {});
    });

    it('withSpan runs sync and async functions, ends the span, records and rethrows errors', async () => {
      const t = await make();
      const ctx = ctxFor(t.tracer);
      let inner: Span | undefined;
      const v = withSpan(ctx, 'sync-ok', (c, span) => {
        inner = span;
        assert.equal(c.span, span);
        return 7;
      });
      assert.equal(v, 7);
      assert.equal(inner?.isRecording(), false, 'ended after return');
      assert.throws(
        () =>
          withSpan(ctx, 'sync-fail', () => {
            throw new Error('sync boom');
          }),
        /sync boom/,
      );
      assert.equal(await withSpan(ctx, 'async-ok', async () => 8), 8);
      await assert.rejects(
        withSpan(ctx, 'async-fail', async () => {
          await new Promise((r) => setImmediate(r));
          throw new Error('async boom');
        }),
        /async boom/,
      );
      if (!t.read) return;
      assert.equal(byName(t, 'sync-ok').status.code, 'unset');
      assert.equal(byName(t, 'sync-fail').status.code, 'error');
      assert.equal(byName(t, 'async-ok').status.code, 'unset');
      const af = byName(t, 'async-fail');
      assert.equal(af.status.code, 'error');
      assert.equal(
        af.events.find((e) => e.name === 'exception')?.attributes['exception.message'],
        'async boom',
      );
    });

    it('useLogger is optional; when present it takes a logger (even one that throws) and spans go on', async () => {
      const { tracer } = await make();
      if (tracer.useLogger === undefined) return;
      assert.equal(typeof tracer.useLogger, 'function');
      const throwing = {
        debug() {
          throw new Error('log');
        },
        info() {
          throw new Error('log');
        },
        warn() {
          throw new Error('log');
        },
        error() {
          throw new Error('log');
        },
        child() {
          return throwing;
        },
      };
      assert.doesNotThrow(() => tracer.useLogger!(throwing));
      const span = tracer.startSpan('after useLogger');
      assert.doesNotThrow(() =>
        span.setAttributes('not attributes' as never).setStatus({ code: 'ERROR' as never }),
      );
      span.end();
    });
  });
}
