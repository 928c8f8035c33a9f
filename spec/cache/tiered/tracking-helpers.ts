/**
 * Shared parts of the tracking specs: a `redis-cli` process that plays the outside writer (a real
 * program outside this process, one long-lived process so that each write costs a pipe round trip,
 * not a spawn), and the lag measurement "outside write acknowledged → first fresh read".
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import type { TieredCache } from '../../../lib/cache/tiered/index.js';
import { CacheError } from '../../../lib/core/errors.js';
import { findBinary } from '../../harness/process.js';

export interface OutsideWriter {
  /** Sends one command line; resolves with the reply line once redis-cli printed it. */
  run(line: string): Promise<string>;
  close(): void;
}

/** Longest wait for one redis-cli reply (a hang guard; see `run`). */
const REPLY_WAIT_MS = 30_000;

/** `redis-cli -p port [-c] [-a password]` reading commands from a pipe, one reply line per command. */
export function outsideWriter(
  port: number,
  opts: { cluster?: boolean; password?: string } = {},
): OutsideWriter {
  const args = ['-h', '127.0.0.1', '-p', String(port)];
  if (opts.cluster) args.push('-c');
  if (opts.password) args.push('--no-auth-warning', '-a', opts.password);
  const child: ChildProcessWithoutNullStreams = spawn(findBinary('redis-cli') ?? 'redis-cli', args, {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let buffer = '';
  const waiting: ((line: string) => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      // `-c` announces each redirect on a line of its own before the reply; an error reply is
      // followed by an empty line (none of the replies used here is empty).
      if (line.startsWith('-> Redirected') || line === '') continue;
      waiting.shift()?.(line);
    }
  });
  child.on('error', () => {});
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  // Set once a reply did not come: replies are matched to commands by order only, so the stream
  // is out of step for good and every later command is refused (before, the timed-out command's
  // waiter stayed queued and took the next command's reply: one slow reply became a cascade of
  // wrong acknowledgements and more "no reply" failures).
  let broken: Error | undefined;
  return {
    run(line) {
      if (broken) return Promise.reject(broken);
      return new Promise((resolve, reject) => {
        const waiter = (reply: string) => {
          clearTimeout(timer);
          resolve(reply);
        };
        // A bound on a hang, not on latency: a redis-cli process starved by a loaded machine
        // answered after more than the 5 s this used to allow (the tracking model test then
        // failed with "no reply" although nothing was wrong). What a test measures or checks
        // about the write counts from its reply, whenever that comes.
        const timer = setTimeout(() => {
          broken = new Error(
            `redis-cli gave no reply to ${line} within ${REPLY_WAIT_MS} ms (stderr: ${stderr})`,
          );
          const i = waiting.indexOf(waiter);
          if (i !== -1) waiting.splice(i, 1);
          reject(broken);
        }, REPLY_WAIT_MS);
        waiting.push(waiter);
        child.stdin.write(`${line}\n`);
      });
    },
    close() {
      child.stdin.end();
      child.kill();
    },
  };
}

/**
 * One command by a fresh `redis-cli` process (for writes that may fail while a server is down,
 * where a long-lived process could wait for a reconnect). Resolves with its output, never rejects.
 */
export function outsideOnce(port: number, args: readonly string[], password?: string): Promise<string> {
  const auth = password ? ['--no-auth-warning', '-a', password] : [];
  return new Promise((resolve) => {
    execFile(
      findBinary('redis-cli') ?? 'redis-cli',
      ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args],
      { timeout: 3000 },
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`.trim()),
    );
  });
}

export const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());
export const tick = () => new Promise<void>((r) => setImmediate(r));

export function summary(xs: readonly number[]): { median: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)] ?? Number.NaN,
    p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
  };
}

/** Reads `key` until L1 answers (the previous fresh read from L2 filled it); bounded. */
export async function holdInL1(cache: TieredCache, key: string): Promise<string | undefined> {
  for (let i = 0; i < 2000; i++) {
    const r = await cache.getWithMeta(key);
    if (r?.source === 'l1') return text(r.value);
    await tick();
  }
  assert.fail(`${key} never reached L1 (stats ${JSON.stringify(cache.stats())})`);
}

/**
 * `writes` outside SETs of `key` (its Redis name is `redisKey`) while `cache` holds it in L1. After
 * each write's reply: every read returns the previous or the new value, and the first read after
 * the invalidation arrived returns the new one. Returns the delays (ms) from the write's reply to
 * the first fresh read.
 */
export async function measureLag(
  cache: TieredCache,
  cli: OutsideWriter,
  key: string,
  redisKey: string,
  writes: number,
  tag = 'o',
): Promise<number[]> {
  const delays: number[] = [];
  let previous = await holdInL1(cache, key);
  for (let i = 0; i < writes; i++) {
    const value = `${tag}${i}`;
    const before = cache.stats().trackingInvalidations;
    const reply = await cli.run(`SET ${redisKey} ${value}`);
    assert.equal(reply, 'OK');
    const acked = performance.now();
    for (let polls = 0; ; polls++) {
      const arrived = cache.stats().trackingInvalidations > before;
      const seen = text(await cache.get(key));
      if (seen === value) {
        delays.push(performance.now() - acked);
        break;
      }
      assert.ok(!arrived, `after the invalidation arrived, read ${seen} instead of ${value}`);
      assert.equal(seen, previous, 'a read before the invalidation returns the previous value');
      assert.ok(polls < 200_000, `write ${i}: the new value never came`);
      await tick();
    }
    previous = value;
    // The fresh read came from L2 and refilled L1: the next write again replaces an L1 copy.
    await holdInL1(cache, key);
  }
  return delays;
}

/**
 * Waits (at most `boundMs`) for `cache.ready` to reject, as it must when the server refuses a
 * tracking command; returns the error and how long it took to surface. Fails if `ready` resolves
 * or does not settle in time.
 */
export async function trackingRefusal(
  cache: Pick<TieredCache, 'ready'>,
  boundMs = 5000,
): Promise<{ err: CacheError; ms: number }> {
  const start = performance.now();
  const err = await Promise.race([
    cache.ready.then(
      () => assert.fail('ready resolved'),
      (e: unknown) => e,
    ),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`ready did not settle within ${boundMs} ms`)), boundMs).unref(),
    ),
  ]);
  assert.ok(err instanceof CacheError, String(err));
  return { err, ms: performance.now() - start };
}
