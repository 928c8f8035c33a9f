/**
 * Baggage is handed to OpenTelemetry in one `createBaggage(entries)`: it was built with one
 * `setEntry` per entry, each copying the whole map — O(n²), ~0.5 ms for 180 entries (the most
 * the baggage limits allow) on every inject, and on every span activated in activeContext mode.
 * Counted (no timing): `setEntry` is not called per entry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { propagation } from '@opentelemetry/api';
import { createApp } from '../../lib/core/app.js';
import { injectHeaders } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

describe('baggage for OpenTelemetry is built in one step', () => {
  it('180 entries: every one injected, no setEntry per entry', async () => {
    const app = createApp({ tracer: createOtelTracer({ exporter: 'memory' }) });
    const proto = Object.getPrototypeOf(propagation.createBaggage()) as {
      setEntry: (...args: unknown[]) => unknown;
    };
    const original = proto.setEntry;
    let calls = 0;
    proto.setEntry = function (this: unknown, ...args: unknown[]) {
      calls++;
      return original.apply(this, args);
    };
    try {
      const baggage: Record<string, string> = {};
      for (let i = 0; i < 180; i++) baggage[`k${i}`] = `v${i}`;
      const headers = injectHeaders(app.ctx.with({ baggage }), {} as Record<string, string>);
      assert.equal(headers.baggage?.split(',').length, 180);
      assert.ok(calls < 180, `setEntry called ${calls} times`);
    } finally {
      proto.setEntry = original;
      await app.close();
    }
  });
});
