import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('a suite skipped for a missing server', () => {
  it('is counted under `skipped` in the run summary, and its body does not run', () => {
    const env = { ...process.env };
    delete env.HYPERION_REQUIRE_SERVICES;
    delete env.NODE_TEST_CONTEXT; // else the child reports to this runner instead of printing a summary
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', 'spec/harness/fixtures/missing-server.ts'],
      { cwd: root, env, encoding: 'utf8', timeout: 60_000 },
    );
    const out = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, out);
    assert.match(out, /skipped 1\b/, out);
    assert.match(out, /pass 1\b/, out);
    assert.match(out, /missing hyperion-no-such-server/, out);
  });

  it('fails instead when HYPERION_REQUIRE_SERVICES=1', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HYPERION_REQUIRE_SERVICES: '1' };
    delete env.NODE_TEST_CONTEXT;
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=spec', 'spec/harness/fixtures/missing-server.ts'],
      { cwd: root, env, encoding: 'utf8', timeout: 60_000 },
    );
    assert.notEqual(run.status, 0, `${run.stdout}${run.stderr}`);
  });
});
