/**
 * Active-context mode puts `ctx.baggage` into the active OpenTelemetry context as well as the span:
 * auto-instrumented clients inject the active context's baggage through the global propagator (and
 * baggage span processors read it). It used to carry the span only, so a call made through such a
 * client sent the `traceparent` but lost the baggage the request came with.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { context, propagation, trace } from '@opentelemetry/api';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { createApp } from '../../lib/core/app.js';
import { contextFromHeaders, withSpan } from '../../lib/core/span.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

/** What an auto-instrumented HTTP client would send from the active context. */
function thirdPartyHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('activeContext: ctx.baggage is the active OpenTelemetry baggage', () => {
  it('withSpan: third-party injection sends the baggage, nested spans their own', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', activeContext: true, registerGlobal: true });
    const app = createApp({ tracer });
    try {
      const ctx = contextFromHeaders(app.ctx, { traceparent: PARENT, baggage: 'user=alice' });
      await withSpan(ctx, 'outer', async (c, span) => {
        await new Promise((r) => setImmediate(r));
        const sent = thirdPartyHeaders();
        assert.equal(sent.traceparent?.slice(36, 52), span.spanContext().spanId);
        assert.equal(sent.baggage, 'user=alice');
        assert.deepEqual(
          propagation
            .getActiveBaggage()
            ?.getAllEntries()
            .map(([k, e]) => [k, e.value]),
          [['user', 'alice']],
        );
        await withSpan(c.with({ baggage: { ...c.baggage, tenant: 'a b' } }), 'inner', async () => {
          assert.equal(thirdPartyHeaders().baggage, 'user=alice,tenant=a%20b');
        });
        // Back in the outer span: its own baggage again.
        assert.equal(thirdPartyHeaders().baggage, 'user=alice');
      });
    } finally {
      await app.close();
    }
  });

  it('traceHandler: the incoming baggage reaches a third-party call in the handler', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', activeContext: true, registerGlobal: true });
    const app = createApp({ tracer });
    let sent: Record<string, string> = {};
    const server = createServer(
      traceHandler(app.ctx, async (_ctx, _req, res) => {
        await new Promise((r) => setImmediate(r));
        sent = thirdPartyHeaders();
        res.end('ok');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { traceparent: PARENT, baggage: 'tenant=acme,flag=' },
      });
      assert.equal(await res.text(), 'ok');
      assert.equal(sent.traceparent?.slice(3, 35), PARENT.slice(3, 35));
      assert.equal(sent.baggage, 'tenant=acme,flag=');
    } finally {
      await new Promise((r) => server.close(r));
      await app.close();
    }
  });

  it("exporter 'none' (propagate-only): the server span and withSpan's are made active too", async () => {
    // No context manager was registered and nothing was made active in this mode: a third-party
    // call in the handler sent no traceparent at all (nor the baggage), so the next service
    // started a new trace.
    const tracer = createOtelTracer({ exporter: 'none', activeContext: true, registerGlobal: true });
    const app = createApp({ tracer });
    const seen: { server?: string; inner?: string; sent?: Record<string, string>; nested?: string } = {};
    const server = createServer(
      traceHandler(app.ctx, async (ctx, _req, res) => {
        await new Promise((r) => setImmediate(r));
        seen.server = ctx.span?.spanContext().spanId;
        await withSpan(ctx, 'inner', async (_c, span) => {
          await new Promise((r) => setImmediate(r));
          seen.inner = span.spanContext().spanId;
          seen.sent = thirdPartyHeaders();
          // A span started without a parent continues the active one (this mode reads it).
          seen.nested = tracer.startSpan('no parent given').spanContext().traceId;
        });
        res.end('ok');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { traceparent: PARENT, baggage: 'tenant=acme' },
      });
      assert.equal(await res.text(), 'ok');
      assert.match(seen.inner ?? '', /^[0-9a-f]{16}$/);
      assert.notEqual(seen.inner, seen.server);
      assert.equal(seen.sent?.traceparent, `00-${PARENT.slice(3, 35)}-${seen.inner}-01`);
      assert.equal(seen.sent?.baggage, 'tenant=acme');
      assert.equal(seen.nested, PARENT.slice(3, 35));
    } finally {
      await new Promise((r) => server.close(r));
      await app.close();
    }
  });

  it('from config: exporter none with active_context makes the spans active (it built a tracer that ignored it)', async () => {
    const app = await createAppFromConfig(
      parseConfig({ tracing: { exporter: 'none', active_context: true } }, { env: {} }),
    );
    try {
      await withSpan(app.ctx, 'outer', async (_c, span) => {
        await new Promise((r) => setImmediate(r));
        assert.equal(trace.getActiveSpan()?.spanContext().spanId, span.spanContext().spanId);
      });
    } finally {
      await app.close();
    }
  });

  it('a span without baggage leaves the active baggage as it was', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', activeContext: true, registerGlobal: true });
    const app = createApp({ tracer });
    try {
      const outer = propagation.setBaggage(
        context.active(),
        propagation.createBaggage({ from: { value: 'library' } }),
      );
      await context.with(outer, () =>
        withSpan(app.ctx, 'plain', async () => {
          assert.equal(thirdPartyHeaders().baggage, 'from=library');
        }),
      );
    } finally {
      await app.close();
    }
  });
});
