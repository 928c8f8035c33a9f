/**
 * `npm run bench:demo` with failed requests (errors, timeouts, non-2xx under load) printed its
 * figures and `!! N failed or non-2xx responses`, then exited 0: a script or CI job running it
 * (and `npm run bench`, which counts a non-zero exit as a failed benchmark) took the run for a
 * good one. It now exits 1 after printing its figures. The failures are made by a preload that
 * turns some of the demo services' responses into 500s; the run is the smallest the script takes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withoutCoverage } from '../harness/process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const preload = fileURLToPath(new URL('./fixtures/failing-demo-requests.mjs', import.meta.url));

describe('npm run bench:demo', () => {
  it('exits 1 after printing its figures when requests failed', () => {
    const env = withoutCoverage();
    // Without the test run's NODE_OPTIONS (the script loads its own OpenTelemetry line); the
    // preload reaches the load generator's child too, where it changes nothing (no server there).
    env.NODE_OPTIONS = `--import ${preload}`;
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'benchmarks/demo.bench.ts',
        '--duration',
        '1',
        '--rounds',
        '2',
        '--exporter',
        'memory',
      ],
      { cwd: root, env, encoding: 'utf8', timeout: 240_000 },
    );
    assert.equal(run.signal, null, `the run was stopped: ${run.stderr.slice(-500)}`);
    assert.match(run.stdout, /medians over rounds[\s\S]*goals \(issue 14\)/, 'the figures are printed');
    assert.match(run.stdout, /!! \d+ failed or non-2xx responses/);
    assert.equal(run.status, 1, run.stderr.slice(-500));
  });
});
