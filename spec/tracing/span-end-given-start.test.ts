/**
 * `end()` without a time of a span started with a `startTime` taken on another host (the tracing
 * README's own example: a job's `enqueuedAt`). The SDK ends such a span at this host's
 * `Date.now()`; a producer whose clock runs ahead gives a start after that end, and the SDK cuts
 * the span to duration 0, saying so only on its `diag` logger. The same end given explicitly,
 * `end(Date.now())`, got the tracer's end-before-start warning; `end()` got none (found from
 * outside, /tmp/D8/span-skew.mts). Now both are warned.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Logger } from '../../lib/core/contracts.js';
import { startSpan } from '../../lib/core/span.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

/** ms of an SDK HrTime. */
const ms = (h: readonly [number, number]) => h[0] * 1e3 + h[1] / 1e6;

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    warnings,
    debug() {},
    info() {},
    warn(msg: string) {
      warnings.push(msg);
    },
    error() {},
    child: () => logger,
  };
  return logger as unknown as Logger & { warnings: string[] };
}

describe('end() of a span started with a startTime', () => {
  it('a startTime from a clock ahead of this host: duration 0, with the end-before-start warning', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    const enqueuedAt = Date.now() + 5_000; // stamped by a producer whose clock is 5 s ahead
    startSpan(app.ctx, 'job run', { startTime: enqueuedAt }).span.end();
    const [job] = tracer.finishedSpans();
    assert.deepEqual(job!.endTime, job!.startTime);
    assert.deepEqual(logger.warnings, [
      "span end time is before the span's start: the span ends at its start (duration 0)",
    ]);
    await app.close();
  });

  it('a startTime in the past keeps its length, without a warning', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    startSpan(app.ctx, 'job run', { startTime: Date.now() - 1_000 }).span.end();
    startSpan(app.ctx, 'job run', { startTime: new Date(Date.now() - 1_000) }).span.end();
    startSpan(app.ctx, 'plain').span.end();
    const spans = tracer.finishedSpans();
    assert.equal(spans.length, 3);
    for (const s of spans.slice(0, 2)) assert.ok(ms(s.endTime) - ms(s.startTime) >= 999, 'cut short');
    assert.deepEqual(logger.warnings, []);
    await app.close();
  });
});
