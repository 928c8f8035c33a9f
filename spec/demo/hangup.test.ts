/**
 * `npm run demo -- --keep` in a terminal that hangs up (the window closed, an ssh session lost):
 * the shell passes the hangup on as SIGHUP, as it does to its jobs, and every later write to the
 * terminal fails with EIO. The demo must close as on Ctrl+C or SIGTERM — the spans of the last
 * requests exported, the services stopped — and exit 0. It had no SIGHUP handler: killed at once,
 * the spans still queued were lost; on Node 20 its exit also aborted (SIGABRT) restoring the
 * terminal's settings. The terminal is a real pseudo-terminal (`script`), hung up by killing
 * `script`, with a real Jaeger as the collector.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, tempDir, waitFor } from '../harness/process.js';
import { holdDemoPorts } from './default-ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

// What the terminal's shell does: the demo as its job, a hangup passed on to it as SIGHUP, and
// (for the test) the job's exit status written to a file.
const SHELL_JOB = [
  '"$DEMO_NODE" --import tsx demo/run.ts --keep & pid=$!',
  `trap 'kill -HUP $pid' HUP`,
  'while :; do wait $pid; code=$?; kill -0 $pid 2>/dev/null || break; done',
  'echo $code > "$DEMO_EXIT_FILE"',
].join('; ');

describeWithServers(
  'npm run demo -- --keep: the terminal hangs up',
  skipUnless(['jaeger', 'script'], `${JAEGER_INSTALL_HINT}; apt-get install -y bsdutils`),
  () => {
    let jaeger: Jaeger;
    before(async () => {
      jaeger = await startJaeger();
    });
    after(async () => {
      await jaeger?.stop();
    });

    it('closes as on SIGTERM: the last spans reach the collector, the services stop, exit 0', async (t) => {
      const dir = await tempDir('demo-hangup');
      const ports = await holdDemoPorts();
      t.after(async () => {
        await ports.release();
        await dir.remove();
      });
      const exitFile = join(dir.path, 'exit');
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of [
        'DATABASE_URL',
        'REDIS_URL',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'HYPERION_TRACING_ENDPOINT',
        'HYPERION_SAMPLE_RATE',
        'LOG_LEVEL',
      ])
        delete env[k];
      Object.assign(env, {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpEndpoint,
        JAEGER_UI_URL: jaeger.queryUrl,
        DEMO_NODE: process.execPath,
        DEMO_EXIT_FILE: exitFile,
        SHELL: '/bin/sh',
      });
      // `script` gives the job a pseudo-terminal as its controlling terminal, the shell as the
      // session leader; its stdin is kept open (a pipe), as a terminal's would be.
      const term = spawn('script', ['-qfc', SHELL_JOB, '/dev/null'], {
        cwd: root,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      term.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      term.stderr.on('data', (b: Buffer) => {
        out += b.toString();
      });
      const termExited = new Promise<void>((resolve) => term.once('exit', () => resolve()));
      t.after(() => {
        term.kill('SIGKILL');
      });

      await waitFor(() => out.includes('Kept running (--keep)'), {
        timeoutMs: 200_000,
        intervalMs: 200,
        what: `the --keep line\n${out.slice(-3000)}`,
      });
      const gateway = /gateway (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(gateway, out);
      // Requests just before the hangup: their spans are still in the tracers' queues.
      const traceIds: string[] = [];
      for (let i = 1; i <= 5; i++) {
        const res = await fetch(`${gateway}/users/${i}/orders`);
        await res.arrayBuffer();
        assert.equal(res.status, 200);
        traceIds.push(res.headers.get('x-trace-id') ?? '');
      }
      // The hangup: the terminal's other end closes.
      term.kill('SIGKILL');
      await termExited;

      const code = await waitFor(() => readFile(exitFile, 'utf8').catch(() => ''), {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `the demo's exit status\n${out.slice(-3000)}`,
      });
      assert.equal(
        code.trim(),
        '0',
        `exit status (129: killed by SIGHUP, 134: aborted)\n${out.slice(-3000)}`,
      );
      await assert.rejects(fetch(`${gateway}/healthz`), 'the gateway no longer answers');
      for (const id of traceIds) {
        assert.match(id, /^[0-9a-f]{32}$/);
        const trace = await waitFor(() => jaeger.getTrace(id), {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: `trace ${id} in Jaeger`,
        });
        const services = new Set(trace.spans.map((s) => trace.processes[s.processID]?.serviceName));
        assert.deepEqual([...services].sort(), ['gateway', 'order-service', 'user-service'], id);
      }
    });
  },
);
