/**
 * `npm run bench:hit-ratio` as a user runs it on their own trace: the run judges that trace and
 * leaves the repository alone. A `--trace FILE` (or `--sizes`) run used to overwrite the committed
 * chart of a trace of the same name in benchmarks/figures/ (shown in benchmarks/README.md) with a
 * chart of its own sizes, or add one for a new name.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withoutCoverage } from '../../harness/process.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const figures = join(root, 'benchmarks', 'figures');

function run(...args: string[]) {
  const env = withoutCoverage();
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, ['--import', 'tsx', 'benchmarks/hit-ratio.bench.ts', ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('bench:hit-ratio on a user trace', () => {
  it('--trace / --sizes runs write no figure (the committed charts are the standard run’s)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hr-figures-'));
    const shared = join(figures, 'hit-ratio-lirs-gli.svg');
    const fresh = join(figures, `hit-ratio-audit-${process.pid}.svg`);
    const before = readFileSync(shared);
    try {
      // A trace named like a shared one (plain text is read too), judged at sizes of its own.
      const same = join(dir, 'lirs-gli.keys.gz');
      writeFileSync(same, 'a\nb\na\nc\na\nb\n');
      const r1 = run('--trace', same, '--sizes', '1,2');
      assert.equal(r1.status, 0, r1.stderr);
      assert.match(r1.stdout, /\| lirs-gli \|\s+2 \|/);
      assert.match(r1.stdout, /figures: not written/);
      assert.deepEqual(readFileSync(shared), before, 'the committed lirs-gli chart was overwritten');
      // A new name, default sizes: no new file in benchmarks/figures either.
      const other = join(dir, `audit-${process.pid}.keys.gz`);
      writeFileSync(other, 'a\nb\na\n');
      const r2 = run('--trace', other);
      assert.equal(r2.status, 0, r2.stderr);
      assert.equal(existsSync(fresh), false, `${fresh} was written`);
    } finally {
      if (!readFileSync(shared).equals(before)) writeFileSync(shared, before);
      rmSync(fresh, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a trace that cannot be read or holds no key, or a --json that cannot be written, exits 2 at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hr-bad-'));
    try {
      const missing = run('--trace', join(dir, 'nope.keys.gz'), '--no-figures');
      assert.equal(missing.status, 2, missing.stderr);
      assert.match(missing.stderr, /--trace .*nope\.keys\.gz cannot be read \(ENOENT[\s\S]*usage:/);
      const empty = join(dir, 'empty.keys.gz');
      writeFileSync(empty, '');
      const none = run('--trace', empty, '--sizes', '2');
      assert.equal(none.status, 2, none.stderr);
      assert.match(none.stderr, /--trace .*empty\.keys\.gz holds no key[\s\S]*usage:/);
      assert.doesNotMatch(none.stdout, /NaN/);
      const trace = join(dir, 'ok.keys.gz');
      writeFileSync(trace, 'a\nb\na\n');
      const json = run('--trace', trace, '--sizes', '2', '--json', join(dir, 'no-dir', 'out.json'));
      assert.equal(json.status, 2, json.stderr);
      assert.match(json.stderr, /--json .*no-dir.*: its folder does not exist[\s\S]*usage:/);
      assert.doesNotMatch(json.stdout, /\| ok /, 'the replay ran before the bad --json was noticed');
      // A folder as OUT (an existing one, or a name ending in /) used to run the whole replay and
      // then fail writing it with an EISDIR stack trace; every script shares this check.
      for (const folder of [dir, `${join(dir, 'out')}/`]) {
        const r = run('--trace', trace, '--sizes', '2', '--json', folder);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /--json .* names a folder, not a file[\s\S]*usage:/);
        assert.doesNotMatch(r.stderr, /EISDIR/);
        assert.doesNotMatch(r.stdout, /\| ok /, 'the replay ran before the bad --json was noticed');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a line too long to be a key exits 2 before any replay, naming it, instead of a CacheError mid-run', () => {
    // Our cache takes keys up to 64 KiB (UTF-8): a longer line (a file that is not a trace, most
    // often) ended the run with an invalid_key stack trace after the rows before it. A line of
    // 40,000 bytes ≥ 0x80 is read as latin1, 80,000 bytes in UTF-8: refused too.
    const dir = mkdtempSync(join(tmpdir(), 'hr-long-'));
    try {
      const trace = join(dir, 'long.keys');
      writeFileSync(
        trace,
        Buffer.concat([Buffer.from('a\nb\n'), Buffer.alloc(40_000, 0xe9), Buffer.from('\na\n')]),
      );
      const r = run('--trace', trace, '--sizes', '1,2');
      assert.equal(r.status, 2, r.stderr);
      assert.match(
        r.stderr,
        /--trace .*long\.keys: request 3 is a line of 40,000 bytes, a key of 80,000 bytes in UTF-8; the memory cache takes keys up to 65,536 bytes[\s\S]*usage:/,
      );
      assert.doesNotMatch(r.stderr, /CacheError|invalid_key/);
      assert.doesNotMatch(r.stdout, /\| long /, 'a replay ran before the long line was noticed');
      // The longest key the cache takes is replayed.
      const edge = join(dir, 'edge.keys');
      writeFileSync(edge, `${'k'.repeat(65_536)}\nb\n${'k'.repeat(65_536)}\n`);
      const ok = run('--trace', edge, '--sizes', '2');
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /\| edge\.keys \|\s+2 \| 33\.33 \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a trace compressed other than with gzip exits 2 naming the format, not a table of 0.00', () => {
    // `a b a c a b`, compressed by xz, zstd and bzip2 (the sources of the shared traces are zstd
    // and xz files). Read as plain text, each was a few keys of binary noise: a table of 0.00
    // hit ratios marked ok, exit 0.
    const dir = mkdtempSync(join(tmpdir(), 'hr-compressed-'));
    try {
      const files: Record<string, string> = {
        xz: '/Td6WFoAAATm1rRGAgAhARYAAAB0L+WjAQALYQpiCmEKYwphCmIKAP/eyOZX/DVOAAEkDKYY2NgftvN9AQAAAAAEWVo=',
        zstd: 'KLUv/SQMYQAAYQpiCmEKYwphCmIKOUNsPA==',
        bzip2: 'QlpoOTFBWSZTWU5zQbIAAAPBAAAQOAAgACEhoM00UYk4u5IpwoSCc5oNkA==',
      };
      for (const [format, base64] of Object.entries(files)) {
        const trace = join(dir, `trace.${format}`);
        writeFileSync(trace, Buffer.from(base64, 'base64'));
        const r = run('--trace', trace, '--sizes', '2');
        assert.equal(r.status, 2, `${format}: ${r.stdout}${r.stderr}`);
        assert.match(
          r.stderr,
          new RegExp(
            `--trace .*trace\\.${format} cannot be read \\(${format}-compressed: decompress it first`,
          ),
        );
        assert.doesNotMatch(r.stdout, /\| trace /, `${format}: a replay ran`);
      }
      // Plain text that happens to start like a bzip2 header is still a trace.
      const text = join(dir, 'bzh.keys');
      writeFileSync(text, 'BZh9\nBZh9\n');
      const ok = run('--trace', text, '--sizes', '2');
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /\| bzh\.keys \|\s+2 \| 50\.00 \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('read by a reader that goes away (`| head -1`): no EPIPE stack trace, the --json is written, exit 0', async () => {
    // Every script shares this (benchmarks/lib/args.ts): the first line printed after the reader
    // left was an uncaught EPIPE 'error' event, exit 1, and the --json, written after the
    // tables, was never written.
    const dir = mkdtempSync(join(tmpdir(), 'hr-epipe-'));
    try {
      const trace = join(dir, 'tiny.keys');
      writeFileSync(trace, 'a\nb\na\nc\na\nb\n');
      const json = join(dir, 'out.json');
      const env = withoutCoverage();
      delete env.NODE_OPTIONS;
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'benchmarks/hit-ratio.bench.ts',
          '--trace',
          trace,
          '--sizes',
          '2',
          '--json',
          json,
        ],
        { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // The reader is gone before anything is written: the first write meets EPIPE.
      child.stdout.destroy();
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      clearTimeout(timer);
      assert.equal(code, 0, `stderr: ${err}`);
      assert.doesNotMatch(err, /EPIPE|Unhandled/);
      const rows = (JSON.parse(readFileSync(json, 'utf8')) as { rows: unknown[] }).rows;
      assert.deepEqual(rows, [{ trace: 'tiny.keys', size: 2, ours: 50, lru: 33.33, opt: 50 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a size above the trace’s distinct keys is judged (only first requests miss), not a crash', () => {
    // lru-cache allocates its whole `max` up front: 1e12 was a RangeError stack trace (1e9 died
    // of "heap out of memory" after 15 s), and a size above 2^53 − 1 a ConfigError from our cache.
    const dir = mkdtempSync(join(tmpdir(), 'hr-huge-'));
    try {
      const trace = join(dir, 'tiny.keys');
      writeFileSync(trace, 'a\nb\na\nc\na\nb\n');
      const json = join(dir, 'out.json');
      const r = run('--trace', trace, '--sizes', '2,1000000000000,9007199254740994', '--json', json);
      assert.equal(r.status, 0, r.stderr);
      const rows = (JSON.parse(readFileSync(json, 'utf8')) as { rows: unknown[] }).rows;
      assert.deepEqual(rows, [
        { trace: 'tiny.keys', size: 2, ours: 50, lru: 33.33, opt: 50 },
        { trace: 'tiny.keys', size: 1e12, ours: 50, lru: 50, opt: 50 },
        { trace: 'tiny.keys', size: 9007199254740994, ours: 50, lru: 50, opt: 50 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an empty line in a trace is skipped and counted, not replayed as a key', () => {
    // Our cache refuses '' as a key: a blank line (here in the middle and a second newline at
    // the end) ended the run with a CacheError stack trace after "N requests".
    const dir = mkdtempSync(join(tmpdir(), 'hr-blank-'));
    try {
      const trace = join(dir, 'blank.keys');
      writeFileSync(trace, 'a\nb\n\na\nb\n\n');
      const r = run('--trace', trace, '--sizes', '2', '--json', join(dir, 'out.json'));
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /blank\.keys: 2 empty line\(s\) skipped/);
      assert.match(r.stdout, /blank\.keys: 4 requests/);
      const rows = (JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { rows: unknown[] }).rows;
      assert.deepEqual(rows, [{ trace: 'blank.keys', size: 2, ours: 50, lru: 50, opt: 50 }]);
      // The same trace with CRLF line ends is judged the same: split on '\n' alone, each key kept
      // its '\r' and each blank line was a key '\r' (6 requests; ours 33.33, LRU 0).
      const crlf = join(dir, 'crlf.keys');
      writeFileSync(crlf, 'a\r\nb\r\n\r\na\r\nb\r\n\r\n');
      const rc = run('--trace', crlf, '--sizes', '2', '--json', join(dir, 'crlf.json'));
      assert.equal(rc.status, 0, rc.stderr);
      assert.match(rc.stdout, /crlf\.keys: 2 empty line\(s\) skipped/);
      assert.match(rc.stdout, /crlf\.keys: 4 requests/);
      const crlfRows = (JSON.parse(readFileSync(join(dir, 'crlf.json'), 'utf8')) as { rows: unknown[] }).rows;
      assert.deepEqual(crlfRows, [{ trace: 'crlf.keys', size: 2, ours: 50, lru: 50, opt: 50 }]);
      const only = join(dir, 'only-blank.keys');
      writeFileSync(only, '\n\n');
      const none = run('--trace', only);
      assert.equal(none.status, 2, none.stderr);
      assert.match(none.stderr, /holds no key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
