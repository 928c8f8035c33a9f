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
