/**
 * A demo service run as its own program (`node --import tsx demo/user-service.ts`) whose terminal
 * hangs up, or whose supervisor sends SIGHUP: it must stop as on SIGTERM — the spans of the last
 * requests exported, exit 0. It had handlers for SIGTERM and SIGINT only (`npm run demo` had one
 * for SIGHUP, hangup.test.ts): killed at once by the signal (exit 129), the spans still queued for
 * the collector (1 s batches) were lost. Embedded database, a real Jaeger as the collector.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import {
  describeWithServers,
  freePort,
  type ServerProcess,
  skipUnless,
  startProcess,
  waitFor,
} from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describeWithServers(
  'demo service run standalone: SIGHUP',
  skipUnless(['jaeger'], JAEGER_INSTALL_HINT),
  () => {
    let jaeger: Jaeger;
    let service: ServerProcess | undefined;
    before(async () => {
      jaeger = await startJaeger();
    });
    after(async () => {
      await service?.kill();
      await jaeger?.stop();
    });

    it('stops as on SIGTERM: the last spans reach the collector, exit 0', async () => {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of [
        'DATABASE_URL',
        'REDIS_URL',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'HYPERION_TRACING_ENDPOINT',
        'HYPERION_SAMPLE_RATE',
      ])
        delete env[k];
      const url = `http://127.0.0.1:${port}`;
      service = await startProcess({
        name: 'user-service',
        command: process.execPath,
        args: ['--import', 'tsx', 'demo/user-service.ts'],
        cwd: root,
        env: {
          ...env,
          PORT: String(port),
          LOG_LEVEL: 'info',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpEndpoint,
        },
        ports: [port],
        ready: async () => {
          try {
            return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
          } catch {
            return false;
          }
        },
        readyTimeoutMs: 60_000,
      });
      const p = service;
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null)
          resolve({ code: p.child.exitCode, signal: p.child.signalCode });
        else p.child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      // Requests just before the hangup: their spans are still in the tracer's queue.
      const traceIds: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const res = await fetch(`${url}/users/${i}`);
        await res.arrayBuffer();
        assert.equal(res.status, 200);
        traceIds.push(res.headers.get('x-trace-id') ?? '');
      }
      p.child.kill('SIGHUP');
      const exit = await exited;
      assert.deepEqual(
        exit,
        { code: 0, signal: null },
        `SIGHUP: 129 is killed by it\n${p.output().slice(-2000)}`,
      );
      assert.match(p.output(), /stopping.*SIGHUP/);
      for (const id of traceIds) {
        assert.match(id, /^[0-9a-f]{32}$/);
        const trace = await waitFor(() => jaeger.getTrace(id), {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: `trace ${id} in Jaeger`,
        });
        assert.ok(
          trace.spans.some((s) => trace.processes[s.processID]?.serviceName === 'user-service'),
          id,
        );
      }
    });
  },
);
