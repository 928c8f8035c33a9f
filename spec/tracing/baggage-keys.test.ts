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
