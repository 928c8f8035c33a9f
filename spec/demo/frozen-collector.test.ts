/**
 * A demo service stopped the way `docker compose stop` stops it — SIGTERM, then SIGKILL 10 s later
 * (Docker's default grace) — while its collector, a real Jaeger, is frozen (SIGSTOP: connections
 * are accepted, nothing is ever answered). The tracer's final export used to get createApp's whole
 * 10 s disposer budget (9 s of waiting after the drain, ~11 s in all for the user service), so the
 * SIGKILL came first: the graceful close and the undelivered-spans summary were lost. The final
 * export now gets what is left of the stop budget (STOP_BUDGET_MS, at most FINAL_EXPORT_MAX_MS).
 * With a healthy Jaeger the spans of the last requests still get there.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FINAL_EXPORT_MAX_MS } from '../../demo/services/index.js';
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
/** What Docker waits after SIGTERM before its SIGKILL (`stop_grace_period`, default 10 s). */
const DOCKER_GRACE_MS = 10_000;

describeWithServers(
  'demo service stop with a frozen collector (real Jaeger)',
  skipUnless(['jaeger'], JAEGER_INSTALL_HINT),
  () => {
    let jaeger: Jaeger;
    const procs: ServerProcess[] = [];
    before(async () => {
      jaeger = await startJaeger();
    });
    after(async () => {
      await Promise.all(procs.map((p) => p.kill()));
      await jaeger?.stop();
    });

    /** The user service (its drain waits 2 s for peers: the longest stop) on an embedded database. */
    const start = async () => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const k of ['DATABASE_URL', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) delete env[k];
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = await startProcess({
        name: 'user-service',
        command: process.execPath,
        args: ['--import', 'tsx', 'demo/user-service.ts'],
        cwd: root,
        env: {
          ...env,
          PORT: String(port),
          LOG_LEVEL: 'info',
          HYPERION_TRACING_ENDPOINT: jaeger.otlpEndpoint,
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
      procs.push(proc);
      return { proc, url };
    };

    /** SIGTERM, then SIGKILL after Docker's grace, as `docker compose stop` does; how it ended. */
    const dockerStop = async (proc: ServerProcess) => {
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        if (proc.exited) resolve({ code: proc.child.exitCode, signal: proc.child.signalCode });
        proc.child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      proc.child.kill('SIGTERM');
      const kill = setTimeout(() => proc.child.kill('SIGKILL'), DOCKER_GRACE_MS);
      try {
        return await exited;
      } finally {
        clearTimeout(kill);
      }
    };

    it('healthy collector: the spans of the last request reach Jaeger, exit 0', async () => {
      const { proc, url } = await start();
      const res = await fetch(`${url}/users/7`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const traceId = res.headers.get('x-trace-id');
      assert.ok(traceId, 'a sampled trace id');
      const exit = await dockerStop(proc);
      assert.deepEqual(exit, { code: 0, signal: null }, proc.output().slice(-3000));
      assert.doesNotMatch(proc.output(), /spans not delivered/, 'nothing dropped at close');
      await waitFor(async () => (await jaeger.getTrace(traceId))?.spans.length, {
        timeoutMs: 20_000,
        intervalMs: 250,
        what: `trace ${traceId} in Jaeger`,
      });
    });

    it('frozen collector: the stop finishes before Docker SIGKILLs it, undelivered spans counted', async () => {
      const { proc, url } = await start();
      // A first export while Jaeger answers: the exporter holds a connection to it.
      for (let i = 1; i <= 5; i++) await (await fetch(`${url}/users/${i}`)).arrayBuffer();
      await waitFor(async () => (await jaeger.findTraces('user-service', 10)).length > 0, {
        timeoutMs: 20_000,
        intervalMs: 250,
        what: 'the first spans in Jaeger',
      });
      assert.ok(jaeger.pid, 'the Jaeger process id');
      process.kill(jaeger.pid, 'SIGSTOP');
      try {
        for (let i = 6; i <= 10; i++) await (await fetch(`${url}/users/${i}`)).arrayBuffer();
        // Their scheduled export (every second) is now waiting on the frozen collector.
        await new Promise((r) => setTimeout(r, 1500));
        const exit = await dockerStop(proc);
        const out = proc.output();
        assert.deepEqual(exit, { code: 0, signal: null }, `killed before it closed\n${out.slice(-3000)}`);
        assert.match(out, /"msg":"http: drained"/);
        const summary = out
          .split('\n')
          .filter((l) => l.includes('spans not delivered'))
          .map((l) => JSON.parse(l) as { budgetMs: number; dropped: Record<string, number> });
        assert.equal(summary.length, 1, out.slice(-3000));
        assert.ok(
          summary[0]!.budgetMs <= FINAL_EXPORT_MAX_MS,
          `final export budget ${summary[0]!.budgetMs} ms`,
        );
        assert.ok(summary[0]!.dropped.shutdown! > 0, 'the spans given up on are counted');
      } finally {
        process.kill(jaeger.pid, 'SIGCONT');
      }
    });
  },
);
