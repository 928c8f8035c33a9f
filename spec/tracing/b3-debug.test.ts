/**
 * The B3 debug flag (`b3: {trace}-{span}-d`, or `X-B3-Flags: 1`) goes on downstream: the
 * OpenTelemetry B3 specification says a propagator "MUST preserve a debug trace flag, if received,
 * and propagate it with subsequent requests". OpenTelemetry's propagators keep it in the context,
 * which Hyperion's explicit `ctx` did not carry: the next service got `-1` (sampled, not debug).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { contextFromHeaders, injectHeaders, startSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const T = '463ac35c9f6413ad48485a3953bb6124';
const S = 'a2fb4a1d1a96d312';

/** Headers injected for the remote parent itself, a child and a grandchild of it. */
async function hop(propagator: 'b3' | 'b3multi', incoming: Record<string, string>) {
  const tracer = createOtelTracer({ serviceName: 'b3-debug', exporter: 'memory', propagators: [propagator] });
  const app = createApp({ tracer });
  try {
    const ctx = contextFromHeaders(app.ctx, incoming);
    const out: Record<string, string>[] = [];
    const inject = (c: typeof ctx) => {
      const h: Record<string, string> = {};
      injectHeaders(c, h);
      out.push(h);
    };
    inject(ctx);
    const child = startSpan(ctx, 'child');
    inject(child.ctx);
    const grandchild = startSpan(child.ctx, 'grandchild');
    inject(grandchild.ctx);
    grandchild.span.end();
    child.span.end();
    // The spans themselves are recorded as usual, in the incoming trace.
    assert.deepEqual(
      tracer.finishedSpans().map((s) => s.spanContext().traceId),
      [T, T],
    );
    return out;
  } finally {
    await app.close();
  }
}

describe('B3 debug flag', () => {
  it('b3 single header: "-d" goes on from the remote parent, a child and a grandchild', async () => {
    const out = await hop('b3', { b3: `${T}-${S}-d` });
    for (const h of out) assert.match(h.b3 ?? '', new RegExp(`^${T}-[0-9a-f]{16}-d$`), JSON.stringify(out));
  });
  it('b3 multi-header: X-B3-Flags: 1 goes on', async () => {
    const out = await hop('b3multi', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' });
    for (const h of out) {
      assert.equal(h['x-b3-traceid'], T);
      assert.equal(h['x-b3-flags'], '1', JSON.stringify(out));
    }
  });
  it('without the flag, nothing changes: sampled "-1", no X-B3-Flags', async () => {
    for (const h of await hop('b3', { b3: `${T}-${S}-1` })) assert.match(h.b3 ?? '', /-1$/);
    for (const h of await hop('b3multi', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' })) {
      assert.equal(h['x-b3-flags'], undefined);
      assert.equal(h['x-b3-sampled'], '1');
    }
  });
});
