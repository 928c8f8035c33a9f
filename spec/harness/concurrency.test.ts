/**
 * spec/run.mjs runs test files side by side. Node's runner, left to itself, runs one file fewer
 * than the cores at a time: on the 2-core CI machine one after another, and the two halves of CI
 * took 42 minutes although most slow files wait on servers and timeouts. The fixture's two files
 * each wait for the other to be running, so they pass only when the runner has both going at once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir, withoutCoverage } from './process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function runner(extra: NodeJS.ProcessEnv) {
  const env: NodeJS.ProcessEnv = { ...withoutCoverage(), ...extra };
  delete env.NODE_TEST_CONTEXT; // else the child reports to this runner instead of printing a summary
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return spawnSync(process.execPath, ['spec/run.mjs', 'spec/harness/fixtures/side-by-side-'], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 90_000,
  });
}

describe('spec/run.mjs', () => {
  it('runs two test files at once by default', async (t) => {
    const dir = await tempDir('side-by-side');
    t.after(() => dir.remove());
    const run = runner({ HYPERION_SIDE_BY_SIDE_DIR: dir.path, HYPERION_TEST_CONCURRENCY: undefined });
    const out = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, out);
    assert.match(out, /pass 2\b/, out);
    assert.match(out, /fail 0\b/, out);
  });

  it('refuses a HYPERION_TEST_CONCURRENCY that is not a positive integer, naming it', () => {
    for (const bad of ['0', 'two', '-1', '1.5']) {
      const run = runner({ HYPERION_TEST_CONCURRENCY: bad });
      assert.equal(run.status, 1, `${bad}: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /HYPERION_TEST_CONCURRENCY must be a positive integer/, bad);
    }
  });
});
