/**
 * `SpanOptions.links` (OpenTelemetry span links), e.g. a batch consumer's span linked to the span
 * of each message it processes. There was no such option: a user coming from the raw SDK
 * (`tracer.startSpan(name, { links })`) had no way to record them, and `links:` passed through
 * `startSpan`/`withSpan` was warned about as an unknown key and dropped. Links are checked like
 * attributes: an invalid context is dropped with one warning, link attributes are filtered as
 * span attributes are. Checked in a real Jaeger too (links are `FOLLOWS_FROM` references there).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Logger, SpanLink } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { injectHeaders, startSpan, withSpan } from '../../lib/core/span.js';
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

const A = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
const B = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0 };

describe('span links', () => {
  it('are recorded with their attributes and trace state; no unknown-key warning', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    withSpan(app.ctx, 'process batch', () => undefined, {
      kind: 'consumer',
      links: [
        {
          context: { ...A, traceState: 'vendor=abc', isRemote: true },
          attributes: { 'messaging.message.id': 'm1' },
        },
        { context: { ...B, traceFlags: 0xff } },
      ],
    });
    const [span] = tracer.finishedSpans();
    assert.equal(span!.links.length, 2);
    const [l1, l2] = span!.links;
    assert.equal(l1!.context.traceId, A.traceId);
    assert.equal(l1!.context.spanId, A.spanId);
    assert.equal(l1!.context.traceFlags, 1);
    assert.equal(l1!.context.traceState?.serialize(), 'vendor=abc');
    assert.deepEqual({ ...l1!.attributes }, { 'messaging.message.id': 'm1' });
    assert.equal(l2!.context.spanId, B.spanId);
    assert.equal(l2!.context.traceFlags, 0x03, 'only the sampled and random bits are kept');
    assert.deepEqual(logger.warnings, []);
    await app.close();
  });

  it('a link without a valid context (bad or zero ids, not an object, a throwing getter) is dropped with one warning per reason', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    const throwing = {
      get context(): never {
        throw new Error('boom');
      },
    };
    const links = [
      { context: { traceId: '0'.repeat(32), spanId: A.spanId, traceFlags: 1 } },
      { context: { traceId: A.traceId.toUpperCase(), spanId: A.spanId, traceFlags: 1 } },
      { context: { ...A, spanId: '0'.repeat(16) } },
      null,
      'x',
      throwing,
      { context: A, attributes: { ok: 1, bad: { nested: true }, inf: Number.POSITIVE_INFINITY } },
    ] as unknown as SpanLink[];
    for (let i = 0; i < 2; i++) startSpan(app.ctx, `s${i}`, { links }).span.end();
    startSpan(app.ctx, 'not-array', { links: A as unknown as SpanLink[] }).span.end();
    const hostile = new Proxy([{ context: A }], {
      get(target, key) {
        if (key === 'length') throw new Error('no length');
        return Reflect.get(target, key);
      },
    });
    startSpan(app.ctx, 'proxy', { links: hostile }).span.end();
    const spans = tracer.finishedSpans();
    assert.deepEqual(
      spans.map((s) => s.links.length),
      [1, 1, 0, 0],
    );
    assert.deepEqual({ ...spans[0]!.links[0]!.attributes }, { ok: 1, inf: 'Infinity' });
    const linkWarnings = logger.warnings.filter((w) => w.startsWith('span link dropped'));
    assert.equal(linkWarnings.length, 4, linkWarnings.join('\n'));
    assert.ok(linkWarnings.some((w) => /no valid trace id/.test(w)));
    assert.ok(linkWarnings.some((w) => /not a \{ context/.test(w)));
    assert.ok(linkWarnings.some((w) => /unreadable/.test(w)));
    assert.ok(linkWarnings.some((w) => /not an array/.test(w)));
    assert.ok(logger.warnings.some((w) => /span attribute dropped.*"key":"bad"/.test(w)));
    await app.close();
  });

  it('a span context or a span given as the link itself is named as such in its warning', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    const other = tracer.startSpan('other');
    // As if links were span contexts: the warning said the link's context had no valid ids.
    startSpan(app.ctx, 'bare', { links: [A, other] as unknown as SpanLink[] }).span.end();
    other.end();
    assert.deepEqual(
      tracer.finishedSpans().map((s) => s.links.length),
      [0, 0],
    );
    assert.deepEqual(logger.warnings, [
      'span link dropped {"reason":"a span context or span given as the link: a link is { context: span.spanContext(), attributes? }"}',
    ]);
    await app.close();
  });

  it('the no-op and propagate-only tracers take and ignore them', () => {
    for (const tracer of [noopTracer, createPropagateOnlyTracer()]) {
      const app = createApp({ tracer });
      const { span } = startSpan(app.ctx, 'x', { links: [{ context: A }] });
      span.end();
      assert.equal(span.isRecording(), false);
    }
  });
});

describeWithServers('span links in a real Jaeger', skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });

  it('a consumer span linked to three producer spans shows three FOLLOWS_FROM references', async () => {
    const producer = createApp({
      tracer: createOtelTracer({ serviceName: 'links-producer', endpoint: jaeger.otlpEndpoint }),
    });
    const consumer = createApp({
      tracer: createOtelTracer({ serviceName: 'links-consumer', endpoint: jaeger.otlpEndpoint }),
    });
    const messages = [1, 2, 3].map((i) =>
      withSpan(producer.ctx, `publish ${i}`, (ctx) => ({ headers: injectHeaders(ctx, {}) }), {
        kind: 'producer',
      }),
    );
    const links = messages.map((m, i) => ({
      context: consumer.ctx.tracer.extract(m.headers).parent!.spanContext(),
      attributes: { 'messaging.message.id': `m${i}` },
    }));
    const { span } = startSpan(consumer.ctx, 'process batch', { kind: 'consumer', links });
    span.end();
    await producer.close();
    await consumer.close();
    const trace = await waitFor(() => jaeger.getTrace(span.spanContext().traceId), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the consumer trace in Jaeger',
    });
    const batch = trace.spans.find((s) => s.operationName === 'process batch')!;
    assert.deepEqual(
      batch.references.map((r) => [r.refType, r.traceID, r.spanID]),
      links.map((l) => ['FOLLOWS_FROM', l.context.traceId, l.context.spanId]),
    );
  });
});
