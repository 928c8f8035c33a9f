/**
 * The span API a user migrating from the raw OpenTelemetry SDK reaches for: an explicit end time
 * (`span.end(endTime)`), an event time (`span.addEvent(name, attributes, time)`) and links added
 * after start (`span.addLink(link)` / `addLinks(links)`). The core `Span` had none of them: the
 * times were ignored (the span ended and the event happened at the time of the call) and there was
 * no way to add a link after start. Times are ms since the epoch or a `Date`; a bad one (NaN,
 * Infinity, negative, an invalid Date, a string, an HrTime) means now with one warning per tracer
 * and place — the SDK exported NaN times for some of them; an end before the start ends the span at
 * its start (duration 0), as the SDK does, with a warning on the tracer's logger. Every tracer
 * takes the new calls (the ones that record nothing ignore them); checked in a real Jaeger too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Logger, Span, SpanLink, SpanTime, Tracer } from '../../lib/core/contracts.js';
import { noopSpan, noopTracer } from '../../lib/core/noop.js';
import { startSpan } from '../../lib/core/span.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    warnings,
    debug() {},
    info() {},
    warn(msg: string, fields?: Record<string, unknown>) {
      warnings.push(fields ? `${msg} ${JSON.stringify(fields)}` : msg);
    },
    error() {},
    child: () => logger,
  };
  return logger as unknown as Logger & { warnings: string[] };
}

/** ms since the epoch of an SDK HrTime. */
const ms = (h: readonly [number, number]) => h[0] * 1e3 + h[1] / 1e6;

const A = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
const B = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0 };

