/** withSpan ends its span whatever `fn` returns: here, a thenable whose `then` throws. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { withSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

describe('withSpan: a thenable whose then() throws', () => {
  it('the error is recorded, the span ended and the error rethrown', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const boom = new Error('then exploded');
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: the point of the test
      then() {
        throw boom;
      },
    };
    assert.throws(() => withSpan(app.ctx, 'lazy', () => thenable), boom);
    const [span] = tracer.finishedSpans();
    assert.ok(span, 'the span was ended (exported)');
    assert.equal(span.name, 'lazy');
    assert.equal(span.status.code, 2);
    assert.deepEqual(
      span.events.map((e) => e.name),
      ['exception'],
    );
    await app.close();
  });
});
