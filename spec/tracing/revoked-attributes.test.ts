/**
 * A revoked `Proxy` given as a whole attribute set. The README promises that a set whose keys
 * cannot be listed sets nothing, with the `unreadable` warning; but `Array.isArray` (the check
 * that a string or an array is not taken for a set) throws on a revoked Proxy, and that threw out
 * of `setAttributes`, `addEvent` and `startSpan` into the caller's request.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Attributes, Logger } from '../../lib/core/contracts.js';
import { startSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

function revoked(): Attributes {
  const { proxy, revoke } = Proxy.revocable({ a: 1 }, {});
  revoke();
  return proxy;
}

describe('a revoked Proxy as the attribute set', () => {
  it('sets nothing in startSpan, setAttributes and addEvent, with one unreadable warning; never throws', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (m: string, f?: Record<string, unknown>) => void warnings.push(`${m} ${JSON.stringify(f ?? {})}`),
      error() {},
      child: () => logger,
    } as Logger;
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    startSpan(app.ctx, 'helper', { attributes: revoked() }).span.end();
    tracer.startSpan('direct', { attributes: revoked() }).end();
    const span = tracer.startSpan('later', { attributes: { kept: 1 } });
    span.setAttributes(revoked()).addEvent('event', revoked());
    span.end();
    const spans = tracer.finishedSpans();
    assert.deepEqual(
      spans.map((s) => [s.name, { ...s.attributes }, s.events.map((e) => [e.name, { ...e.attributes }])]),
      [
        ['helper', {}, []],
        ['direct', {}, []],
        ['later', { kept: 1 }, [['event', {}]]],
      ],
    );
    assert.deepEqual(warnings, [
      'span attribute dropped: unsupported value type {"key":"(attributes)","type":"unreadable"}',
    ]);
    await app.close();
  });
});
