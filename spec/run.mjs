#!/usr/bin/env node
// Runs every spec/**/*.test.ts through node:test with tsx. Node 20's runner neither expands globs
// nor finds .ts files, so the list is built here. Usage:
//   node spec/run.mjs [--coverage] [filter…]   (filters are substrings of the test file path)
// --coverage also prints lib/ line coverage and fails below 85 %.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const nodeArgs = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout'];
if (process.env.HYPERION_TEST_CONCURRENCY)
  nodeArgs.push(`--test-concurrency=${process.env.HYPERION_TEST_CONCURRENCY}`);
if (coverage) {
  rmSync(join(root, 'coverage'), { recursive: true, force: true });
  nodeArgs.push(
    '--experimental-test-coverage',
    '--test-reporter=./spec/coverage-reporter.mjs',
    '--test-reporter-destination=stdout',
  );
}
const result = spawnSync(process.execPath, [...nodeArgs, ...files], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
if (coverage) {
  const { lines } = JSON.parse(readFileSync(join(root, 'coverage/summary.json'), 'utf8'));
  if (lines < MIN_COVERAGE) {
    console.error(`lib/ line coverage ${lines.toFixed(2)} % is below the required ${MIN_COVERAGE} %`);
    process.exit(1);
  }
}
