/**
 * `span.end(performance.now())` — the SDK's own `TimeInput` form, which the tracing README says is
 * read the SDK's way. The SDK reads such a number relative to the process start, shifted by the
 * offset between the wall clock and the monotonic one that it measured when the span started. The
 * adapter's end-before-start check read it without that offset: once the wall clock had moved
 * ahead of the monotonic one since the process started (a host resumed from suspend, a clock
 * stepped forward: the monotonic clock does not count either), every such end looked earlier
 * than the start, and the span was cut to duration 0 with a warning, where the raw SDK records
 * its real length. Simulated here by a `Date.now` 10 minutes ahead (what the SDK reads for the
 * offset), restored after each test.
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

/** Runs `fn` with the wall clock (`Date.now`) 10 minutes ahead of the monotonic one. */
async function wallClockAhead(fn: () => Promise<void>): Promise<void> {
  const now = Date.now;
  Date.now = () => now() + 600_000;
  try {
    await fn();
  } finally {
    Date.now = now;
  }
}

describe('end(performance.now()) with the wall clock ahead of the monotonic clock', () => {
  it('keeps the span its length, as the SDK does, without an end-before-start warning', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    // Started `back` ms ago by the monotonic clock (not before the process started: a negative
    // time is refused), ended now: at least `back` ms long.
    const back = Math.min(500, performance.now() / 2);
    await wallClockAhead(async () => {
      const perf = startSpan(app.ctx, 'perf start', { startTime: performance.now() - back }).span;
      perf.end(performance.now());
      // Started now (the SDK reads the wall clock), ended now by the monotonic clock.
      const wall = startSpan(app.ctx, 'wall start').span;
      wall.end(performance.now());
    });
    const [perf, wall] = tracer.finishedSpans();
    const length = (s: typeof perf) => ms(s!.endTime) - ms(s!.startTime);
    assert.ok(length(perf) >= back - 0.001 && length(perf) < 60_000, `perf start: ${length(perf)} ms`);
    assert.ok(length(wall) >= 0 && length(wall) < 60_000, `wall start: ${length(wall)} ms`);
    assert.deepEqual(logger.warnings, []);
    await app.close();
  });

  it('an end reading before the start still ends the span at its start (the SDK decides)', async () => {
    const logger = recordingLogger();
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    await wallClockAhead(async () => {
      const p = performance.now();
      startSpan(app.ctx, 'early', { startTime: p }).span.end(p - 100);
    });
    const [early] = tracer.finishedSpans();
    assert.deepEqual(early!.endTime, early!.startTime);
    await app.close();
  });
});
