#!/usr/bin/env node
// Runs every spec/**/*.test.ts through node:test with tsx. Node 20's runner neither expands globs
// nor finds .ts files, so the list is built here. Usage:
//   node spec/run.mjs [--coverage] [filter…]   (filters are substrings of the test file path)
// --coverage also prints lib/ line coverage and fails below 85 %.
// HYPERION_TEST_CONCURRENCY: how many test files run at once (default 2).
// HYPERION_OTEL_LINE=3 runs everything against the OpenTelemetry JS 3.x packages of spec/otel3
// (`npm ci --prefix spec/otel3` first; Node ≥ 22.15) instead of the root's 2.x ones: see
// spec/otel3/resolve.mjs, registered for every process of the run through NODE_OPTIONS.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const coverage = args.includes('--coverage');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = walk(join(root, 'spec'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const MIN_COVERAGE = 85;
// Test files run two at a time (HYPERION_TEST_CONCURRENCY overrides). Node's own default is one
// fewer than the cores, which on a 2-core CI machine ran every file one after another although
// most of the slow ones wait on servers and timeouts, not on the CPU. Node runs the files in path
// order (it sorts them), which keeps the long demo and consumer files away from the end of the run.
const concurrency = process.env.HYPERION_TEST_CONCURRENCY || '2';
if (!/^[1-9][0-9]*$/.test(concurrency)) {
  console.error(`HYPERION_TEST_CONCURRENCY must be a positive integer, not ${concurrency}`);
  process.exit(1);
}
const nodeArgs = [
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
];
if (coverage) {
  rmSync(join(root, 'coverage'), { recursive: true, force: true });
  nodeArgs.push(
    '--experimental-test-coverage',
    '--test-reporter=./spec/coverage-reporter.mjs',
    '--test-reporter-destination=stdout',
  );
}
const env = { ...process.env };
const line = process.env.HYPERION_OTEL_LINE ?? '2';
if (line === '3') {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 22 || (major === 22 && minor < 15)) {
    console.error(`HYPERION_OTEL_LINE=3 needs Node >= 22.15 (this is ${process.version})`);
    process.exit(1);
  }
  if (!existsSync(join(root, 'spec/otel3/node_modules/@opentelemetry/sdk-trace'))) {
    console.error('HYPERION_OTEL_LINE=3: run `npm ci --prefix spec/otel3` first');
    process.exit(1);
  }
  const hook = pathToFileURL(join(root, 'spec/otel3/resolve.mjs')).href;
  env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --import=${hook}`.trim();
} else if (line !== '2') {
  console.error(`HYPERION_OTEL_LINE must be 2 or 3, not ${line}`);
  process.exit(1);
}
console.log(`OpenTelemetry JS line ${line}.x on Node ${process.version}`);
const result = spawnSync(process.execPath, [...nodeArgs, ...files], { cwd: root, stdio: 'inherit', env });
if (result.status !== 0) process.exit(result.status ?? 1);
if (coverage) {
  const { lines } = JSON.parse(readFileSync(join(root, 'coverage/summary.json'), 'utf8'));
  if (lines < MIN_COVERAGE) {
    console.error(`lib/ line coverage ${lines.toFixed(2)} % is below the required ${MIN_COVERAGE} %`);
    process.exit(1);
  }
}
