/**
 * A logger whose `child()` throws, given to createApp. `ctx.logger` inside a span binds the trace
 * fields through `child()`, so every log call in a span threw the logger's error — in a
 * `traceHandler` handler, a 500 for a log line. Found from outside (/tmp/logging/child-throws.mts).
 * The trace fields are now added to each record instead, as for a logger without `child`.
 * Fails on the old code: the log call throws "child broke".
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp, type LogFields } from '../../lib/core/index.js';
import { withSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

describe('a logger whose child() throws', () => {
  it('ctx.logger in a span still writes, with the trace fields on the record', async () => {
    const records: [string, LogFields | undefined][] = [];
    const at = (message: string, fields?: LogFields) => {
      records.push([message, fields]);
    };
    const logger = {
      debug: at,
      info: at,
      warn: at,
      error: at,
      child: (): never => {
        throw new Error('child broke');
      },
    };
    const app = createApp({ logger, tracer: createOtelTracer({ serviceName: 't', exporter: 'memory' }) });
    let traceId = '';
    try {
      withSpan(app.ctx, 'work', (ctx, span) => {
        traceId = span.spanContext().traceId;
        ctx.logger.info('charging', { orderId: 7 });
        ctx.logger.child({ step: 'pay' }).warn('slow');
      });
    } finally {
      await app.close();
    }
    assert.equal(records.length, 2, JSON.stringify(records));
    assert.equal(records[0]?.[0], 'charging');
    assert.equal(records[0]?.[1]?.trace_id, traceId);
    assert.equal(records[0]?.[1]?.orderId, 7);
    assert.equal(records[1]?.[1]?.trace_id, traceId);
    assert.equal(records[1]?.[1]?.step, 'pay');
  });
});
