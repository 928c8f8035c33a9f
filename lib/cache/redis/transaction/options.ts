/** Options of the transaction runner: defaults and eager validation (one ConfigError listing every bad field). */
import type { Cluster, Redis } from 'iovalkey';
import { ConfigError, type ConfigIssue, typeName } from '../../../core/errors.js';
import { checkTtl } from '../checks.js';
import type { TransactionRunnerOptions } from './types.js';

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
