/**
 * The benchmark scripts' command lines: `--help` prints the usage, and a typo, a stray word or a
 * number that is not one stops the script at once with the usage and exit code 2, before any
 * server starts (they used to print a stack trace, or ignore the word and run for minutes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withoutCoverage } from '../harness/process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPTS = ['memory', 'hit-ratio', 'redis', 'tiered', 'tracing', 'metrics', 'demo'];
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const otel3Node = major > 22 || (major === 22 && minor >= 15);

function run(script: string, ...args: string[]) {
  // Without the test run's NODE_OPTIONS: the scripts load their own OpenTelemetry line.
  const env = withoutCoverage();
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

  it('a number option is checked before anything is measured, wherever the script uses it', () => {
    // --pairs (tracing's back-to-back check) and --tracked-keys (tiered's tracking memory) were
    // parsed where they are used: a bad value stopped the script only after the measurements
    // before it had run and printed (a minute or more at the defaults).
    const pairs = run('tracing', '--rounds', '1', '--time', '1', '--pairs', 'abc');
    assert.equal(pairs.status, 2, pairs.stderr);
    assert.match(pairs.stderr, /--pairs must be an integer ≥ 1, got "abc"/);
    assert.doesNotMatch(pairs.stdout, /tracing adapter vs raw/);
    const keys = run('tiered', '--rounds', '1', '--time', '1', '--only-tracking', '--tracked-keys', '0');
    assert.equal(keys.status, 2, keys.stderr);
    assert.match(keys.stderr, /--tracked-keys must be an integer ≥ 1, got "0"/);
    assert.doesNotMatch(keys.stdout, /getOrSet/);
  });

  it('a --json that cannot be written exits 2 before anything is measured, in every script', () => {
    // Each script writes its --json file at the end: into a missing folder that was a stack
    // trace after the whole run (redis, tiered, tracing, metrics, demo), and an empty name
    // silently wrote nothing. The smallest run of each follows, should the check be missing.
    const dir = mkdtempSync(join(tmpdir(), 'bench-json-'));
    const trace = join(dir, 'tiny.keys');
    writeFileSync(trace, 'a\nb\na\n');
    const quick: Record<string, string[]> = {
      memory: ['--quick', '--no-figures', '--only', 'get-miss'],
      'hit-ratio': ['--trace', trace],
      redis: ['--rounds', '1', '--time', '1'],
      tiered: ['--rounds', '1', '--time', '1', '--only-tracking', '--tracked-keys', '1'],
      tracing: ['--rounds', '1', '--time', '1', '--pairs', '1'],
      metrics: ['--time', '1'],
      demo: ['--rounds', '2', '--duration', '1'],
    };
    try {
      for (const script of SCRIPTS) {
        const out = join(dir, 'no-dir', 'out.json');
        const missing = run(script, ...quick[script]!, '--json', out);
        assert.equal(missing.status, 2, `${script}: ${missing.stderr}`);
        assert.match(missing.stderr, /--json .*no-dir.*: its folder does not exist[\s\S]*usage:/, script);
        assert.equal(missing.stdout, '', `${script} started measuring`);
        const empty = run(script, ...quick[script]!, '--json', '');
        assert.equal(empty.status, 2, `${script}: ${empty.stderr}`);
        assert.match(empty.stderr, /--json needs a file name[\s\S]*usage:/, script);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bench:tracing:otel3 on a Node older than 22.15 says what it needs', {
    skip: otel3Node ? 'this Node runs the 3.x line' : false,
  }, () => {
    // The 3.x resolve hook imports module.registerHooks: on Node 20 the script died with
    // "SyntaxError: … does not provide an export named 'registerHooks'". The package.json script
    // is run as npm runs it, with this Node first on PATH.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const env = withoutCoverage({
      ...process.env,
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
    });
    delete env.NODE_OPTIONS;
    const r = spawnSync('sh', ['-c', `${pkg.scripts['bench:tracing:otel3']} --help`], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /bench:tracing:otel3 needs Node >= 22\.15 .*\(this is v/);
    assert.doesNotMatch(r.stderr, /SyntaxError/);
  });

  it('npm run bench: an option or a name that matches no benchmark exits 2, not 0 having run nothing', () => {
    // benchmarks/run.mjs takes benchmark names; `npm run bench -- --quick` (an option meant for
    // one script) or a misspelt name ran no benchmark at all and exited 0.
    const bench = (...args: string[]) =>
      spawnSync(process.execPath, ['benchmarks/run.mjs', ...args], {
        cwd: root,
        env: withoutCoverage(),
        encoding: 'utf8',
        timeout: 60_000,
      });
    const option = bench('--quick');
    assert.equal(option.status, 2, option.stderr);
    assert.match(option.stderr, /--quick: npm run bench takes benchmark names only[\s\S]*usage:/);
    assert.doesNotMatch(option.stdout, /===/);
    const name = bench('memroy');
    assert.equal(name.status, 2, name.stderr);
    assert.match(name.stderr, /memroy: no such benchmark[\s\S]*usage:[\s\S]*hit-ratio, memory/);
    const help = bench('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /usage:\n {2}npm run bench \[-- NAME …\]/);
  });

  it('bench:demo: a Jaeger it cannot find, or --concurrent without a network exporter, is named before anything starts', () => {
    // Both were thrown errors (a stack trace, exit 1), the Jaeger one after "starting three copies
    // of the demo services…" and without a word on how to install it.
    const env = withoutCoverage({ ...process.env, PATH: '/nonexistent', GOPATH: '/nonexistent' });
    delete env.NODE_OPTIONS;
    delete env.GOBIN;
    const noJaeger = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'benchmarks/demo.bench.ts',
        '--exporter',
        'jaeger',
        '--rounds',
        '2',
        '--duration',
        '1',
      ],
      { cwd: root, env, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(noJaeger.status, 1, noJaeger.stderr);
    assert.match(noJaeger.stderr, /^jaeger not found — install: bash \.ci\/install-jaeger\.sh/);
    assert.equal(noJaeger.stdout, '');
    const memory = run('demo', '--exporter', 'memory', '--concurrent');
    assert.equal(memory.status, 2, memory.stderr);
    assert.match(memory.stderr, /^--concurrent needs a network exporter[\s\S]*usage:/);
    assert.equal(memory.stdout, '');
  });

  it('a --only that matches no scenario is named with the scenarios, not run into a crash', () => {
    const none = run('memory', '--only', 'set-at-capacity');
    assert.equal(none.status, 2, none.stderr);
    assert.match(none.stderr, /--only "set-at-capacity" matches no scenario \(get-hit, .*set at capacity/);
  });
});
