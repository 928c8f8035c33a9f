/**
 * `SpanOptions.startTime` takes a `Date`, as the tracing README's "Span times" says (and as
 * OpenTelemetry's `startTime` does): it was typed `number` alone, so `startTime: job.startedAt`
 * — a `Date` — did not compile (TS2322), though every tracer took it at run time. Checked with
 * `tsc` on a user's file, then at run time on each tracer kind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../lib/core/app.js';
import { noopTracer } from '../../lib/core/noop.js';
import { startSpan, withSpan } from '../../lib/core/span.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { tempDir, withoutCoverage } from '../harness/process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** ms since the epoch of an SDK HrTime. */
const ms = (h: readonly [number, number]) => h[0] * 1e3 + h[1] / 1e6;

describe('startTime as a Date', () => {
  it('compiles in a user file (strict), as startSpan, withSpan and tracer.startSpan options', async () => {
    const dir = await tempDir('start-time-date');
    try {
      const core = join(root, 'lib/core/index.js');
      writeFileSync(
        join(dir.path, 'job.ts'),
        `import { type AppContext, startSpan, withSpan } from ${JSON.stringify(core)};\n` +
          'export function record(ctx: AppContext, job: { startedAt: Date; doneAt: Date }): void {\n' +
          "  startSpan(ctx, 'job run', { startTime: job.startedAt }).span.end(job.doneAt);\n" +
          "  withSpan(ctx, 'job step', () => undefined, { startTime: job.startedAt });\n" +
          "  ctx.tracer.startSpan('raw', { startTime: new Date() }).end();\n" +
          '}\n',
      );
      writeFileSync(join(dir.path, 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(
        join(dir.path, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023', 'ESNext.Disposable'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            skipLibCheck: true,
            noEmit: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules/@types')],
          },
          files: ['job.ts'],
        }),
      );
      const tsc = spawnSync(
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir.path],
        {
          env: withoutCoverage(),
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
    } finally {
      await dir.remove();
    }
  });

  it('the OpenTelemetry tracer records it as given; no-op and propagate-only take it silently', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(msg: string) {
        warnings.push(msg);
      },
      error() {},
      child: () => logger,
    };
    const tracer = createOtelTracer({ exporter: 'memory', logger });
    const app = createApp({ tracer, logger });
    const t0 = Date.now() - 30_000;
    startSpan(app.ctx, 'job', { startTime: new Date(t0) }).span.end(new Date(t0 + 1_500));
    withSpan(app.ctx, 'step', () => undefined, { startTime: new Date(t0 + 100) });
    const [job, step] = tracer.finishedSpans();
    assert.equal(ms(job!.startTime), t0);
    assert.equal(ms(job!.endTime) - ms(job!.startTime), 1_500);
    assert.equal(ms(step!.startTime), t0 + 100);
    assert.deepEqual(warnings, []);
    await app.close();

    for (const other of [noopTracer, createPropagateOnlyTracer()]) {
      const span = other.startSpan('job', { startTime: new Date(t0) });
      span.end(new Date(t0 + 1));
      assert.equal(span.isRecording(), false);
    }
  });
});
