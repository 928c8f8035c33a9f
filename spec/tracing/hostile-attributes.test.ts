/**
 * Attribute values and statuses that throw when read (a getter, a Proxy, a revoked Proxy, a
 * message whose toString throws) never throw into the caller: tracing calls sit on the request
 * path. What cannot be read is dropped with the one warning per key (README: bad attribute values
 * are dropped, never a crash); the rest of the set is kept.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Attributes, LogFields, Logger } from '../../lib/core/contracts.js';
import { startSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

function warnings() {
  const fields: (LogFields | undefined)[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (_message, f) => fields.push(f),
    error() {},
    child: () => logger,
  };
  return { logger, fields };
}

const boom = () => {
  throw new Error('caller boom');
};

/** Each: an attribute set with `ok: 1` and one key `bad` that throws when read or inspected. */
function hostileSets(): [string, Attributes][] {
  const revocable = Proxy.revocable([], {});
  revocable.revoke();
  return [
    [
      'a getter that throws',
      {
        ok: 1,
        get bad() {
          return boom();
        },
      } as never,
    ],
    ['a Proxy array whose elements throw', { ok: 1, bad: new Proxy(['a'], { get: boom }) } as never],
    ['a revoked Proxy', { ok: 1, bad: revocable.proxy } as never],
  ];
}

describe('hostile attribute values: dropped, never thrown (recording tracer)', () => {
  for (const [what, attrs] of hostileSets()) {
    it(`setAttributes: ${what}`, async () => {
      const { logger, fields } = warnings();
      const tracer = createOtelTracer({ exporter: 'memory', logger });
      const span = tracer.startSpan('s');
      assert.doesNotThrow(() => span.setAttributes(attrs));
      span.end();
      const [done] = tracer.finishedSpans();
      assert.deepEqual({ ...done!.attributes }, { ok: 1 });
      assert.deepEqual(fields, [{ key: 'bad', type: 'unreadable' }]);
      await tracer.close();
    });

    it(`startSpan attributes: ${what}`, async () => {
      const { logger, fields } = warnings();
      const tracer = createOtelTracer({ exporter: 'memory', logger });
      assert.doesNotThrow(() => tracer.startSpan('s', { attributes: attrs }).end());
      const [done] = tracer.finishedSpans();
      assert.ok(done, 'the span is still recorded');
      assert.deepEqual({ ...done.attributes }, { ok: 1 });
      assert.equal(fields.length, 1);
      await tracer.close();
    });

    it(`addEvent attributes: ${what}`, async () => {
      const tracer = createOtelTracer({ exporter: 'memory' });
      const span = tracer.startSpan('s');
      assert.doesNotThrow(() => span.addEvent('e', attrs));
      span.end();
      const [done] = tracer.finishedSpans();
      assert.deepEqual({ ...done!.events[0]?.attributes }, { ok: 1 });
      await tracer.close();
    });

    it(`ctx startSpan on a context carrying attributes: ${what}`, async () => {
      const { logger, fields } = warnings();
      const tracer = createOtelTracer({ exporter: 'memory', logger });
      const app = createApp({ tracer });
      const ctx = app.ctx.with({ attributes: { 'request.id': 'r1' } });
      assert.doesNotThrow(() => startSpan(ctx, 's', { attributes: attrs }).span.end());
      const [done] = tracer.finishedSpans();
      assert.deepEqual({ ...done!.attributes }, { 'request.id': 'r1', ok: 1 });
      assert.equal(fields.length, 1);
      await app.close();
    });
  }

  it('startSpan attributes: a getter that throws from its second read on (one span, no throw)', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    let reads = 0;
    const attrs = {
      ok: 1,
      get late() {
        if (++reads > 1) throw new Error('caller boom');
        return 'first';
      },
    } as Attributes;
    assert.doesNotThrow(() => tracer.startSpan('s', { attributes: attrs }).end());
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, 1);
    assert.equal(spans[0]!.attributes.ok, 1);
    await tracer.close();
  });

  it('an attribute set whose keys cannot be listed (Proxy ownKeys throws): nothing set, no throw', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const attrs = new Proxy({}, { ownKeys: boom }) as Attributes;
    const span = tracer.startSpan('s', { attributes: attrs });
    assert.doesNotThrow(() => span.setAttributes(attrs));
    span.end();
    assert.equal(tracer.finishedSpans().length, 1);
    await tracer.close();
  });
});

describe('a status message whose toString throws: the code is set, the message left out', () => {
  const message = { toString: boom } as unknown as string;
  it('recording tracer', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const span = tracer.startSpan('s');
    assert.doesNotThrow(() => span.setStatus({ code: 'error', message }));
    span.end();
    const [done] = tracer.finishedSpans();
    assert.equal(done!.status.code, 2); // SpanStatusCode.ERROR
    assert.equal(done!.status.message, undefined);
    await tracer.close();
  });

  it("exporter 'none' (propagate-only)", async () => {
    const tracer = createOtelTracer({ exporter: 'none' });
    const span = tracer.startSpan('s');
    assert.doesNotThrow(() => span.setStatus({ code: 'error', message }));
    assert.doesNotThrow(() =>
      span.setStatus({
        get code(): 'error' {
          return boom();
        },
      }),
    );
    span.end();
    await tracer.close();
  });
});

describe('a Map, Set or fetch Headers given as the attributes: dropped whole with one warning naming it', () => {
  // Their entries are not properties: a Map set nothing without a word, and a Headers — whose
  // methods are enumerable — got one "unsupported value type" warning per method (append,
  // delete, get …) while its entries were lost.
  const collections: [string, () => unknown][] = [
    ['Map', () => new Map([['order.id', '42']])],
    ['Set', () => new Set(['order.id'])],
    ['Headers', () => new Headers({ 'order-id': '42' })],
  ];
  for (const [kind, make] of collections)
    for (const place of ['setAttributes', 'startSpan', 'addEvent'] as const)
      it(`${kind} in ${place}`, async () => {
        const { logger, fields } = warnings();
        const tracer = createOtelTracer({ exporter: 'memory', logger });
        const attrs = make() as Attributes;
        const span = tracer.startSpan('s', place === 'startSpan' ? { attributes: attrs } : {});
        if (place === 'setAttributes') span.setAttributes(attrs);
        if (place === 'addEvent') span.addEvent('e', attrs);
        span.setAttributes({ ok: 1 });
        span.end();
        const [done] = tracer.finishedSpans();
        assert.deepEqual(done!.attributes, { ok: 1 });
        // The event is kept, without attributes (3.x records none as `undefined`).
        if (place === 'addEvent') assert.deepEqual(done!.events[0]!.attributes ?? {}, {});
        assert.deepEqual(fields, [{ type: kind }]);
        await tracer.close();
      });
});
