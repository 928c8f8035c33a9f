/**
 * `npm run demo` prints the URLs it was given (the warnings about a collector or Redis that does
 * not answer, the setup line, a DATABASE_URL that refuses): a user name given without a password
 * is hidden as `REDACTED`, as a password is. It is often the credential itself — a collector's
 * API token sent as the basic-auth user name (`https://TOKEN@collector`), as `hyperion/config`
 * prints such URLs — and was printed whole. A token in the query under a name such as `jwt`, or
 * in a fragment written like a query (`#access_token=`), is hidden too. Every server here is
 * down, so the demo stops at the database (exit 1) after its warnings.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TOKENS = ['ghp-collector-7c1d', 'jwt-5e0a2b', 'redis-user-93fa', 'pg-user-d41e', 'frag-b2c9'];

describe('npm run demo: a user name alone in a URL', () => {
  it('is printed as REDACTED in the collector and Redis warnings and the database error', async (t) => {
    const [otlp, redis, pg] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'LOG_LEVEL'])
      delete env[k];
    Object.assign(env, {
      HYPERION_TRACING_ENDPOINT: `http://${TOKENS[0]}@127.0.0.1:${otlp}/v1/traces?jwt=${TOKENS[1]}#access_token=${TOKENS[4]}`,
      REDIS_URL: `redis://${TOKENS[2]}@127.0.0.1:${redis}`,
      DATABASE_URL: `postgres://${TOKENS[3]}@127.0.0.1:${pg}/app`,
    });
    const child = spawn(process.execPath, ['--import', 'tsx', 'demo/run.ts'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
    t.after(() => {
      clearTimeout(kill);
      child.kill('SIGKILL');
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 1, out);
    assert.ok(
      out.includes(
        `warning: nothing answers at http://REDACTED@127.0.0.1:${otlp}/v1/traces?jwt=REDACTED#access_token=REDACTED `,
      ),
      out,
    );
    assert.ok(
      out.includes(`warning: nothing answers at redis://REDACTED@127.0.0.1:${redis} (REDIS_URL)`),
      out,
    );
    assert.ok(
      out.includes(`demo failed: PostgreSQL at postgres://REDACTED@127.0.0.1:${pg}/app (DATABASE_URL)`),
      out,
    );
    for (const token of TOKENS) assert.ok(!out.includes(token), `${token} is printed:\n${out}`);
  });
});
