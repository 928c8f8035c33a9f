/**
 * A baggage member named `__proto__` is an entry like any other on every tracer: extracting it
 * used to assign it to a plain object (the prototype setter), so the entry was lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tracer } from '../../lib/core/contracts.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const tracers: [string, () => Tracer][] = [
  ['otel memory (recording)', () => createOtelTracer({ exporter: 'memory' })],
  ['otel exporter none (propagate-only)', () => createOtelTracer({ exporter: 'none' })],
  ['createPropagateOnlyTracer', () => createPropagateOnlyTracer()],
];

describe('baggage key __proto__ is kept as an ordinary entry', () => {
  for (const [name, make] of tracers) {
    it(`${name}: extracted, never touching a prototype, and passed on`, async () => {
      const tracer = make();
      const { baggage } = tracer.extract({ baggage: '__proto__=x,user=alice,constructor=y' });
      assert.equal(Object.getPrototypeOf(baggage), Object.prototype, 'prototype untouched');
      assert.deepEqual(Object.keys(baggage).sort(), ['__proto__', 'constructor', 'user']);
      assert.equal(Object.getOwnPropertyDescriptor(baggage, '__proto__')?.value, 'x');
      assert.equal(baggage.user, 'alice');
      // Sent on to the next service.
      const out: Record<string, string> = {};
      tracer.inject(out, { baggage });
      assert.deepEqual(out.baggage?.split(',').sort(), ['__proto__=x', 'constructor=y', 'user=alice']);
      // A value that is an object literal's text never becomes a prototype.
      const again = tracer.extract({ baggage: out.baggage! }).baggage;
      assert.equal(Object.getPrototypeOf(again), Object.prototype);
      assert.equal(Object.getOwnPropertyDescriptor(again, '__proto__')?.value, 'x');
      await tracer.close?.();
    });
  }
});

/**
 * W3C Baggage (HTTP header format): `value = *baggage-octet`, so `flag=` is a valid member with an
 * empty value. The OpenTelemetry tracer's extraction skipped it (as upstream's does) while
 * `createPropagateOnlyTracer` kept it: the same `exporter: none` passed different baggage on
 * depending on how it was built. Every tracer keeps it now. The other rules checked here held.
 */
describe('W3C baggage header rules, the same on every tracer', () => {
  const TP = '00-12345678901234567890123456789012-1234567890123456-01';
  for (const [name, make] of tracers) {
    it(`${name}: an empty value is kept and passed on`, async () => {
      const tracer = make();
      const { baggage } = tracer.extract({ baggage: 'flag=,user=alice' });
      assert.deepEqual({ ...baggage }, { flag: '', user: 'alice' });
      const out: Record<string, string> = {};
      tracer.inject(out, { baggage });
      assert.equal(out.baggage, 'flag=,user=alice');
      await tracer.close?.();
    });
    it(`${name}: a malformed member is dropped alone; '=' in a value, OWS and several headers`, async () => {
      const tracer = make();
      const read = (baggage: string | string[]) =>
        tracer.extract({ traceparent: TP, baggage } as Record<string, string | string[]>);
      for (const header of ['a=1,bad,c=3', 'a=1,k=%zz,c=3', 'a=1,=x,c=3']) {
        const { parent, baggage } = read(header);
        assert.deepEqual({ ...baggage }, { a: '1', c: '3' }, header);
        assert.equal(parent?.spanContext().traceId, TP.slice(3, 35), `${header}: traceparent still read`);
      }
      assert.deepEqual({ ...read('k=a=b').baggage }, { k: 'a=b' });
      assert.deepEqual({ ...read(' k1 = v1 ,\tk2\t=\tv2 ').baggage }, { k1: 'v1', k2: 'v2' });
      assert.deepEqual({ ...read(['a=1', 'b=2,c=3']).baggage }, { a: '1', b: '2', c: '3' });
      assert.deepEqual({ ...read('n=DF%2028').baggage }, { n: 'DF 28' });
      await tracer.close?.();
    });
  }
});
