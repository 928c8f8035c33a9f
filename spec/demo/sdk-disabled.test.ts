/**
 * `npm run demo` with `OTEL_SDK_DISABLED=true`, which the tracer reads as the OpenTelemetry
 * specification says: no span is recorded in any service. The summary used to say "spans kept in
 * memory" (or "OTLP → …") in its Setup line and then blame a sample rate of 0 or
 * `OTEL_TRACES_SAMPLER=always_off` for the missing trace; it now says that tracing is off and why.
 * With a collector set (a real Jaeger), nothing reaches it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `npm run demo`'s program with `extra` over a plain environment; resolves its exit code and output. */
function runDemo(extra: NodeJS.ProcessEnv): { status: number | null; out: string; err: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    'HYPERION_TRACING_ENDPOINT',
    'HYPERION_SAMPLE_RATE',
    'OTEL_TRACES_SAMPLER',
    'OTEL_TRACES_SAMPLER_ARG',
    'JAEGER_UI_URL',
  ])
    delete env[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'demo/run.ts'], {
    cwd: root,
    env: { ...env, ...extra },
    encoding: 'utf8',
    timeout: 150_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function assertTracingOff(r: ReturnType<typeof runDemo>): void {
  const shown = `--- stdout ---\n${r.out}\n--- stderr ---\n${r.err.slice(-3000)}`;
  assert.equal(r.status, 0, shown);
  assert.match(r.out, /^Setup .*tracing off \(OTEL_SDK_DISABLED is true: no spans recorded\)/m, shown);
  assert.doesNotMatch(r.out, /spans kept in memory|OTLP →/, shown);
  assert.match(r.out, /^Trace +none recorded: OTEL_SDK_DISABLED is true/m, shown);
  assert.doesNotMatch(r.out, /HYPERION_SAMPLE_RATE 0|always_off/, shown);
}

describeWithServers(
  'npm run demo with OTEL_SDK_DISABLED=true',
  skipUnless(['jaeger'], JAEGER_INSTALL_HINT),
  () => {
    let jaeger: Jaeger;
    before(async () => {
      jaeger = await startJaeger();
    });
    after(async () => {
      await jaeger?.stop();
    });

    it('without a collector: the summary says tracing is off, not that spans are kept or none sampled', () => {
      assertTracingOff(runDemo({ OTEL_SDK_DISABLED: 'true' }));
    });

    it('with a collector (real Jaeger): the summary says tracing is off and no span reaches Jaeger', async () => {
      assertTracingOff(
        runDemo({
          OTEL_SDK_DISABLED: 'TRUE', // any case, as the specification says
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpEndpoint,
          JAEGER_UI_URL: jaeger.queryUrl,
        }),
      );
      // The demo closed every service (its final exports done) before it exited: Jaeger lists every
      // service that sent it a span.
      const res = await fetch(`${jaeger.queryUrl}/api/services`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      const services = ((await res.json()) as { data: string[] | null }).data ?? [];
      for (const service of ['gateway', 'user-service', 'order-service'])
        assert.ok(
          !services.includes(service),
          `${service} sent no span (Jaeger lists ${services.join(', ')})`,
        );
    });
  },
);
