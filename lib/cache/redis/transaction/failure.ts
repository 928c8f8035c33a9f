/**
 * Transaction failures as CacheErrors whose message says what was applied: nothing (the usual
 * case), or — when the reply to EXEC was lost — all or nothing, unknown which.
 */
import type { Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../../core/errors.js';
import { codeOf, toCacheError } from '../errors.js';
import { describeNodes } from '../nodes.js';

export type Phase = 'watch' | 'exec';

/** Passwords found in the client's options, masked out of error messages. */
export function secretsOf(client: Redis | Cluster): string[] {
  const o = client.options as {
    password?: string;
    sentinelPassword?: string;
    redisOptions?: { password?: string };
  };
  return [o.password, o.sentinelPassword, o.redisOptions?.password].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
}

/**
 * Wraps a failure of WATCH/reads (`watch`) or of MULTI/EXEC (`exec`). A cluster redirection also
 * refreshes the client's slot map, so that the next transaction goes to the right node. `key` (a
 * key of the transaction, with the prefix) names its slot and that slot's master in a cluster.
 */
export function txFailure(
  err: unknown,
  phase: Phase,
  client: Redis | Cluster,
  secrets: readonly string[],
  key?: string,
): CacheError {
  if (err instanceof CacheError) return err;
  // A queued command refused by the server (its reply is an error) carries the real reason (OOM,
  // MOVED…, or a protocol error after which the server closed the connection): EXEC then applied
  // nothing (EXECABORT) or never ran. Any other failure of EXEC is its own: a timeout or a lost
  // connection also fails MULTI and the queued command, but their errors say nothing about what
  // the server did with the EXEC.
  const inner = queuedRefusal(err) ?? err;
  const code = codeOf(inner);
  if (client.isCluster && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(String((inner as Error)?.message))) {
    (client as Cluster).refreshSlotsCache();
  }
  const base = toCacheError('transaction', inner, secrets, describeNodes(client, inner, key)).message;
  let message = base;
  if (code === 'oom') {
    // The base already says the server is out of memory and names the node.
    message = `${base} (nothing was applied)`;
  } else if (NOT_SENT.test(String((inner as Error)?.message))) {
    // iovalkey refuses a command at once, without writing it, on a connection whose socket is
    // already ended (the server killed or closed it; iovalkey still says `ready` until 'close'),
    // and MULTI, the script and EXEC are refused together in one synchronous pass. So nothing
    // reached the server: it said "applied completely or not at all", as for a lost reply.
    message = `${base} (the connection was gone before the transaction was sent: nothing was applied)`;
  } else if (phase === 'exec' && (code === 'timeout' || code === 'unavailable') && inner === err) {
    message = `${base} (the reply was lost: the transaction was applied completely or not at all)`;
  } else if (inner !== err || /^EXECABORT\b/.test(String((inner as Error)?.message))) {
    // EXECABORT: the server discarded the transaction (e.g. the ACL user may not run EXEC).
    message = `${base} (nothing was applied)`;
  } else if (phase === 'watch' && /^(ASK|TRYAGAIN)\b/.test(String((inner as Error)?.message))) {
    // WATCH or a read before MULTI answered with a redirection of a slot mid-migration (a watched
    // key already moved to the import target): nothing was sent to apply. The message showed only
    // the bare `ASK <slot> <node>` reply, which did not tell the caller it may simply retry.
    message = `${base} (nothing was applied: the slot is being migrated; retry once it has moved)`;
  }
  return new CacheError(code, message, { cause: err });
}

/** iovalkey's refusal of a command it did not write (its socket was already ended). */
const NOT_SENT = /^Stream isn't writeable\b/;

/** The server's error reply to a command queued before EXEC, if one got one. */
function queuedRefusal(err: unknown): unknown {
  const previous = (err as { previousErrors?: unknown[] } | undefined)?.previousErrors ?? [];
  return previous.find((e) => (e as Error | undefined)?.name === 'ReplyError');
}

/**
 * The `host:port` a cluster's MOVED reply sent a transaction to, when that reply means nothing was
 * applied: WATCH or a read refused (`watch`), or a command refused while queued, so that EXEC
 * aborted (`exec`). `undefined` for anything else.
 */
export function movedTarget(err: unknown, phase: Phase): string | undefined {
  const cause = err instanceof CacheError ? err.cause : err;
  const inner = (cause as { previousErrors?: unknown[] } | undefined)?.previousErrors?.[0];
  if (phase === 'exec' && inner === undefined) return undefined;
  const reply = (inner ?? cause) as Error | undefined;
  const m = /^MOVED \d+ (\S+)/.exec(String(reply?.message ?? ''));
  return m?.[1];
}

/**
 * The `host:port` a cluster's ASK reply (a slot being migrated, the key already on the importing
 * node) sent a queued command to, so that EXEC aborted and applied nothing; `undefined` for
 * anything else.
 */
export function askTarget(err: unknown): string | undefined {
  const cause = err instanceof CacheError ? err.cause : err;
  const inner = (cause as { previousErrors?: unknown[] } | undefined)?.previousErrors?.[0] as
    | Error
    | undefined;
  return /^ASK \d+ (\S+)/.exec(String(inner?.message ?? ''))?.[1];
}
