/**
 * The demo follows the standard sampler variable: `OTEL_TRACES_SAMPLER=always_off` records no
 * span in any of the three services (the demo used to pass its own rate of 1, which overrode
 * the variable), while `HYPERION_SAMPLE_RATE` still wins over it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readEnv } from '../../demo/env.js';
import { type RunningServices, startServices } from '../../demo/services/index.js';

const saved = { sampler: process.env.OTEL_TRACES_SAMPLER, rate: process.env.HYPERION_SAMPLE_RATE };
after(() => {
  for (const [k, v] of [
    ['OTEL_TRACES_SAMPLER', saved.sampler],
    ['HYPERION_SAMPLE_RATE', saved.rate],
  ] as const)
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

/** Spans the three services recorded for one GET /users/1 through the gateway. */
async function spansOfOneRequest(): Promise<number> {
  const env = readEnv();
  let services: RunningServices | undefined;
  try {
    services = await startServices({
      ports: { gateway: 0, user: 0, order: 0 },
      tracing: { exporter: 'memory', sampleRate: env.sampleRate },
      logger: 'error',
    });
    const res = await fetch(`${services.gateway.url}/users/1`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    await Promise.all(services.all.map((s) => s.tracer?.flush()));
    return services.all.reduce((n, s) => n + (s.tracer?.finishedSpans().length ?? 0), 0);
  } finally {
    await services?.close();
  }
}

describe('demo sampling from the environment', () => {
  it('OTEL_TRACES_SAMPLER=always_off: no span recorded; unset: the request is traced', async () => {
    delete process.env.HYPERION_SAMPLE_RATE;
    delete process.env.OTEL_TRACES_SAMPLER;
    assert.ok((await spansOfOneRequest()) >= 3, 'every service records spans by default');
    process.env.OTEL_TRACES_SAMPLER = 'always_off';
    assert.equal(await spansOfOneRequest(), 0);
  });

  it('HYPERION_SAMPLE_RATE wins over OTEL_TRACES_SAMPLER', async () => {
    process.env.OTEL_TRACES_SAMPLER = 'always_off';
    process.env.HYPERION_SAMPLE_RATE = '1';
    assert.ok((await spansOfOneRequest()) >= 3);
  });

  it('readEnv leaves the rate to the tracer when OTEL_TRACES_SAMPLER is set, else reads the ARG alone', () => {
    assert.equal(readEnv({}).sampleRate, undefined);
    assert.equal(
      readEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' }).sampleRate,
      undefined,
    );
    assert.equal(readEnv({ OTEL_TRACES_SAMPLER_ARG: '0.5' }).sampleRate, 0.5);
    assert.equal(
      readEnv({ HYPERION_SAMPLE_RATE: '0.25', OTEL_TRACES_SAMPLER: 'always_off' }).sampleRate,
      0.25,
    );
  });

  it('npm run demo with OTEL_TRACES_SAMPLER=bogus: one error naming the variable, exit 1, no stack trace', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, OTEL_TRACES_SAMPLER: 'bogus' };
    for (const k of [
      'DATABASE_URL',
      'REDIS_URL',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'HYPERION_TRACING_ENDPOINT',
      'HYPERION_SAMPLE_RATE',
    ])
      delete env[k];
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'demo/run.ts'], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^demo failed: invalid OpenTelemetry environment variable\(s\): OTEL_TRACES_SAMPLER$/m,
    );
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  });
});
