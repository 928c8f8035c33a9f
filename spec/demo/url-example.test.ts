/**
 * A malformed peer or Jaeger UI URL stops the program at start with a line naming the variable
 * and an example of what it takes. The example was the user service's URL for every variable:
 * `JAEGER_UI_URL must be an http:// or https:// base URL such as http://127.0.0.1:8081` (no
 * Jaeger UI is there), `ORDER_SERVICE_URL … such as http://127.0.0.1:8081` (the user service). It
 * is now the variable's own default.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function run(script: string, vars: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'HYPERION_TRACING_ENDPOINT'])
    delete env[k];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script],
      { cwd: root, env, timeout: 60_000 },
      (err, _o, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    );
  });
}

describe('a malformed URL variable: the example given is its own default', () => {
  it('npm run demo, JAEGER_UI_URL', async () => {
    const r = await run('demo/run.ts', { JAEGER_UI_URL: 'localhost:16686' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^demo failed: JAEGER_UI_URL must be an http:\/\/ or https:\/\/ base URL such as http:\/\/localhost:16686, got "localhost:16686"$/m,
    );
  });

  for (const [name, port] of [
    ['USER_SERVICE_URL', 8081],
    ['ORDER_SERVICE_URL', 8082],
  ] as const) {
    it(`the gateway, ${name}`, async () => {
      const r = await run('demo/gateway.ts', { PORT: String(await freePort()), [name]: `localhost:${port}` });
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `${name} must be an http:// or https:// base URL such as http://127\\.0\\.0\\.1:${port}, got "localhost:${port}"`,
        ),
      );
    });
  }
});
