/** Options of the transaction runner: defaults and eager validation (one ConfigError listing every bad field). */
import type { Cluster, Redis } from 'iovalkey';
import { CacheError, ConfigError, type ConfigIssue, typeName } from '../../../core/errors.js';
import { unknownKeyMessage } from '../../../core/options.js';
import { checkKeys, checkTtl } from '../checks.js';
import type { TransactionOptions, TransactionRunnerOptions } from './types.js';

const TRANSACTION_OPTION_KEYS: readonly string[] = ['watch'];

/**
 * The keys to WATCH, from a transaction's options (`undefined` or `null`: none). Options that are
 * not an object, or hold a key other than `watch`, are refused (`invalid_value`): a misspelt
 * `{ wacth: [...] }`, or the key list passed as the options themselves (`transaction(fn, ['k'])`),
 * used to run the transaction without its WATCH — an unguarded write reported `{ ok: true }`,
 * exactly the lost update the guard is there to prevent.
 */
export function watchedKeys(options: TransactionOptions | null | undefined): readonly string[] {
  if (options === undefined || options === null) return [];
  if (typeof options !== 'object' || Array.isArray(options))
    throw new CacheError(
      'invalid_value',
      `transaction options must be an object ({ watch: [...keys] }), received ${typeName(options)}`,
    );
  for (const key of Object.keys(options))
    if (!TRANSACTION_OPTION_KEYS.includes(key))
      throw new CacheError(
        'invalid_value',
        `transaction option \`${key}\` ${unknownKeyMessage(key, TRANSACTION_OPTION_KEYS)} (options are { watch })`,
      );
  const watch = options.watch ?? [];
  checkKeys(watch, 'transaction option `watch` must be an array of keys');
  return watch;
}

export interface ResolvedRunnerOptions {
  readonly client: Redis | Cluster;
  readonly prefix: string;
  readonly cluster: boolean;
  readonly timeoutMs: number;
  readonly maxConnections: number;
  readonly defaultTtl: number | undefined;
}

export function resolveRunnerOptions(options: TransactionRunnerOptions): ResolvedRunnerOptions {
  const { client } = options;
  if (client === null || typeof client !== 'object' || typeof client.duplicate !== 'function') {
    throw new ConfigError('invalid transaction runner options', [
      {
        path: 'client',
        expected: 'an iovalkey Redis or Cluster',
        received: typeName(client),
        message: 'missing client',
      },
    ]);
  }
  const resolved: ResolvedRunnerOptions = {
    client,
    prefix: options.keyPrefix ?? '',
    cluster: client.isCluster === true,
    timeoutMs: options.commandTimeout ?? 3000,
    maxConnections: options.maxConnections ?? 4,
    defaultTtl: options.defaultTtl,
  };
  const issues = check(resolved, options.mode);
  if (issues.length > 0) throw new ConfigError('invalid transaction runner options', issues);
  return resolved;
}

function check(o: ResolvedRunnerOptions, mode: TransactionRunnerOptions['mode']): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const bad = (path: string, expected: string, value: unknown, message: string) =>
    issues.push({ path, expected, received: typeName(value), message });
  if (mode !== undefined && (mode === 'cluster') !== o.cluster) {
    const expected = o.cluster
      ? "'cluster' for a Cluster client"
      : "'standalone' or 'sentinel' for a Redis client";
    bad('mode', expected, mode, 'mode does not match the client');
  }
  const { timeoutMs, maxConnections, defaultTtl } = o;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    bad('commandTimeout', 'a positive finite number of ms', timeoutMs, 'out of range');
  }
  if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections) || maxConnections < 1) {
    bad('maxConnections', 'an integer ≥ 1', maxConnections, 'out of range');
  }
  if (defaultTtl !== undefined) {
    try {
      checkTtl(defaultTtl);
    } catch (err) {
      bad('defaultTtl', 'a positive number of ms', defaultTtl, (err as Error).message);
    }
  }
  return issues;
}
