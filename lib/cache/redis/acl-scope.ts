/**
 * What `aclRules` is asked for, and its checks. The rules end up in an `ACL SETUSER` line or a
 * `user` line of redis.conf / an ACL file, so a bad scope must fail here, not in a grant that is
 * wider than meant (an empty prefix is `~*`: every key) or a line Redis reads differently.
 */
import { ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import { optionKeys, unknownKeyMessage, unknownOptionIssues } from '../../core/options.js';
import type { RedisMode } from './connection-options.js';

export interface AclScope {
  /** The cache's `keyPrefix` (required: a user without one could reach every key). */
  keyPrefix: string;
  mode: RedisMode;
  /** Non-zero db in standalone/sentinel mode: adds SELECT. Cluster mode has only db 0. */
  db?: number | undefined;
  /** Invalidation bus channel, when the tiered cache uses the Redis bus. */
  busChannel?: string | undefined;
  /**
   * Lease key prefix, when the tiered cache uses the Redis lease: by default
   * `defaultLeasePrefix(keyPrefix)` (`hyperion:lease:<keyPrefix>`, ./lease.ts), or the lease's own
   * `prefix` option.
   */
  leasePrefix?: string | undefined;
  /** Transactions (`cache.transaction`): WATCH/MULTI/EXEC and PEXPIRE. Default true. */
  transactions?: boolean | undefined;
  /**
   * Server-assisted invalidation (`createRedisTracking`: CLIENT TRACKING with REDIRECT). The
   * tiered tracking tests run it under exactly these rules (spec/cache/tiered/tracking-acl.test.ts).
   */
  tracking?: boolean | undefined;
}

const KNOWN = optionKeys<AclScope>({
  keyPrefix: true,
  mode: true,
  db: true,
  busChannel: true,
  leasePrefix: true,
  transactions: true,
  tracking: true,
});

const MODES: readonly RedisMode[] = ['standalone', 'cluster', 'sentinel'];

/**
 * ACL files and `user` lines separate rules by spaces, with no quoting; a newline would end the
 * line and start another directive. So patterns must have neither whitespace nor control characters.
 */
const UNWRITABLE = /[\s\p{Cc}]/u;

/** Throws one `ConfigError` listing every bad field of `scope` (values never shown, only types). */
export function checkAclScope(scope: unknown): asserts scope is AclScope {
  if (scope === null || typeof scope !== 'object' || Array.isArray(scope))
    throw new ConfigError('aclRules: the scope must be an object', [
      {
        path: '',
        expected: '{ keyPrefix, mode, … }',
        received: typeName(scope),
        message: 'has the wrong type',
      },
    ]);
  const s = scope as Record<keyof AclScope, unknown>;
  const issues: ConfigIssue[] = unknownOptionIssues(scope, KNOWN);
  const bad = (path: keyof AclScope, expected: string, message: string) =>
    issues.push({ path, expected, received: typeName(s[path]), message });
  const pattern = (path: 'keyPrefix' | 'busChannel' | 'leasePrefix', required: boolean) => {
    const v = s[path];
    if (v === undefined && !required) return;
    const expected = 'a non-empty string without whitespace or control characters';
    if (typeof v !== 'string' || v === '')
      bad(path, expected, `${path} must be a non-empty string (an empty one would allow every name)`);
    else if (UNWRITABLE.test(v))
      bad(path, expected, `${path} has whitespace or a control character: no ACL rule can name it`);
  };
  pattern('keyPrefix', true);
  if (!MODES.includes(s.mode as RedisMode))
    bad(
      'mode',
      `one of ${MODES.join(', ')}`,
      typeof s.mode === 'string' ? unknownKeyMessage(s.mode, MODES, 'mode') : 'mode is required',
    );
  if (s.db !== undefined) {
    if (typeof s.db !== 'number' || !Number.isInteger(s.db) || s.db < 0 || s.db > 2 ** 31 - 1)
      bad('db', 'an integer in 0..2147483647', 'db must be a non-negative integer');
    else if (s.mode === 'cluster' && s.db !== 0)
      bad('db', '0 in cluster mode', 'Redis Cluster has only db 0');
  }
  pattern('busChannel', false);
  pattern('leasePrefix', false);
  for (const flag of ['transactions', 'tracking'] as const)
    if (s[flag] !== undefined && typeof s[flag] !== 'boolean')
      bad(flag, 'a boolean', `${flag} must be a boolean`);
  if (issues.length > 0) throw new ConfigError('aclRules: invalid scope', issues);
}
