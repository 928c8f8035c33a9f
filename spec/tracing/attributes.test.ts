import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { AttributeFilter, allScalar } from '../../lib/tracing/otel/attributes.js';
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

// The fast test must never call a set valid when it is not: every non-scalar takes the full test.
describe('start-attribute check (attributes.ts)', () => {
  it('allScalar passes only strings, numbers, booleans and undefined', () => {
    assert.equal(allScalar({}), true);
    assert.equal(allScalar({ a: 's', b: 1, c: true, d: undefined }), true);
    for (const v of [null, ['a'], { x: 1 }, () => 1, 1n, Symbol('s')])
      assert.equal(allScalar({ ok: 1, v } as never), false, String(typeof v));
  });

  it('filter keeps the same object when every value is valid, homogeneous arrays included', () => {
    const { logger, fields } = warnings();
    const f = new AttributeFilter(logger);
    // null inside an array is allowed, as OpenTelemetry allows it.
    const valid = { s: 'x', n: 1, list: ['a', null, 'b'], nums: [1, 2], u: undefined } as never;
    assert.equal(f.filter(valid), valid);
    assert.deepEqual(fields, []);
  });

  it('filter and check drop or report each invalid key once, with its type and never its value', () => {
    const { logger, fields } = warnings();
    const f = new AttributeFilter(logger);
    const bad = { ok: 1, n: null, mixed: [1, 'a'], obj: { secret: 'hunter2' } } as never;
    assert.deepEqual(f.filter(bad), { ok: 1 });
    f.check(bad);
    f.check({ big: 1n } as never);
    assert.deepEqual(fields, [
      { key: 'n', type: 'null' },
      { key: 'mixed', type: 'mixed or non-primitive array' },
      { key: 'obj', type: 'object' },
      { key: 'big', type: 'bigint' },
    ]);
    assert.doesNotMatch(JSON.stringify(fields), /hunter2/);
  });

  it('a recorded span keeps valid start attributes and reports the rest once per key', async () => {
    const { logger, fields } = warnings();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    for (let i = 0; i < 2; i++)
      tracer
        .startSpan('s', {
          attributes: { list: ['a', 'b'], n: null, mixed: [1, 'a'], u: undefined, ok: 1 } as never,
        })
        .end();
    // Scalars and a valid array: no warning at all.
    tracer.startSpan('t', { attributes: { list: ['a'], ok: 2 } }).end();
    assert.deepEqual(tracer.finishedSpans()[0]?.attributes, { list: ['a', 'b'], ok: 1 });
    assert.deepEqual(
      fields.map((f) => f?.key),
      ['n', 'mixed'],
    );
    await tracer.close();
  });
});

const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

