/** `retryTransaction`: re-runs a transaction that lost a WATCH race, with jittered exponential backoff. */
import { CacheError, ConfigError, type ConfigIssue, typeName } from '../../../core/errors.js';
import { shownDuration, unknownOptionIssues } from '../../../core/options.js';
import { sleep } from '../../../core/timeout.js';
import type { TransactionResult } from './types.js';

/** Longest wait between two tries (ms). */
const MAX_BACKOFF_MS = 1000;

export interface RetryOptions {
  /** Total tries, including the first. Default 5. */
  attempts?: number | undefined;
  /** Wait before the 2nd try in ms; doubles each time (capped at 1 s), with jitter. Default 10. */
  backoffMs?: number | undefined;
}

/**
 * Runs `run` until it does not report a WATCH conflict, at most `attempts` times, waiting
 * `backoffMs` × 2^n (randomised between half and full, so competing clients spread out) between
 * tries. Resolves the first non-conflict result, or the last conflict when every try conflicted —
 * each with `attempts` used. Errors from `run` are not retried: they reject at once.
 */
export async function retryTransaction(
  run: () => Promise<TransactionResult>,
  options: RetryOptions = {},
): Promise<TransactionResult & { readonly attempts: number }> {
  // Only an absent option (or `undefined`) takes the default: `{ attempts: null }` ran 5 tries, where
  // every other numeric option of the package refuses `null`.
  const attempts = options?.attempts === undefined ? 5 : options.attempts;
  const backoffMs = options?.backoffMs === undefined ? 10 : options.backoffMs;
  checkRetry(run, attempts, backoffMs, options);
  for (let attempt = 1; ; attempt++) {
    const result = await run();
    checkResult(result);
    if (result.ok || !result.conflict || attempt >= attempts) return { ...result, attempts: attempt };
    const wait = Math.min(backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS) * (0.5 + Math.random() / 2);
    if (wait > 0) await sleep(wait, { unref: true });
  }
}

/**
 * `run` must resolve a transaction's result. `() => { cache.transaction(…) }` (braces, no
 * `return`) resolved `undefined`: retryTransaction threw a bare TypeError ("Cannot read properties
 * of undefined (reading 'ok')") while the transaction it never awaited ran on; another object was
 * returned as if it were a result.
 */
function checkResult(result: unknown): asserts result is TransactionResult {
  const ok = (result as { ok?: unknown } | null | undefined)?.ok;
  if (typeof ok === 'boolean') return;
  throw new CacheError(
    'invalid_value',
    `retryTransaction: run() must return the promise of cache.transaction(...), it gave ${typeName(result)}` +
      (result === undefined ? ' (a missing `return`?)' : ''),
  );
}

const RETRY_OPTION_KEYS: readonly string[] = ['attempts', 'backoffMs'];

function checkRetry(run: unknown, attempts: unknown, backoffMs: unknown, options: unknown): void {
  // An unknown key (`{ attempt: 20 }`, `{ backoff: 100 }`) used to be ignored: the retry ran
  // with the defaults, without a word.
  const issues: ConfigIssue[] = unknownOptionIssues(options, RETRY_OPTION_KEYS);
  if (typeof run !== 'function') {
    issues.push({ path: 'run', expected: 'a function', received: typeName(run), message: 'not a function' });
  }
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1 || attempts > 1000) {
    issues.push({
      path: 'attempts',
      expected: 'an integer in 1..1000',
      received: typeName(attempts),
      message: 'out of range',
    });
  }
  if (typeof backoffMs !== 'number' || !Number.isFinite(backoffMs) || backoffMs < 0) {
    issues.push({
      path: 'backoffMs',
      expected: 'a finite number of ms ≥ 0',
      received: shownDuration(backoffMs),
      message: 'out of range',
    });
  }
  if (issues.length > 0) throw new ConfigError('invalid retryTransaction options', issues);
}
