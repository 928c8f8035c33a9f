import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noopLogger, noopMetrics, noopSpan, noopTracer } from '../../lib/core/noop.js';
import { formatTraceparent, parseTraceparent } from '../../lib/core/w3c.js';

describe('no-op implementations', () => {
  it('noop tracer returns the shared no-op span without a parent', () => {
    const s = noopTracer.startSpan('x', { attributes: { a: 1 } });
    assert.equal(s, noopSpan);
    assert.equal(s.isRecording(), false);
    assert.equal(s.setAttributes({ a: 1 }).addEvent('e').recordError(new Error('x')), s);
    s.end();
    s.end();
  });

  it('noop tracer ignores malformed trace headers', () => {
    for (const bad of [
      '',
      'garbage',
      `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
      `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    ]) {
      assert.equal(noopTracer.extract({ traceparent: bad }).parent, undefined, bad);
    }
    assert.equal(noopTracer.extract({ traceparent: ['x', 'y'] }).parent, undefined);
  });

  it('w3c traceparent parse/format round trip', () => {
    const h = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const sc = parseTraceparent(h);
    assert.ok(sc);
    assert.equal(sc.traceFlags, 1);
    assert.equal(sc.isRemote, true);
    assert.equal(formatTraceparent(sc), h);
  });

  it('noop metrics and logger accept every call', () => {
    noopMetrics.counter({ name: 'a', help: 'a' }).inc({ x: 1 }, 2);
    noopMetrics.gauge({ name: 'b', help: 'b' }).set(3);
    const h = noopMetrics.histogram({ name: 'c', help: 'c' });
    h.observe(1);
    assert.equal(typeof h.startTimer()(), 'number');
    noopMetrics.onCollect(() => {})();
    noopLogger.child({ a: 1 }).info('x');
  });
});