// Jaeger's query API cannot show a trace holding NaN or an infinity (jaeger.test.ts has the real
// one): they go as their string form, an array holding one as an array of strings.
describe('non-finite numbers (attributes.ts)', () => {
  it('allScalar sends a set holding NaN or an infinity to the full test, finite numbers not', () => {
    for (const v of NON_FINITE) assert.equal(allScalar({ ok: 1, v }), false, String(v));
    const finite = [0, -0, 1.5, -2, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER + 2];
    assert.equal(allScalar(Object.fromEntries(finite.map((v, i) => [`k${i}`, v]))), true);
  });

  it('filter sends their string form and warns once per key, naming the type and never the value', () => {
    const { logger, fields } = warnings();
    const f = new AttributeFilter(logger);
    const input = {
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      list: [1.5, Number.NaN, null, -0],
      fine: [1, 2],
      ok: 2,
      obj: { secret: 'hunter2' },
    } as never;
    const copy = structuredClone(input);
    const expected = {
      nan: 'NaN',
      inf: 'Infinity',
      ninf: '-Infinity',
      list: ['1.5', 'NaN', null, '0'],
      fine: [1, 2],
      ok: 2,
    };
    assert.deepEqual(f.filter(input), expected);
    assert.deepEqual(f.filter(input), expected);
    assert.deepEqual(input, copy, "the caller's record and arrays are left as they were");
    assert.deepEqual(fields, [
      { key: 'nan', type: 'number' },
      { key: 'inf', type: 'number' },
      { key: 'ninf', type: 'number' },
      { key: 'list', type: 'number array' },
      { key: 'obj', type: 'object' },
    ]);
    assert.doesNotMatch(JSON.stringify(fields), /hunter2|NaN|Infinity/);
  });

  it('check (2.x span start) returns only the converted values, and undefined when there are none', () => {
    const { logger, fields } = warnings();
    const f = new AttributeFilter(logger);
    assert.deepEqual(f.check({ a: Number.NaN, b: [Number.POSITIVE_INFINITY], n: null, ok: 1 } as never), {
      a: 'NaN',
      b: ['Infinity'],
    });
    assert.equal(f.check({ n: null, mixed: [1, 'a'] } as never), undefined);
    assert.deepEqual(
      fields.map((x) => x?.key),
      ['a', 'b', 'n', 'mixed'],
    );
  });

  it('the warned keys stay bounded: past 1000 keys, conversions go on without warnings', () => {
    const { logger, fields } = warnings();
    const f = new AttributeFilter(logger);
    for (let i = 0; i < 1200; i++)
      assert.deepEqual(f.filter({ [`k${i}`]: Number.NaN }), { [`k${i}`]: 'NaN' });
    assert.equal(fields.length, 1000);
  });

  it('a recorded span gets the string form from span start, setAttributes and events', async () => {
    const { logger, fields } = warnings();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const span = tracer.startSpan('s', {
      attributes: { nan: Number.NaN, list: [1, Number.NEGATIVE_INFINITY], ok: 1, n: null } as never,
    });
    span.setAttributes({ inf: Number.POSITIVE_INFINITY, nan: Number.NaN });
    span.addEvent('e', { v: Number.NaN, w: 2 });
    span.end();
    const [finished] = tracer.finishedSpans();
    assert.deepEqual(finished?.attributes, { nan: 'NaN', list: ['1', '-Infinity'], ok: 1, inf: 'Infinity' });
    assert.deepEqual(finished?.events[0]?.attributes, { v: 'NaN', w: 2 });
    assert.deepEqual(
      fields.map((x) => x?.key),
      ['nan', 'list', 'n', 'inf', 'v'],
    );
    await tracer.close();
  });

  it('a string or an array given as the attributes is dropped with one warning, not spread into "0", "1", …', async () => {
    const { logger, fields } = warnings();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const span = tracer.startSpan('s', { attributes: 'ab' as never });
    span.setAttributes('xy' as never);
    span.setAttributes(['p', 'q'] as never);
    span.setAttributes({ ok: 1 });
    span.addEvent('e', 'z' as never);
    span.end();
    const [finished] = tracer.finishedSpans();
    assert.deepEqual(finished?.attributes, { ok: 1 });
    assert.deepEqual(finished?.events[0]?.attributes ?? {}, {}); // 2.x: {}, 3.x: undefined
    assert.equal(fields.length, 1, JSON.stringify(fields));
    assert.deepEqual(fields[0], { type: 'string' });
    await tracer.close();
  });

  // OpenTelemetry drops an attribute with an empty name (said on its diag logger only): it went
  // without a word, where every other dropped attribute is warned about.
  it('an attribute with an empty name is left out with one warning per tracer (start, setAttributes, event, link)', async () => {
    const { logger, fields } = warnings();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const other = tracer.startSpan('other');
    other.end();
    for (let i = 0; i < 2; i++) {
      const span = tracer.startSpan('s', {
        attributes: { '': 'a', ok: 1 },
        links: [{ context: other.spanContext(), attributes: { '': 1, l: 2 } }],
      });
      span.setAttributes({ '': 'b', ok2: 2 });
      span.addEvent('e', { '': 'c', ok3: 3 });
      span.end();
    }
    const spans = tracer.finishedSpans().filter((s) => s.name === 's');
    assert.equal(spans.length, 2);
    for (const s of spans) {
      assert.deepEqual({ ...s.attributes }, { ok: 1, ok2: 2 });
      assert.deepEqual({ ...s.events[0]?.attributes }, { ok3: 3 });
      assert.deepEqual({ ...s.links[0]?.attributes }, { l: 2 });
    }
    assert.deepEqual(fields, [{ key: '', type: 'empty name' }]);
    await tracer.close();
  });

  it('an unsampled span is not checked: no warning', async () => {
    const { logger, fields } = warnings();
    const tracer = createOtelTracer({ exporter: 'memory', logger, sampleRate: 0 });
    tracer
      .startSpan('s', { attributes: { nan: Number.NaN } })
      .setAttributes({ inf: Number.POSITIVE_INFINITY })
      .end();
    assert.deepEqual(fields, []);
    assert.deepEqual(tracer.finishedSpans(), []);
    await tracer.close();
  });

  // Any record: what reaches the SDK holds only strings, booleans, finite numbers and homogeneous
  // arrays of them; every value that could go as it is goes untouched, non-finite numbers go as
  // strings, and when nothing changes the record itself goes (no copy on the common path).
  it('property: only carriable values reach the SDK, the valid ones unchanged', () => {
    const number = fc.oneof(fc.double(), fc.constantFrom(...NON_FINITE));
    const value = fc.oneof(
      fc.string(),
      number,
      fc.boolean(),
      fc.constant(undefined),
      fc.constant(null),
      fc.array(fc.oneof(number, fc.constant(null)), { maxLength: 4 }),
      fc.array(fc.oneof(fc.string(), fc.constant(undefined)), { maxLength: 4 }),
      fc.array(fc.boolean(), { maxLength: 4 }),
      fc.array(fc.oneof(fc.string(), fc.double(), fc.boolean()), { maxLength: 4 }),
      fc.bigInt(),
      fc.object({ maxDepth: 1 }),
    );
    const record = fc.dictionary(
      fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'),
      value,
      { maxKeys: 6 },
    );
    const scalar = (x: unknown) => typeof x === 'string' || typeof x === 'boolean' || Number.isFinite(x);
    const carriable = (x: unknown): boolean => {
      if (x === undefined || scalar(x)) return true;
      if (!Array.isArray(x)) return false;
      const types = new Set(x.filter((e) => e != null).map((e) => typeof e));
      return types.size <= 1 && x.every((e) => e == null || scalar(e));
    };
    fc.assert(
      fc.property(record, (input) => {
        const f = new AttributeFilter(warnings().logger);
        const out = f.filter(input as never) as Record<string, unknown>;
        for (const key in out) assert.ok(carriable(out[key]), `${key}: ${String(out[key])}`);
        let changed = false;
        for (const key in input) {
          const v = (input as Record<string, unknown>)[key];
          // An empty name is left out whatever its value (OpenTelemetry drops it).
          if (key === '') {
            changed = true;
            assert.ok(!(key in out), 'empty name');
            continue;
          }
          if (carriable(v)) {
            assert.equal(out[key], v, key);
            continue;
          }
          changed = true;
          // A number array with a non-finite element becomes all strings (nulls kept); the
          // values OpenTelemetry cannot carry at all are left out.
          const numbers = Array.isArray(v) && v.every((e) => e == null || typeof e === 'number');
          if (typeof v === 'number') assert.equal(out[key], String(v));
          else if (numbers)
            assert.deepEqual(
              out[key],
              v.map((e) => (e == null ? e : String(e))),
            );
          else assert.ok(!(key in out), key);
        }
        if (!changed) assert.equal(out, input);
      }),
      { numRuns: 500 },
    );
  });
});
