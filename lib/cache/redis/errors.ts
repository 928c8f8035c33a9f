/** Maps iovalkey / Redis failures to `CacheError` codes, keeping the original as `cause`. */
import { CacheError, type CacheErrorCode } from '../../core/errors.js';
import { RESENT_UNKNOWN } from './deadline.js';
import { ConnectionFaultError, classifyConnectionError, faultError } from './tls.js';

// BUSY: another client's script or function ran past busy-reply-threshold; the server answers
// nothing else until it ends or is killed — a passing outage, not a refusal (it was `backend`,
// the code of an ACL refusal). The command was not run.
// NOREPLICAS: a master with `min-replicas-to-write` refuses writes while too few replicas are
// connected — a passing outage like MASTERDOWN, not applied (it was `backend`).
// `ERR max number of clients reached`: the server's `maxclients` is taken (other programs sharing
// it hold every connection it allows) and it closed a new connection with that reply — the server
// cannot be reached, as a refused TCP connection (a transaction's dedicated connection said
// `backend`, where a command of the cache waiting for its own connection said `unavailable`).
const UNAVAILABLE =
  /^(READONLY|LOADING|MASTERDOWN|NOREPLICAS|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|BUSY)\b|max number of clients reached|Connection is closed|Command aborted due to connection close|Stream isn't writeable|isn't ready|max retries per request|None of startup nodes|All sentinels are unreachable|Failed to refresh slots|Too many Cluster redirections|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|socket/i;

const TOO_LARGE = /^ERR Protocol error: invalid bulk length\b/;

/** The CacheError code for a failure raised by the client or the server. */
export function codeOf(err: unknown): CacheErrorCode {
  if (err instanceof CacheError) return err.code;
  const message = String((err as Error | undefined)?.message ?? err);
  if (/^OOM\b/.test(message)) return 'oom';
  if (/Command timed out/i.test(message)) return 'timeout';
  if (/^CROSSSLOT\b/.test(message)) return 'cross_slot';
  // The server's reply to a bulk string over its `proto-max-bulk-len` (the adapter sends no other
  // malformed bulk): an argument (in practice the value) too large for this server.
  if (TOO_LARGE.test(message)) return 'too_large';
  // The key holds a hash, list… (another program wrote it): that key's value is unreadable here,
  // which is no outage (as `backend` it opened a tiered cache's breaker for every key).
  if (/^WRONGTYPE\b/.test(message)) return 'invalid_value';
  // The server's script cache was emptied under the connection (SCRIPT FLUSH): the guarded write
  // was not applied and is not resent (./deadline.ts); the next one reloads the script.
  if (/^NOSCRIPT\b/.test(message)) return 'unavailable';
  if (message.startsWith(RESENT_UNKNOWN)) return 'unavailable';
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && UNAVAILABLE.test(code)) return 'unavailable';
  if (UNAVAILABLE.test(message)) return 'unavailable';
  return 'backend';
}

/**
 * Wraps `err` as a CacheError for operation `op`. The message names the operation, the node(s)
 * (`where`, see ./nodes.ts) and the first
 * line of the cause with any occurrence of `secrets` masked (iovalkey does not echo passwords,
 * but a server reply or a URL might).
 */
