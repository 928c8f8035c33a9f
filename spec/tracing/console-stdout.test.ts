/**
 * Exporter 'console' with a stdout whose reader goes away (`node app | head`, a log pipe that
 * closed): the SDK's exporter writes with console.dir, whose write error (EPIPE) arrived as an
 * 'error' event with no listener — an uncaught exception that ended the process with exit code 1.
 * Now the process goes on: the exports after it fail (counted, logged as any export failure), and
 * the app closes normally.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/console-child.ts', import.meta.url));

describe("exporter 'console' when stdout goes away", () => {
  it('no uncaught EPIPE: the process closes normally, the later exports count as failed', async () => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    // The reader goes away after the first bytes, then tells the child to go on.
    p.stdout.once('data', () => {
      p.stdout.destroy();
      p.stdin.end();
    });
    const kill = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
    clearTimeout(kill);
    assert.doesNotMatch(err, /EPIPE[\s\S]*^\s+at /m, err);
    assert.equal(code, 0, err);
    const report = JSON.parse(err.trim().split('\n').at(-1)!) as {
      exportedSpans: number;
      failedExports: number;
      lostSpans: number;
      records: { level: string; message: string }[];
    };
    assert.ok(report.failedExports > 0, JSON.stringify(report));
    assert.equal(report.exportedSpans + report.lostSpans, 205);
    assert.ok(report.records.some((r) => r.message.startsWith('tracing: ')));
  });
});
