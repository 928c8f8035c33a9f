/** Shared bits of the Redis cache specs. */
import assert from 'node:assert/strict';
import { CacheError, type CacheErrorCode } from '../../../lib/core/errors.js';
import { redisCommand } from '../../harness/redis.js';

export const enc = (s: string) => Buffer.from(s);
export const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

/** Every byte value 0..255, three times over, as a plain Uint8Array (not a Buffer). */
export function allBytes(): Uint8Array {
  const out = new Uint8Array(768);
  for (let i = 0; i < out.length; i++) out[i] = i % 256;
  return out;
}

/** Asserts `promise` rejects with a CacheError whose code is one of `codes`; returns it. */
export async function rejectsWith(
  promise: Promise<unknown>,
  ...codes: CacheErrorCode[]
): Promise<CacheError> {
  let caught: unknown;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof CacheError, `expected CacheError, got ${String(caught)}`);
  assert.ok(
    codes.includes(caught.code),
    `expected code ${codes.join('|')}, got ${caught.code}: ${caught.message}`,
  );
  return caught;
}

/** Records unhandled rejections while installed; `check()` asserts there were none. */
// iovalkey prints an 'error' event that no listener took (instead of throwing it): one of our
// connections was left without a listener. One patch of console.error feeds every active watcher.
const printedTo = new Set<string[]>();
const consoleError = console.error;
console.error = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].includes('Unhandled error event')) {
    for (const list of printedTo) list.push(String(args[1]));
  }
  consoleError.apply(console, args);
};

export function watchUnhandled(): { check(): void; dispose(): void } {
  const seen: unknown[] = [];
  const printed: string[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  printedTo.add(printed);
  return {
    check: () => {
      assert.deepEqual(seen, [], 'unhandled rejections');
      assert.deepEqual(printed, [], 'iovalkey error events with no listener');
    },
    dispose: () => {
      process.off('unhandledRejection', onRejection);
      printedTo.delete(printed);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many GETs the server on `port` has answered (INFO commandstats): who served the reads. */
export async function replicaGets(n: { port: number }): Promise<number> {
  const info = String(await redisCommand(n.port, ['INFO', 'commandstats'], {}));
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}
