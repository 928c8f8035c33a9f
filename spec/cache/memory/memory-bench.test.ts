/**
 * `npm run bench:memory` options as a user meets them. An `--only SCENARIO` run measures one
 * scenario: it used to rewrite the committed benchmarks/figures/memory-ratios.svg (shown in
 * benchmarks/README.md) with NaN bars for every other scenario, and print the other scenarios'
 * goals as "NaN× MISSED"; and a `--json` into a missing folder failed with a stack trace only
 * after the whole run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withoutCoverage } from '../../harness/process.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function run(...args: string[]) {
  const env = withoutCoverage();
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, ['--import', 'tsx', 'benchmarks/memory.bench.ts', ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('bench:memory options', () => {
  it('an --only run writes no figure', () => {
    const figure = join(root, 'benchmarks', 'figures', 'memory-ratios.svg');
    const before = readFileSync(figure);
    try {
      // The shortest run there is: one scenario, short rounds, no heap measurement.
      const r = run('--quick', '--only', 'get-miss');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /figure: not written/);
      assert.deepEqual(readFileSync(figure), before, 'memory-ratios.svg was rewritten');
    } finally {
      if (!readFileSync(figure).equals(before)) writeFileSync(figure, before);
    }
  });

  it('an --only run prints and writes only the goals it measured, no NaN', () => {
    // The goals of the scenarios it skips used to print as "NaN×  goal ≤ 1×  MISSED" (and
    // `"value": null` in --json): a measured failure to the reader, for a figure never measured.
    const dir = mkdtempSync(join(tmpdir(), 'mem-bench-'));
    try {
      const out = join(dir, 'out.json');
      const r = run('--quick', '--no-figures', '--only', 'get-miss', '--json', out);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /NaN/);
      assert.match(r.stdout, /get-miss: ours \/ Map +[\d.]+× +goal ≤ 1\.5× +(met|MISSED)/);
      assert.match(r.stdout, /not measured in this --only run: get-hit: ours \/ lru-cache;/);
      const json = JSON.parse(readFileSync(out, 'utf8')) as {
        goals: { what: string; value: number; goal: number; met: boolean }[];
      };
      assert.deepEqual(
        json.goals.map((g) => g.what),
        ['get-miss: ours / Map'],
      );
      assert.equal(typeof json.goals[0]!.value, 'number');
      assert.equal(json.goals[0]!.met, json.goals[0]!.value <= json.goals[0]!.goal);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --json whose folder does not exist exits 2 before measuring', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mem-bench-'));
    try {
      const r = run(
        '--quick',
        '--no-figures',
        '--only',
        'get-miss',
        '--json',
        join(dir, 'no-dir', 'out.json'),
      );
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--json .*no-dir.*: its folder does not exist[\s\S]*usage:/);
      assert.doesNotMatch(r.stdout, /get-miss/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
