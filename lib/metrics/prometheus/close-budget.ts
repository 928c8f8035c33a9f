/** `close(options)` of the metrics adapter (enabled or not): its options checked, its grace. */
import { MetricsError } from '../../core/errors.js';
import {
  closeOptionsOf,
  optionKeys,
  shownDuration,
  unknownCloseKeys,
  unknownKeyMessage,
} from '../../core/options.js';
import type { MetricsCloseOptions } from './types.js';

/** What `close(options)` takes: the core `CloseOptions` (a `createApp` disposer's `DisposeInfo`). */
const CLOSE_OPTION_KEYS = optionKeys<MetricsCloseOptions>({ timeoutMs: true, signal: true });

/**
 * The grace of scrapes in progress at `close(options)`: the default, or what fits in the caller's
 * budget (`timeoutMs` minus a margin for cutting the connections, 10 % up to 250 ms), cut short
 * when `signal` aborts. A bad `options` (an unknown key too) is `MetricsError('invalid_option')`,
 * and nothing is closed.
 */
export function closeBudget(
  given: MetricsCloseOptions | undefined,
  dflt: number,
): { graceMs: number; signal: AbortSignal | undefined } {
  // A signal name or an exit code (`process.once('SIGTERM', metrics.close)`): the defaults.
  const options = closeOptionsOf(given);
  if (options === undefined) return { graceMs: dflt, signal: undefined };
  const bad = (what: string) =>
    new MetricsError('invalid_option', `metrics close(): ${what}; nothing was closed`);
  if (typeof options !== 'object' || options === null) throw bad('options must be an object');
  // A misspelt key (`close({ timeout: 500 })`) was ignored and the default grace applied.
  for (const key of unknownCloseKeys(options, CLOSE_OPTION_KEYS))
    throw bad(
      `option \`${key.slice(0, 64)}\` ${unknownKeyMessage(key, CLOSE_OPTION_KEYS)} (options are { timeoutMs, signal })`,
    );
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0))
    throw bad(`timeoutMs must be a number of ms ≥ 0 (or Infinity), received ${shownDuration(timeoutMs)}`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw bad('signal must be an AbortSignal');
  const fit = timeoutMs === undefined ? dflt : timeoutMs - Math.min(250, timeoutMs / 10);
  return { graceMs: Math.min(dflt, fit), signal };
}
