import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
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

describe('no-op tracer inject: a span context of the user’s own is checked like a received one', () => {
  const spanWith = (traceId: string, spanId: string, traceState?: string) =>
    ({ ...noopSpan, spanContext: () => ({ traceId, spanId, traceFlags: 1, traceState }) }) as typeof noopSpan;

  it('ids that are not hex inject nothing (they went out as a traceparent every receiver drops)', () => {
    const headers: Record<string, string> = {};
    noopTracer.inject(headers, { span: spanWith('z'.repeat(32), '00f067aa0ba902b7', 'a=1'), baggage: {} });
    assert.deepEqual(headers, {});
  });

  it('an invalid tracestate is not sent; the request it goes on reaches a real server', async () => {
    const T = '4bf92f3577b34da6a3ce929d0e0e4736';
    const S = '00f067aa0ba902b7';
    const headers: Record<string, string> = {};
    noopTracer.inject(headers, { span: spanWith(T, S, 'a=1\r\nx-injected: yes'), baggage: {} });
    assert.deepEqual(headers, { traceparent: `00-${T}-${S}-01` });
    const valid: Record<string, string> = {};
    noopTracer.inject(valid, { span: spanWith(T, S, ' a=1 , ,b=2'), baggage: {} });
    assert.equal(valid.tracestate, 'a=1,b=2');
    // Before, http.request threw "Invalid character in header content" for the first headers.
    const server = createServer((req, res) => res.end(JSON.stringify(req.headers)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const got = await new Promise<Record<string, string>>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, headers }, (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => resolve(JSON.parse(body)));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(got.traceparent, `00-${T}-${S}-01`);
      assert.equal(got.tracestate, undefined);
      assert.equal(got['x-injected'], undefined);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