export function toCacheError(
  op: string,
  err: unknown,
  secrets: readonly (string | undefined)[],
  where?: string,
): CacheError {
  if (err instanceof CacheError) return err;
  if (err instanceof ConnectionFaultError) return faultError(op, err.fault, where);
  // A refused AUTH that reaches a command itself: a cluster node whose reconnection is refused (a
  // password rotated on the server) rejects the commands it holds with the server's WRONGPASS.
  // That was `backend` with the bare reply, where standalone and sentinel (and a cluster refused
  // from the start) say `unavailable`, "authentication failed … (check the ACL user)".
  const fault = classifyConnectionError(err);
  if (fault?.kind === 'auth') return faultError(op, fault, where);
  let reason = String((err as Error | undefined)?.message ?? err).split('\n')[0] ?? '';
  // iovalkey's words for a command whose connection dropped before its reply and whose one resend
  // found no connection either. They ended "Refer to "maxRetriesPerRequest" option for details":
  // an option the cache does not take (a ConfigError if passed), so the advice led nowhere.
  reason = plainReason(reason);
  for (const s of secrets) if (s) reason = reason.split(s).join('***');
  if (reason.length > 200) reason = `${reason.slice(0, 200)}…`;
  const code = codeOf(err);
  const at = where ? ` (${where})` : '';
  // Not only a policy that does not evict: under allkeys-* Redis refuses a write whose value it
  // cannot make room for (over about a third of maxmemory: the incoming command is counted too), after
  // evicting every key in trying. "its maxmemory-policy cannot evict" sent such a user to look
  // at a policy that evicts.
  if (code === 'oom') {
    return new CacheError(
      code,
      `redis ${op} failed${at}: the server is out of memory (maxmemory reached and eviction could not make room: the maxmemory-policy does not evict — noeviction, or volatile-* with no key left that has a TTL — or the command needs more memory than evicting every key frees, e.g. a value over about a third of maxmemory): ${reason}`,
      { cause: err },
    );
  }
  if (code === 'too_large') {
    return new CacheError(
      code,
      `redis ${op} failed${at}: a value is larger than the server accepts (its proto-max-bulk-len): ${reason}`,
      { cause: err },
    );
  }
  if (code === 'invalid_value') {
    return new CacheError(
      code,
      `redis ${op} failed${at}: the key holds another Redis type (a hash, list, set… written by another program), not a string value: ${reason}`,
      { cause: err },
    );
  }
  // Redis's own words for these two told neither what to do nor, cut at 200 characters (MISCONF),
  // where to look.
  if (/^BUSY\b/.test(reason)) {
    return new CacheError(
      code,
      `redis ${op} failed${at}: the server is busy running a script or function of another client past its busy-reply-threshold, and runs no other command until it ends or is stopped (SCRIPT KILL / FUNCTION KILL); this one was not applied: ${reason}`,
      { cause: err },
    );
  }
  if (/^MISCONF\b/.test(reason)) {
    return new CacheError(
      code,
      `redis ${op} failed${at}: the server refuses writes because its last background save (RDB) failed and stop-writes-on-bgsave-error is on; reads still work — see the server's log (disk full, directory not writable) and fix it, the next successful save lifts the refusal; not applied: MISCONF ${MISCONF_SHORT}`,
      { cause: err },
    );
  }
  if (/^NOSCRIPT\b/.test(reason)) {
    return new CacheError(
      code,
      `redis ${op} failed${at}: the server's script cache was emptied (SCRIPT FLUSH) while this command was on its way, so it was not applied (the next command loads the script again): ${reason}`,
      { cause: err },
    );
  }
  // A refusal by the ACL. Inside the cache's scripts (every guarded write runs TIME, UNLINK …)
  // Redis does not even name the command ("The user executing the script can't run this
  // command"), so the message says where to look.
  const acl =
    code !== 'backend'
      ? ''
      : SCRIPT_REFUSAL.test(reason)
        ? `${ACL_HINT} — its writes run as Lua scripts calling TIME and UNLINK)`
        : /^(EXECABORT Transaction discarded because of: )?NOPERM\b/.test(reason)
          ? `${ACL_HINT})`
          : '';
  return new CacheError(code, `redis ${op} failed${at}: ${reason}${acl}`, { cause: err });
}

const MISCONF_SHORT =
  'Redis is configured to save RDB snapshots, but it is currently unable to persist to disk';
/**
 * The first line of an iovalkey error in words that lead somewhere: its "Reached the max retries
 * per request limit … Refer to "maxRetriesPerRequest" option" names an option the cache does not
 * take. Also used for the last connection error the gate and `health()` print (./gate.ts).
 */
export function plainReason(reason: string): string {
  return MAX_RETRIES.test(reason)
    ? 'the connection was lost before the reply and could not be made again to resend the command (the server down or restarting?)'
    : reason;
}

const SCRIPT_REFUSAL = /user executing the script can't run this command/;
const MAX_RETRIES = /^Reached the max retries per request limit/;
const ACL_HINT = " (refused by the ACL user's rules: the cache needs those of aclRules()";

/**
 * A command that timed out waiting for a connection whose server is still loading its data (a
 * cluster node restarted with a large dataset, see `nodeLoading` in ./client.ts): `unavailable`
 * with the reason, as the gate says it for the other topologies, where it was `timeout`
 * "Command timed out".
 */
export function loadingTimeoutError(op: string, err: unknown, loading: Error, where: string): CacheError {
  return new CacheError(
    'unavailable',
    `redis ${op} failed (${where}): no reply within the command timeout: ${loading.message}`,
    { cause: err },
  );
}

/** The error of an operation attempted after `close()`. */
export function closedError(op: string): CacheError {
  return new CacheError('closed', `redis ${op} failed: the cache is closed`);
}
