/**
 * Exporter 'console' and a span ended after the app closed (a handler still running): the SDK's
 * simple processor ignores a span ended after the provider shut down, so it was neither written
 * to stdout nor counted — lost without a trace, where a network exporter counts it as a
 * `shutdown` drop. Now it is counted so, and the first one is said in a warning, as with the
 * network exporters (after-close-drops.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/console-late-child.ts', import.meta.url));

describe("exporter 'console': spans ended after close", () => {
  it('are not written, are counted as shutdown drops, and the first one gets a warning', async () => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
    clearTimeout(kill);
    assert.equal(code, 0, err);
    assert.match(out, /span-before-close/);
    assert.doesNotMatch(out, /after-close/);
    const report = JSON.parse(err.trim().split('\n').at(-1)!) as {
      stats: { exportedSpans: number; lostSpans: number; droppedSpans: Record<string, number> };
      records: { level: string; message: string; fields?: Record<string, unknown> }[];
    };
    assert.equal(report.stats.exportedSpans, 1);
    assert.deepEqual(report.stats.droppedSpans, { queue_full: 0, export_failed: 0, shutdown: 2 });
    assert.deepEqual(
      report.records.map((r) => [r.level, r.message, r.fields?.exporter]),
      [['warn', 'tracing: span ended after the tracer closed: not exported', 'console']],
    );
  });
});
