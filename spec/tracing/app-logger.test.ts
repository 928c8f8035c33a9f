/**
 * A tracer made without a `logger` of its own logs through the one given to `createApp`
 * (`Tracer.useLogger`): with the collector down, every span used to be dropped without a log line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { noopTracer } from '../../lib/core/noop.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/propagate-only.js';
import { freePort } from '../harness/process.js';

function captureLogger() {
  const records: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: (message, fields) => records.push({ level: 'debug', message, fields }),
    info: (message, fields) => records.push({ level: 'info', message, fields }),
    warn: (message, fields) => records.push({ level: 'warn', message, fields }),
    error: (message, fields) => records.push({ level: 'error', message, fields }),
    child: () => make(),
  });
  return { logger: make(), records };
}

/** An OTLP tracer whose collector port has nothing listening (connection refused at once). */
async function downTracer(logger?: Logger) {
  const port = await freePort();
  return createOtelTracer({
    serviceName: 'app-logger',
    endpoint: `http://127.0.0.1:${port}/v1/traces`,
    batch: { scheduledDelayMillis: 5, exportTimeoutMillis: 2_000 },
    ...(logger ? { logger } : {}),
  });
}

describe('createApp hands its logger to a tracer that has none (Tracer.useLogger)', () => {
  it('collector down: the export failure and the close summary reach the app logger', async () => {
    const { logger, records } = captureLogger();
    const tracer = await downTracer();
    const app = createApp({ tracer, logger });
    app.ctx.tracer.startSpan('lost').end();
    await assert.rejects(tracer.flush(), /ECONNREFUSED/);
    app.ctx.tracer.startSpan('lost at close').end();
    await app.close();
    assert.equal(tracer.exportStats().lostSpans, 2);
    const failed = records.filter((r) => r.message === 'tracing: span export failed');
    assert.equal(failed.length, 1, JSON.stringify(records));
    assert.equal(failed[0]!.level, 'error');
    assert.equal(failed[0]!.fields?.exporter, 'otlp');
    assert.ok(
      records.some((r) => r.message === 'tracing: spans not delivered (summary at close)'),
      JSON.stringify(records),
    );
  });

  it("a tracer's own logger wins: the app logger gets none of its records", async () => {
    const own = captureLogger();
    const appLog = captureLogger();
    const tracer = await downTracer(own.logger);
    const app = createApp({ tracer, logger: appLog.logger });
    tracer.startSpan('lost').end();
    await assert.rejects(tracer.flush());
    await app.close();
    assert.ok(own.records.some((r) => r.message === 'tracing: span export failed'));
    assert.deepEqual(
      appLog.records.filter((r) => r.message.startsWith('tracing:')),
      [],
    );
  });

  it('attribute warnings of a tracer without a logger go to the app logger too', async () => {
    const { logger, records } = captureLogger();
    const tracer = createOtelTracer({ exporter: 'memory' });
    const app = createApp({ tracer, logger });
    app.ctx.tracer
      .startSpan('s')
      .setAttributes({ bad: { nested: true } as never })
      .end();
    await app.close();
    assert.ok(
      records.some((r) => r.level === 'warn' && r.message.startsWith('span attribute dropped')),
      JSON.stringify(records),
    );
  });

  it('the tracers that never log omit the hook and work with an app logger', async () => {
    for (const tracer of [noopTracer, createPropagateOnlyTracer()]) {
      assert.equal(tracer.useLogger, undefined);
      const { logger } = captureLogger();
      const app = createApp({ tracer, logger });
      app.ctx.tracer.startSpan('x').end();
      await app.close();
    }
  });
});
