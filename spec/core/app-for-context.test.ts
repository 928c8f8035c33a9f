/**
 * The app passed where a context is expected (`startSpan(app, …)` for `startSpan(app.ctx, …)`,
 * from JavaScript): `startSpan`, `withSpan` and `contextFromHeaders` threw a raw TypeError
 * ("ctx.with is not a function") after the tracer had started a span that was never ended,
 * `traceHandler(app, handler)` was accepted and every request then failed with that TypeError,
 * and `injectHeaders(app)` wrote nothing. Each is now a ConfigError saying to pass `app.ctx`,
 * `traceHandler`'s at startup.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { ConfigError } from '../../lib/core/errors.js';
import { contextFromHeaders, injectHeaders, startSpan, withSpan } from '../../lib/core/span.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('the app given for app.ctx', () => {
  it('startSpan, withSpan, injectHeaders, contextFromHeaders and traceHandler: a ConfigError naming app.ctx; no span started', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer });
    const asContext = app as never;
    const calls: [string, () => unknown][] = [
      ['startSpan', () => startSpan(asContext, 's')],
      ['withSpan', () => withSpan(asContext, 's', () => 1)],
      ['injectHeaders', () => injectHeaders(asContext, {})],
      ['contextFromHeaders', () => contextFromHeaders(asContext, { traceparent: TP })],
      ['traceHandler', () => traceHandler(asContext, () => {})],
    ];
    for (const [helper, call] of calls)
      assert.throws(
        call,
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.startsWith(`${helper}: given the app: pass app.ctx`) &&
          e.issues[0]?.path === 'ctx',
        helper,
      );
    // tracedFetch names itself, not the startSpan it calls (its promise rejects; nothing is sent).
    for (const [given, shown] of [
      [asContext, 'given the app: pass app.ctx'],
      [undefined as never, 'the first argument is not a context'],
    ] as const)
      await assert.rejects(
        tracedFetch(given, 'http://127.0.0.1:9/'),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`tracedFetch: ${shown}`),
      );
    assert.throws(() => startSpan(undefined as never, 's'), /startSpan: the first argument is not a context/);
    await app.close();
    assert.equal(tracer.exportStats().exportedSpans, 0, 'no span was started and left open');
    // The context itself works as before.
    const ctx = contextFromHeaders(app.ctx, { traceparent: TP });
    assert.deepEqual(injectHeaders(ctx), { traceparent: TP });
  });
});
