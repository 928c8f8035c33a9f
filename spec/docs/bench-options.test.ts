/**
 * The benchmark scripts' command lines: `--help` prints the usage, and a typo, a stray word or a
 * number that is not one stops the script at once with the usage and exit code 2, before any
 * server starts (they used to print a stack trace, or ignore the word and run for minutes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS = ['memory', 'hit-ratio', 'redis', 'tiered', 'tracing', 'metrics', 'demo'];

function run(script: string, ...args: string[]) {
  // Without the test run's NODE_OPTIONS: the scripts load their own OpenTelemetry line.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, ['--import', 'tsx', `benchmarks/${script}.bench.ts`, ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('benchmark command lines', () => {
  for (const script of SCRIPTS) {
    it(`${script}: --help prints the usage; an unknown option or a stray word exits 2 with it`, () => {
      const help = run(script, '--help');
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`usage:\\n  npm run bench:${script}`));
      const typo = run(script, '--qiuck');
      assert.equal(typo.status, 2, typo.stderr);
      assert.match(typo.stderr, /Unknown option '--qiuck'[\s\S]*usage:/);
      const stray = run(script, '500');
      assert.equal(stray.status, 2, stray.stderr);
      assert.match(stray.stderr, /positional argument[\s\S]*usage:/);
    });
  }

  it('a number option that is not one is named, not run as NaN', () => {
    const bad = run('redis', '--time', 'abc');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--time must be a number ≥ 1, got "abc"/);
    const sizes = run('hit-ratio', '--sizes', '250,x');
    assert.equal(sizes.status, 2);
    assert.match(sizes.stderr, /--sizes must be an integer ≥ 1, got "x"/);
  });

  it('a --only that matches no scenario is named with the scenarios, not run into a crash', () => {
    const none = run('memory', '--only', 'set-at-capacity');
    assert.equal(none.status, 2, none.stderr);
    assert.match(none.stderr, /--only "set-at-capacity" matches no scenario \(get-hit, .*set at capacity/);
  });
});