describe('span end time, event time and links after start (otel, memory exporter)', () => {
  it('end(time) and addEvent(name, attributes, time) record the given times (ms or Date), without a warning', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    const t0 = Date.now() - 60_000;
    const { span } = startSpan(app.ctx, 'job', { startTime: t0 });
    span.addEvent('queued', { queue: 'mail' }, t0 + 1_000);
    span.addEvent('picked', undefined, new Date(t0 + 2_000));
    // The SDK's `addEvent(name, time)` form, from JavaScript.
    (span as unknown as { addEvent(name: string, time: number): Span }).addEvent('sdk-form', t0 + 3_000);
    span.end(new Date(t0 + 5_000));
    const other = startSpan(app.ctx, 'other', { startTime: t0 }).span;
    other.end(t0 + 250.5);
    const [job, second] = tracer.finishedSpans();
    assert.equal(ms(job!.startTime), t0);
    assert.equal(ms(job!.endTime), t0 + 5_000);
    assert.deepEqual(
      job!.events.map((e) => [e.name, Math.round(ms(e.time) - t0), { ...e.attributes }]),
      [
        ['queued', 1_000, { queue: 'mail' }],
        ['picked', 2_000, {}],
        ['sdk-form', 3_000, {}],
      ],
    );
    assert.equal(Math.round((ms(second!.endTime) - t0) * 10) / 10, 250.5);
    assert.deepEqual(logger.warnings, []);
    await app.close();
  });

  it('a bad time (NaN, Infinity, negative, ns as ms, invalid Date, string, HrTime, null) means now, one warning per tracer and place, never a throw', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    const bad: unknown[] = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      Date.now() * 1e6,
      new Date('not a date'),
      '2024-01-01',
      [1_700_000_000, 0],
      null,
    ];
    const before = Date.now();
    for (const time of bad) {
      const { span } = startSpan(app.ctx, 'bad');
      span.addEvent('e', { k: 1 }, time as SpanTime);
      span.end(time as SpanTime);
    }
    const after = Date.now();
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, bad.length);
    for (const s of spans) {
      for (const t of [ms(s.endTime), ms(s.events[0]!.time)]) {
        assert.ok(
          Number.isFinite(t) && t >= before - 1 && t <= after + 1,
          `${t} is not now (${before}..${after})`,
        );
      }
      assert.deepEqual({ ...s.events[0]!.attributes }, { k: 1 });
    }
    assert.deepEqual(
      logger.warnings.map((w) => w.replace(/ \{.*$/, '')),
      [
        'span event time ignored: not a time in ms since the epoch or a Date; now is used',
        'span end time ignored: not a time in ms since the epoch or a Date; now is used',
      ],
    );
    // A second tracer warns again (once per tracer), and startTime takes the same rule.
    const logger2 = recordingLogger();
    const tracer2 = createOtelTracer({ exporter: 'memory', logger: logger2 });
    tracer2.startSpan('s', { startTime: new Date('x') as unknown as number }).end();
    tracer2.startSpan('s', { startTime: Number.NaN }).end();
    const [s1, s2] = tracer2.finishedSpans();
    assert.ok(Number.isFinite(ms(s1!.startTime)) && Number.isFinite(ms(s2!.startTime)));
    assert.equal(logger2.warnings.length, 1, logger2.warnings.join('\n'));
    assert.match(logger2.warnings[0]!, /span startTime ignored.*"received":"an invalid Date"/);
    await app.close();
    await tracer2.close();
  });

  it('a time after 2262-04-11 (past 64-bit nanoseconds) means now, with the warning; one just before it is kept', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    // The last usable ms, and times after it that a Date holds: they used to be taken, and went
    // out wrong (OTLP wrapped 2600 to 2015; Jaeger showed a span ending in 2500 as duration 0).
    const last = Date.UTC(2262, 3, 11, 23, 47, 16, 854);
    const late = [last + 1, new Date('2500-01-01T00:00:00Z'), Date.UTC(2600, 0, 1), new Date(8.64e15)];
    const before = Date.now();
    for (const time of late) {
      const { span } = startSpan(app.ctx, 'late', { startTime: time });
      span.addEvent('e', undefined, time);
      span.end(time);
    }
    const after = Date.now();
    const kept = startSpan(app.ctx, 'last', { startTime: Date.now() }).span;
    kept.addEvent('e', undefined, new Date(last));
    kept.end(last);
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, late.length + 1);
    for (const s of spans.slice(0, late.length))
      for (const t of [ms(s.startTime), ms(s.endTime), ms(s.events[0]!.time)])
        assert.ok(t >= before - 1 && t <= after + 1, `${t} is not now (${before}..${after})`);
    const lastSpan = spans.at(-1)!;
    assert.equal(ms(lastSpan.endTime), last);
    assert.equal(ms(lastSpan.events[0]!.time), last);
    assert.deepEqual(
      logger.warnings.map((w) => w.replace(/ \{.*$/, '')),
      [
        'span startTime ignored: not a time in ms since the epoch or a Date; now is used',
        'span event time ignored: not a time in ms since the epoch or a Date; now is used',
        'span end time ignored: not a time in ms since the epoch or a Date; now is used',
      ],
    );
    assert.match(logger.warnings[0]!, /"received":"beyond 9223372036854 ms \(2262-04-11T23:47:16\.854Z\)"/);
    await app.close();
  });

  it('a hostile time (a Proxy whose traps throw, a Proxy around a Date, a Date subclass) never throws', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const trap = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    const wrapped = new Proxy(new Date(), {});
    class LateDate extends Date {
      override getTime(): number {
        throw new Error('no time');
      }
    }
    const late = new LateDate(Date.now() - 1_000);
    for (const time of [trap, wrapped]) {
      const span = tracer.startSpan('hostile');
      span.addEvent('e', trap as never);
      span.addEvent('e', {}, time as never);
      span.end(time as never);
    }
    const sub = tracer.startSpan('subclass', { startTime: Date.now() - 2_000 });
    sub.end(late); // its date is read without calling its getTime
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, 3);
    assert.equal(ms(spans[2]!.endTime), Date.prototype.getTime.call(late));
    assert.ok(logger.warnings.some((w) => /span end time ignored/.test(w)));
    await tracer.close();
  });

  it('an end time before the start ends the span at its start (duration 0), with one warning per tracer', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const start = Date.now() - 10_000;
    for (let i = 0; i < 2; i++) tracer.startSpan('early', { startTime: start }).end(start - 5_000);
    tracer.startSpan('equal', { startTime: start }).end(start);
    const [a, b, equal] = tracer.finishedSpans();
    for (const s of [a!, b!, equal!]) {
      assert.deepEqual(s.duration, [0, 0]);
      assert.equal(ms(s.endTime), start);
    }
    assert.deepEqual(logger.warnings, [
      "span end time is before the span's start: the span ends at its start (duration 0)",
    ]);
    await tracer.close();
  });

  it('addLink / addLinks add links after start, checked as `links` at start are', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    const { span } = startSpan(app.ctx, 'batch', { links: [{ context: A }] });
    assert.equal(
      span.addLink?.({ context: { ...B, traceState: 'v=1' }, attributes: { n: 2, bad: {} as never } }),
      span,
    );
    span.addLinks?.([
      { context: { ...A, spanId: '0'.repeat(16) } },
      null as unknown as SpanLink,
      { context: { ...B, spanId: 'c'.repeat(16) } },
    ]);
    span.addLinks?.(A as unknown as SpanLink[]); // not an array
    span.end();
    span.addLink?.({ context: B }); // after end: ignored
    const [s] = tracer.finishedSpans();
    assert.deepEqual(
      s!.links.map((l) => [l.context.spanId, l.context.traceState?.serialize(), { ...l.attributes }]),
      [
        [A.spanId, undefined, {}],
        [B.spanId, 'v=1', { n: 2 }],
        ['c'.repeat(16), undefined, {}],
      ],
    );
    const dropped = logger.warnings.filter((w) => w.startsWith('span link dropped'));
    assert.equal(dropped.length, 3, dropped.join('\n'));
    assert.ok(logger.warnings.some((w) => /span attribute dropped.*"key":"bad"/.test(w)));
    await app.close();
  });
});

