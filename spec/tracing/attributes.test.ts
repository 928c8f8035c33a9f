import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
