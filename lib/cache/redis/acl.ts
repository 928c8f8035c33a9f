/**
 * The least-privilege Redis ACL of the adapter: the exact commands, key patterns and channels the
 * cache, the invalidation bus, the loader lease and transactions send, per topology. The tests run
 * the adapter under exactly these rules (and `ACL LOG` stays empty); lib/PRODUCTION.md prints them.
 *
 *   ACL SETUSER app on >password resetkeys resetchannels -@all <aclRules(...).join(' ')>
 */
import { type AclScope, checkAclScope } from './acl-scope.js';

export type { AclScope } from './acl-scope.js';

/** Escapes ACL glob characters in a literal key prefix. */
function glob(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The ACL rules (`ACL SETUSER` arguments after the user name and password) for `scope`. Start
 * from `resetkeys resetchannels -@all` so that nothing else is allowed. A bad scope is a
 * `ConfigError` (see ./acl-scope.ts): rules printed from it would grant too much or not parse.
 */
export function aclRules(scope: AclScope): string[] {
  checkAclScope(scope);
  const rules = ['resetkeys', 'resetchannels', '-@all'];
  // Every connection: AUTH/HELLO are always allowed; INFO is iovalkey's ready check (CLUSTER INFO
  // in a cluster, with CLUSTER SLOTS for the slot map and ASKING for slot migrations), CLIENT
  // SETNAME its connection name, PING/ROLE the health probe, QUIT the graceful close.
  rules.push('+info', '+client|setname', '+ping', '+role', '+quit');
  if (scope.mode !== 'cluster' && scope.db) rules.push('+select');
  // iovalkey sends READONLY on every replica connection it opens (the write-deadline clock
  // measurement and slot refreshes connect to replicas too), whatever `readOnly` says, and
  // READWRITE on such a connection once its node is promoted (a failover): refused, that left an
  // ACL LOG denial on the new master at every failover.
  if (scope.mode === 'cluster')
    rules.push('+cluster|slots', '+cluster|info', '+asking', '+readonly', '+readwrite');
  // The cache: GET, MGET, TYPE (has), PTTL (getManyWithTtl, the tiered cache's reads under tracking), EXISTS (a transaction's size probe); clear() = SCAN MATCH prefix* + UNLINK. Every SET and every delete
  // runs in a deadline script (./deadline.ts: EVALSHA, EVAL when not loaded yet; inside it TIME and
  // SET or UNLINK, which ACLs check too), and TIME measures the server clock on each connection.
  // health()'s write probe is an EVAL of its own (./write-probe.ts).
  rules.push(
    '+get',
    '+set',
    '+unlink',
    '+exists',
    '+type',
    '+mget',
    '+pttl',
    '+scan',
    '+evalsha',
    '+eval',
    '+time',
  );
  if (scope.transactions !== false) rules.push('+watch', '+unwatch', '+multi', '+exec', '+pexpire');
  const keys = [`~${glob(scope.keyPrefix)}*`];
  if (scope.leasePrefix !== undefined) {
    // SET NX PX takes the lease (a GET when refused: its own resent SET may hold it); a Lua
    // script (EVAL) releases it only if still ours: GET + DEL.
    rules.push('+eval', '+del');
    keys.push(`~${glob(scope.leasePrefix)}*`);
  }
  const channels: string[] = [];
  if (scope.busChannel !== undefined) {
    rules.push('+publish', '+subscribe', '+unsubscribe');
    channels.push(`&${glob(scope.busChannel)}`);
  }
  if (scope.tracking) {
    // The subscriber connection: CLIENT ID (the REDIRECT target) and INFO server (run_id), then
    // SUBSCRIBE __redis__:invalidate, PING as heartbeat. The data connection: INFO server, CLIENT
    // TRACKING OFF / ON REDIRECT <id> [BCAST PREFIX <keyPrefix>], CLIENT TRACKINGINFO as heartbeat.
    // (Redis 7.0 checks no key pattern against BCAST PREFIX, nor against the keys it reports.)
    rules.push('+client|tracking', '+client|trackinginfo', '+client|id', '+subscribe');
    channels.push('&__redis__:invalidate');
  }
  return [...new Set([...rules, ...keys, ...channels])];
}

/**
 * Rules for the sentinels' own ACL user (what the sentinel client of iovalkey sends): master
 * address lookup, sentinel list refresh, and the +switch-master subscription of the failover
 * detector. (Sentinels have no QUIT command.)
 */
export function sentinelAclRules(): string[] {
  return [
    'resetkeys',
    'resetchannels',
    '-@all',
    '+sentinel|get-master-addr-by-name',
    '+sentinel|sentinels',
    '+sentinel|replicas',
    '+subscribe',
    '+ping',
    '+client|setname',
    '&+switch-master',
  ];
}