describe('every tracer takes the new span calls; the ones that record nothing ignore them', () => {
  const tracers: [string, () => Tracer][] = [
    ['no-op', () => noopTracer],
    ['propagate-only (hyperion/tracing)', () => createPropagateOnlyTracer()],
    ["otel exporter 'none'", () => createOtelTracer({ exporter: 'none' })],
    ['otel enabled: false', () => createOtelTracer({ enabled: false })],
    ['otel unsampled (sampleRate 0)', () => createOtelTracer({ exporter: 'memory', sampleRate: 0 })],
  ];
  for (const [name, make] of tracers) {
    it(name, async () => {
      const logger = recordingLogger();
      const tracer = make();
      tracer.useLogger?.(logger);
      const parent = tracer.extract({ traceparent: `00-${A.traceId}-${A.spanId}-00` }).parent;
      for (const span of [tracer.startSpan('root'), tracer.startSpan('child', { parent })]) {
        assert.equal(span.isRecording(), false);
        assert.equal(span.addEvent('e', { a: 1 }, Date.now()), span);
        assert.equal(span.addEvent('e', undefined, Number.NaN), span);
        assert.equal(span.addLink?.({ context: B }), span);
        assert.equal(span.addLinks?.([{ context: B }, null as unknown as SpanLink]), span);
        span.end(Number.NaN);
        span.end(Date.now());
      }
      assert.equal(noopSpan.addLink?.({ context: A }), noopSpan);
      // Nothing is checked where nothing is recorded: no warning.
      assert.deepEqual(logger.warnings, []);
      if ('finishedSpans' in tracer)
        assert.deepEqual((tracer as { finishedSpans(): unknown[] }).finishedSpans(), []);
      await tracer.close?.();
    });
  }
});

describeWithServers('span end time, event time and a link after start in a real Jaeger', skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });

  it('the exported span carries the given end and event times, and the late link as a FOLLOWS_FROM reference', async () => {
    const app = createApp({
      tracer: createOtelTracer({ serviceName: 'span-times', endpoint: jaeger.otlpEndpoint }),
    });
    const producer = startSpan(app.ctx, 'publish', { kind: 'producer' }).span;
    producer.end();
    // Whole ms, for exact µs in Jaeger.
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 30_000;
    const { span } = startSpan(app.ctx, 'replayed job', { kind: 'consumer', startTime: t0 });
    span.addEvent('step', { n: 1 }, new Date(t0 + 1_500));
    span.addLink?.({ context: producer.spanContext(), attributes: { 'messaging.message.id': 'm1' } });
    span.end(t0 + 4_000);
    await app.close();
    const trace = await waitFor(
      async () => {
        const t = await jaeger.getTrace(span.spanContext().traceId);
        return t?.spans.some((s) => s.operationName === 'replayed job') ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the span in Jaeger' },
    );
    const job = trace.spans.find((s) => s.operationName === 'replayed job')!;
    // Jaeger's times are µs since the epoch.
    assert.equal(job.startTime, t0 * 1000);
    assert.equal(job.duration, 4_000_000);
    assert.deepEqual(
      job.logs.map((l) => [l.timestamp, l.fields.find((f) => f.key === 'event')?.value]),
      [[(t0 + 1_500) * 1000, 'step']],
    );
    assert.deepEqual(
      job.references.map((r) => [r.refType, r.traceID, r.spanID]),
      [['FOLLOWS_FROM', producer.spanContext().traceId, producer.spanContext().spanId]],
    );
  });

  it('an end and an event time in 2600 are now in Jaeger, not 2015 (OTLP nanoseconds wrapped at 2^64)', async () => {
    const app = createApp({
      tracer: createOtelTracer({
        serviceName: 'span-times',
        endpoint: jaeger.otlpEndpoint,
        logger: recordingLogger(),
      }),
    });
    const before = Date.now();
    const { span } = startSpan(app.ctx, 'never ends');
    span.addEvent('never', undefined, new Date('2600-01-01T00:00:00Z'));
    span.end(new Date('2600-01-01T00:00:00Z'));
    await app.close();
    const after = Date.now();
    const trace = await waitFor(() => jaeger.getTrace(span.spanContext().traceId), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the span in Jaeger',
    });
    const s = trace.spans[0]!;
    // Jaeger's times are µs since the epoch: the span ended and its event happened now.
    const end = (s.startTime + s.duration) / 1000;
    assert.ok(end >= before - 1 && end <= after + 1, `end ${new Date(end).toISOString()} is not now`);
    const event = s.logs[0]!.timestamp / 1000;
    assert.ok(event >= before - 1 && event <= after + 1, `event ${new Date(event).toISOString()} is not now`);
  });
});
