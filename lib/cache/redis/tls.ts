/**
 * TLS and credentials of the Redis connections: checking the `tls` options, and recognising the
 * connection failures that waiting cannot fix — an untrusted, expired or mismatched server
 * certificate, a server that does not speak TLS, a refused client certificate, wrong credentials.
 *
 * iovalkey treats each of them like a dropped connection: it emits 'error' and reconnects, so a
 * command would wait for a connection until its timeout and the client would redial every 50 ms …
 * 1 s for ever. `watchConnectionFaults` listens for them instead: callers waiting for a connection
 * fail at once with a CacheError('unavailable') that names the fault, later callers fail at once
 * too, and reconnection slows to one attempt per `FAULT_RETRY_MS` until a connection succeeds (so a
 * rotated certificate or password is picked up without a restart, and nothing hammers the server).
 */
import { type ConnectionOptions, createSecureContext, TLSSocket } from 'node:tls';
import type { Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { caBundleProblem } from '../../core/pem.js';

/** Cluster node errors kept by a fault watch (the most recent per address). */
const MAX_NODE_ERRORS = 8;

/** Reconnect delay (ms) while the last failure was a fault that retrying soon cannot fix. */
export const FAULT_RETRY_MS = 5000;

/**
 * Longest wait (ms) from TCP connect to the server's first TLS reply (kept below `dialTimeout`: see
 * `handshakeBound`).
 * A plain-text Redis never replies to a TLS ClientHello (it waits for the end of an inline
 * command), so without this bound TLS to a plain port would hang until the dial timeout and then
 * look like a slow network.
 */
export const HANDSHAKE_MS = 2000;

/**
 * The handshake bound of a client whose `dialTimeout` is `dialTimeoutMs`: `HANDSHAKE_MS`, but
 * always a fifth shorter than the dial timeout. iovalkey's own connect timer (the dial timeout, an
 * idle timer that the ClientHello re-arms at TCP connect) ends a TLS connection that got no reply
 * at about the same moment as a bound equal to it, and then only "connect ETIMEDOUT" is seen: with
 * `dialTimeout` ≤ 2 s, TLS to a plain-text port was never diagnosed, and every command waited for
 * the whole command timeout, for ever.
 */
export function handshakeBound(dialTimeoutMs: number, commandTimeoutMs = Infinity): number {
  const beforeCommand = Math.max(HANDSHAKE_FLOOR_MS, Math.floor(commandTimeoutMs * 0.8));
  return Math.max(1, Math.min(HANDSHAKE_MS, Math.floor(dialTimeoutMs * 0.8), beforeCommand));
}

/**
 * The handshake bound is also a fifth shorter than the command timeout (the longest a command
 * waits for a connection), but not below this (ms): at `commandTimeout` ≤ 2 s, TLS to a plain-text
 * port ran out the first command's wait with a bare "not connected within … ms" before the
 * handshake bound named the fault — the first error a user saw said nothing of TLS.
 */
export const HANDSHAKE_FLOOR_MS = 250;

/**
 * Resets right after a TLS handshake, with no connection ready in between, that make a refused
 * client certificate the diagnosis. In TLS 1.3 the client finishes its handshake before the server
 * has checked the client's certificate; a server that refuses it sends an alert and closes. The
 * client's first command (AUTH, or the ready check) often reaches the closed socket first: the
 * reset then fails the write and the alert is never read. Measured against Redis 7 with
 * `tls-auth-clients yes`: the alert surfaced on the first attempt in 3 of 15 fresh clients; the
 * rest saw only resets, for up to 8 s of retries. Two such resets in a row are the refusal.
 */
export const RESETS_AFTER_HANDSHAKE = 2;

/**
 * Resets of plain-text connections, before any connection of the client was ready, that make
 * "the server wants TLS" the diagnosis: a TLS-only Redis resets a plain-text client as soon as its
 * first command arrives. Each attempt used to be redialled and every command waited the whole
 * command timeout, ending in "not connected within … ms: read ECONNRESET".
 */
export const PLAIN_RESETS = 2;

/** Errors of TLS sockets reset after their handshake completed (marked by `watchHandshake`). */
const resetAfterHandshake = new WeakSet<object>();

/** Code of the error a TLS socket is destroyed with when the server never answered the handshake. */
export const NO_TLS_REPLY = 'HYPERION_TLS_NO_REPLY';

export type ConnectionFaultKind =
  | 'tls_untrusted'
  | 'tls_expired'
  | 'tls_hostname'
  | 'tls_not_tls'
  | 'tls_required'
  | 'db'
  | 'tls_client_certificate'
  | 'tls_key'
  | 'auth'
  | 'acl'
  | 'sentinel_acl'
  | 'sentinel_master_unknown';

export interface ConnectionFault {
  readonly kind: ConnectionFaultKind;
  /** What went wrong and what to check, without secrets. */
  readonly reason: string;
  /** The client's error. */
  readonly error: unknown;
}

const UNTRUSTED =
  /SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE|self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate/i;
const EXPIRED = /CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|certificate has expired|certificate is not yet valid/i;
const HOSTNAME =
  /ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames|Hostname\/IP does not match/i;
const NOT_TLS =
  /HYPERION_TLS_NO_REPLY|ERR_SSL_WRONG_VERSION_NUMBER|wrong version number|packet length too long|unknown protocol|http request/i;
const CLIENT_CERT =
  /alert certificate required|alert bad certificate|alert unknown ca|tlsv13 alert|sslv3 alert (bad|unsupported) certificate|peer did not return a certificate/i;
/** The server's alert for a client certificate past its validity (OpenSSL sends it for one not yet valid too). */
const CLIENT_CERT_EXPIRED = /ALERT_CERTIFICATE_EXPIRED|alert certificate expired/i;
const BAD_KEY = /bad decrypt|ERR_OSSL_BAD_DECRYPT|key values mismatch|no start line|PEM routines/i;
const AUTH =
  /WRONGPASS|NOAUTH|invalid username-password pair|invalid password|AUTH failed|user is disabled|ERR AUTH <password> called without/i;

/** The text to classify: message and code of `err` and of the errors it wraps. */
function describe(err: unknown, depth = 0): string {
  if (err === null || err === undefined || depth > 3) return '';
  const e = err as { message?: unknown; code?: unknown; lastNodeError?: unknown; cause?: unknown };
  const own = `${typeof e.code === 'string' ? e.code : ''} ${typeof e.message === 'string' ? e.message : String(err)}`;
  return `${own} ${describe(e.lastNodeError, depth + 1)} ${describe(e.cause, depth + 1)}`;
}

const CLIENT_CERT_REFUSED = {
  kind: 'tls_client_certificate',
  reason:
    'TLS: the server refused the client certificate (mutual TLS: check tls.cert/tls.key and the server CA)',
} as const;

/** The same fault, diagnosed from resets (see RESETS_AFTER_HANDSHAKE): says what was seen. */
const RESET_REASON = `TLS: the server closed ${RESETS_AFTER_HANDSHAKE} connections in a row right after the TLS handshake, before any reply: it most likely refused the client certificate (mutual TLS: check tls.cert/tls.key and the server CA)`;

/** The fault `err` reports, or `undefined` for failures a reconnect may fix (refused, reset, …). */
export function classifyConnectionError(err: unknown): ConnectionFault | undefined {
  const text = describe(err);
  const fault = (kind: ConnectionFaultKind, reason: string): ConnectionFault => ({
    kind,
    reason,
    error: err,
  });
  if (EXPIRED.test(text))
    return fault('tls_expired', 'TLS: the server certificate has expired (or is not yet valid)');
  if (HOSTNAME.test(text))
    return fault(
      'tls_hostname',
      'TLS: the server certificate does not name the host connected to (check its subjectAltName, or tls.servername)',
    );
  if (UNTRUSTED.test(text))
    return fault(
      'tls_untrusted',
      'TLS: the server certificate is not signed by a trusted CA (check tls.ca: wrong CA?)',
    );
  if (NOT_TLS.test(text))
    return fault('tls_not_tls', 'TLS: the server did not answer with TLS (a plain-text port?)');
  if (CLIENT_CERT_EXPIRED.test(text))
    return fault(
      'tls_client_certificate',
      'TLS: the server refused the client certificate: it has expired or is not yet valid (mutual TLS: renew tls.cert)',
    );
  if (CLIENT_CERT.test(text)) return fault(CLIENT_CERT_REFUSED.kind, CLIENT_CERT_REFUSED.reason);
  if (BAD_KEY.test(text))
    return fault(
      'tls_key',
      'TLS: the client key cannot be used (wrong passphrase, or key and certificate do not match)',
    );
  if (AUTH.test(text))
    return fault(
      'auth',
      'authentication failed: the server refused the username/password (check the ACL user)',
    );
  return undefined;
}

/**
 * `fault` as met by a data-node connection in sentinel mode. The sentinels' faults said "at a
 * sentinel", the master's said only "the server refused the username/password", under a location
 * naming the sentinels (`master "m" via sentinels …`, the master's address not being known while
 * it refuses): a user could not tell that the master, not a sentinel, had refused.
 */
function atMaster(fault: ConnectionFault): ConnectionFault {
  const reason =
    fault.kind === 'auth'
      ? "authentication failed at the master: it refused the username/password (check username and password; sentinel.username and sentinel.password are the sentinels' own)"
      : `at the master: ${fault.reason}`;
  return { ...fault, reason };
}

/** iovalkey's error when no sentinel answered (its last error follows). */
const SENTINELS_FAILED = /All sentinels are unreachable/;

/**
 * `fault` as seen on a sentinel connection: a sentinel deployment has two sets of credentials
 * and TLS settings (`sentinel.username`/`password`/`tls` and the data nodes'), and the same
 * message for both left the user guessing which one was wrong.
 */
function atSentinel(fault: ConnectionFault): ConnectionFault {
  const reason =
    fault.kind === 'auth'
      ? 'authentication failed at a sentinel: it refused the sentinel username/password (check sentinel.username and sentinel.password)'
      : // A run of fields (`tls.cert/tls.key`) is named for both sides whole: field by field it read
        // "check sentinel.tls.cert or tls.cert/sentinel.tls.key or tls.key".
        `at a sentinel: ${fault.reason.replace(/\btls\.\w+(?:\/tls\.\w+)*/g, (run) => `${run.replace(/\btls\./g, 'sentinel.tls.')} or ${run}`)}`;
  return { ...fault, reason };
}

/**
 * `classifyConnectionError` for an error a connection of the bus or the tracker (over `client`) reports: iovalkey's
 * "All sentinels are unreachable … Last error: …" is told as met at a sentinel, as the cache does.
 */
export function classifyClientError(err: unknown, client?: Redis | Cluster): ConnectionFault | undefined {
  const fault = classifyConnectionError(err);
  if (!fault) return undefined;
  if (SENTINELS_FAILED.test(describe(err)))
    return withMissingPassword(atSentinel(fault), err, client, 'sentinel');
  return client && isSentinelClient(client)
    ? withMissingPassword(atMaster(fault), err, client, 'master')
    : withMissingPassword(fault, err, client, 'server');
}

/** A client of a sentinel-managed master (iovalkey's `sentinels` option). */
function isSentinelClient(client: Redis | Cluster): boolean {
  return !client.isCluster && ((client as Redis).options.sentinels?.length ?? 0) > 0;
}

/**
 * A sentinel's refusal to name the master: its ACL user lacks a rule the client needs (NOPERM), or
 * it monitors no master by that name. Both are settings, not outages.
 */
export function classifySentinelReply(err: unknown): ConnectionFault | undefined {
  const text = describe(err);
  const noperm = /NOPERM[^\n.]*/.exec(text)?.[0];
  if (noperm)
    return {
      kind: 'sentinel_acl',
      reason: `ACL: a sentinel refused a command the client needs (${noperm.trim()}): give sentinel.username the rules of sentinelAclRules()`,
      error: err,
    };
  if (/No such master with that name/i.test(text))
    return {
      kind: 'sentinel_master_unknown',
      reason: 'the sentinels monitor no master by that name (check sentinel.masterName)',
      error: err,
    };
  return undefined;
}

/** A refused `SELECT` (iovalkey's connect sends it when `db` ≠ 0): the error iovalkey emits. */
function isSelectRefusal(err: unknown): boolean {
  const name = (err as { command?: { name?: unknown } } | null)?.command?.name;
  return typeof name === 'string' && name.toLowerCase() === 'select';
}

/**
 * A refused SELECT: iovalkey only emits it as an 'error' and goes on with the connection in db 0,
 * so every command read and wrote db 0 — silently, with `health()` ok — when `db` was beyond the
 * server's `databases` (or its ACL user lacked `+select`). The guard (`guardNode`) closes such a
 * connection; this names the fault.
 */
function selectFault(err: unknown): ConnectionFault | undefined {
  if (!isSelectRefusal(err)) return undefined;
  const args = (err as { command?: { args?: unknown[] } }).command?.args;
  const db = Array.isArray(args) ? String(args[0]) : '?';
  const reason = String((err as Error).message ?? err).split('\n')[0];
  return {
    kind: 'db',
    reason: `the server refused SELECT ${db} (${reason}): check db against the server's databases setting (and the ACL user's +select); no command is sent to another database`,
    error: err,
  };
}

/** Commands whose arguments carry credentials. */
const CREDENTIAL_COMMANDS = /^(auth|hello|migrate)$/i;

/**
 * iovalkey attaches the failed command to a reply error (`err.command = { name, args }`), so a
 * refused AUTH carries the password in its arguments — and the same error object becomes the
 * `cause` of every command rejected with it and reaches loggers. This replaces those arguments in
 * place (in `err` and the errors it wraps). The fault watch calls it from its 'error' listener,
 * which iovalkey runs before the rejected commands' handlers.
 */
export function scrubCredentials(err: unknown, depth = 0): void {
  if (err === null || typeof err !== 'object' || depth > 3) return;
  const e = err as { command?: { name?: unknown; args?: unknown }; cause?: unknown; lastNodeError?: unknown };
  const cmd = e.command;
  if (cmd && typeof cmd.name === 'string' && CREDENTIAL_COMMANDS.test(cmd.name) && Array.isArray(cmd.args))
    cmd.args = cmd.args.map(() => '[redacted]');
  scrubCredentials(e.cause, depth + 1);
  scrubCredentials(e.lastNodeError, depth + 1);
}

/**
 * What a command that iovalkey held for resending is rejected with when a fault stops the
 * reconnection (see `abandonResends` in ./gate.ts); `toCacheError` turns it into `faultError`.
 */
export class ConnectionFaultError extends Error {
  constructor(readonly fault: ConnectionFault) {
    super(fault.reason, { cause: fault.error });
    this.name = 'ConnectionFaultError';
  }
}

/** The CacheError for an operation refused because of `fault`. */
export function faultError(op: string, fault: ConnectionFault, where?: string): CacheError {
  scrubCredentials(fault.error);
  const at = where ? ` (${where})` : '';
  return new CacheError('unavailable', `redis ${op} failed${at}: ${fault.reason}`, { cause: fault.error });
}

export interface FaultWatch {
  /** The fault of the last failed connection attempt, until a connection becomes ready. */
  current(): ConnectionFault | undefined;
  /**
   * A hint for a "not connected" message: when a plain-text client is being reset (what a TLS-only
   * server does to it), suggests `tls`; `''` otherwise.
   */
  hint(): string;
  /** Calls `fn` on each new fault; returns the function that stops. */
  onFault(fn: (fault: ConnectionFault) => void): () => void;
  /** Reconnect delay: `FAULT_RETRY_MS` while faulted, else `normal(times)`. */
  retryDelay(normal: (times: number) => number): (times: number) => number;
  /**
   * Start listening to `client` (in a cluster, also to its nodes' errors) and bound the TLS
   * handshakes of its connections. Call before its first connection attempt.
   */
  attach(client: Redis | Cluster): void;
  /** Stops listening. */
  detach(): void;
  /**
   * Cluster: the last error of each node's connections (its own and the duplicates iovalkey opens
   * to read the slot map), by `host:port`, since the client was last ready. The cluster client
   * itself reports a refresh that no node answered only as "Failed to refresh slots cache.".
   */
  nodeErrors(): ReadonlyMap<string, Error>;
}

/**
 * Tracks permanent connection faults of a client. Create it before the client (its retry delay
 * goes into the client's options), then `attach` it.
 */
export function createFaultWatch(options: {
  handshakeTimeoutMs: number;
  tls: boolean;
  /** TLS to the sentinels (sentinel mode). Default: as `tls`. */
  sentinelTls?: boolean | undefined;
}): FaultWatch {
  // TLS to the data nodes and to the sentinels: also that of an injected client (see `attach`).
  let tls = options.tls;
  let sentinelTls = options.sentinelTls ?? options.tls;
  let fault: ConnectionFault | undefined;
  let resetWithoutTls = false;
  let client: Redis | Cluster | undefined;
  const listeners = new Set<(f: ConnectionFault) => void>();
  // TLS connections reset right after their handshake since the last ready connection.
  let resets = 0;
  // Plain-text connections reset in a row, while no connection was ever ready (see PLAIN_RESETS):
  // to the data nodes, and to the sentinels.
  let plainResets = 0;
  let sentinelResets = 0;
  /**
   * The run of resets after `err`. iovalkey also reports each failed attempt in words, without an
   * error code ("Connection is closed.", "Failed to refresh slots cache.", "All sentinels are
   * unreachable …"): those neither count nor end the run. With them ending it, a cluster (whose
   * own events carry only those words between its nodes' resets) and the sentinels were never
   * diagnosed: plain text to TLS-only nodes or sentinels waited the whole command timeout, ending
   * in "not connected … ECONNRESET" or "Connection is closed".
   */
  const run = (count: number, err: unknown): number => {
    const code = (err as { code?: unknown } | null)?.code;
    return code === 'ECONNRESET' ? count + 1 : typeof code === 'string' ? 0 : count;
  };
  const raise = (f: ConnectionFault) => {
    fault = f;
    faultedSinceConnect = true;
    for (const fn of listeners) fn(f);
  };
  let everReady = false;
  // A fault raised on the current connection (since its 'connect'): see onReady.
  let faultedSinceConnect = false;
  // One argument only: 'node error' passes the node's address second.
  const onError = (err: unknown) => handle(err, false);
  const handle = (err: unknown, fromSentinel: boolean) => {
    scrubCredentials(err);
    const reset = (err as { code?: unknown } | null)?.code === 'ECONNRESET';
    resetWithoutTls = !tls && reset;
    if (fromSentinel) {
      if (!sentinelTls) sentinelResets = run(sentinelResets, err);
    } else if (!tls) plainResets = run(plainResets, err);
    const sentinelSide = fromSentinel || SENTINELS_FAILED.test(describe(err));
    let f = classifyConnectionError(err) ?? selectFault(err);
    if (!f && typeof err === 'object' && err !== null && resetAfterHandshake.has(err))
      if (++resets >= RESETS_AFTER_HANDSHAKE)
        f = { ...CLIENT_CERT_REFUSED, reason: RESET_REASON, error: err };
    if (!f && resetWithoutTls && !everReady && !sentinelSide && plainResets >= PLAIN_RESETS)
      f = {
        kind: 'tls_required',
        reason: `the server reset ${plainResets} plain-text connections in a row before any reply: a TLS-only port? (set \`tls\`)`,
        error: err,
      };
    if (f && sentinelSide) f = atSentinel(f);
    if (!f && fromSentinel && reset && !sentinelTls && !everReady && sentinelResets >= PLAIN_RESETS)
      f = {
        kind: 'tls_required',
        reason: `the sentinels reset ${sentinelResets} plain-text connections in a row before any reply: TLS-only sentinels? (set \`sentinel.tls\` or \`tls\`)`,
        error: err,
      };
    // Sentinel replies that no retry fixes (iovalkey retried every ~0.5 s until the command timeout).
    if (!f && sentinelSide) f = classifySentinelReply(err);
    // A command a connection needs before it can serve (CLUSTER SLOTS …) refused by the ACL: the
    // cluster client retried it until the command timeout, which then said only "not connected".
    const noperm = f ? undefined : /NOPERM[^\n.]*/.exec(describe(err))?.[0];
    if (noperm)
      f = {
        kind: 'acl',
        reason: `ACL: the server refused a command the client needs to connect (${noperm.trim()}): give the user the rules of aclRules()`,
        error: err,
      };
    if (!f) return;
    const atMasterSide = !sentinelSide && client !== undefined && isSentinelClient(client);
    if (atMasterSide) f = atMaster(f);
    f = withMissingPassword(f, err, client, sentinelSide ? 'sentinel' : atMasterSide ? 'master' : 'server');
    raise(f);
  };
  const onConnect = () => {
    faultedSinceConnect = false;
  };
  const onReady = () => {
    // A refused AUTH leaves the connection logged in as the server's default user; when that user
    // is open (no requirepass), iovalkey's ready check passes and 'ready' follows the refusal on
    // the connection iovalkey is already closing. That is no recovery: the fault stays (it used to
    // be cleared, so the client redialled every ~200 ms instead of every FAULT_RETRY_MS).
    if (faultedSinceConnect) return;
    nodeErrors.clear();
    everReady = true;
    plainResets = 0;
    sentinelResets = 0;
    fault = undefined;
    resetWithoutTls = false;
    resets = 0;
  };
  const onSentinelError = (err: unknown) => handle(err, true);
  const nodeErrors = new Map<string, Error>();
  const recordNodeError = (node: Redis, err: unknown) => {
    const { host, port } = node.options;
    if (!(err instanceof Error) || port === undefined) return;
    const address = `${host ?? '127.0.0.1'}:${port}`;
    nodeErrors.delete(address);
    nodeErrors.set(address, err);
    if (nodeErrors.size > MAX_NODE_ERRORS) nodeErrors.delete(nodeErrors.keys().next().value!);
    // A cluster's nodes' resets reach only here (its own events say "Connection is closed."). A
    // standalone client's errors go through `handle` already.
    if (!client?.isCluster || tls) return;
    plainResets = run(plainResets, err);
    if (
      !everReady &&
      !fault &&
      (err as { code?: unknown }).code === 'ECONNRESET' &&
      plainResets >= PLAIN_RESETS
    )
      raise({
        kind: 'tls_required',
        reason: `the cluster nodes reset ${plainResets} plain-text connections in a row before any reply: TLS-only nodes? (set \`tls\`)`,
        error: err,
      });
  };
  const sink: FaultSink = {
    error: onError,
    sentinel: onSentinelError,
    node: recordNodeError,
    handshakeMs: options.handshakeTimeoutMs,
    state: () => ({ fault, faultedSinceConnect, everReady }),
  };
  // The watches of every cache over the client (see FaultSink): set by `attach`.
  let sinks: Set<FaultSink> = new Set();
  const guard = (node: Redis) => guardNode(node, options.handshakeTimeoutMs, sinks, 'data');
  return {
    current: () => fault,
    hint: () =>
      resetWithoutTls ? ' (a TLS-only server resets plain-text connections: is `tls` needed?)' : '',
    onFault(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    // A diagnosis from resets is a guess (a proxy with no backend resets too): it does not slow
    // reconnection.
    retryDelay: (normal) => (times) =>
      fault && fault.kind !== 'tls_required' ? FAULT_RETRY_MS : normal(times),
    attach(c) {
      client = c;
      // An injected client has TLS settings of its own (the cache's `tls` option is then unset):
      // taken as plain text, a TLS client whose certificate the server refused (its connections
      // reset after the handshake) was told "a TLS-only port? (set `tls`)".
      const own = clientTls(c);
      tls ||= own.data;
      sentinelTls ||= own.sentinel;
      const first = !sinksByClient.has(c);
      sinks = sinksByClient.get(c) ?? new Set();
      sinksByClient.set(c, sinks);
      // A cache made over a client that is faulted already (e.g. `createRedisCache({ client:
      // first.client })` while the password is wrong) learns it from the other caches' watches:
      // it knew only faults met from then on, so its commands waited the whole command timeout
      // for a bare "not connected" (the next attempt being up to FAULT_RETRY_MS away).
      for (const other of sinks) {
        const known = other.state();
        everReady ||= known.everReady;
        if (!fault && known.fault) {
          fault = known.fault;
          faultedSinceConnect = known.faultedSinceConnect;
        }
      }
      sinks.add(sink);
      c.on('error', onError);
      c.on('ready', onReady);
      if (!c.isCluster) c.on('connect', onConnect);
      if (c.isCluster) {
        c.on('node error', onError);
        c.on('+node', guard);
        if (first) reportReadyCheckErrors(c as Cluster, sinks);
        for (const node of (c as Cluster).nodes('all')) guard(node);
      } else guard(c as Redis);
    },
    detach() {
      if (!client) return;
      sinks.delete(sink);
      client.off('error', onError);
      client.off('ready', onReady);
      client.off('connect', onConnect);
      if (client.isCluster) {
        client.off('node error', onError);
        client.off('+node', guard);
      }
      listeners.clear();
    },
    nodeErrors: () => nodeErrors,
  };
}

/** Whether `client` speaks TLS to its data nodes and to its sentinels (iovalkey's options). */
function clientTls(client: Redis | Cluster): { data: boolean; sentinel: boolean } {
  if (client.isCluster) {
    const redisOptions = (client as Cluster).options.redisOptions as { tls?: unknown } | undefined;
    return { data: Boolean(redisOptions?.tls), sentinel: false };
  }
  const o = (client as Redis).options;
  if (!isSentinelClient(client)) return { data: Boolean(o.tls), sentinel: false };
  return { data: Boolean(o.enableTLSForSentinelMode && o.tls), sentinel: Boolean(o.sentinelTLS) };
}

/** Whether `client` has a password for its data nodes and for its sentinels. */
function clientPasswords(client: Redis | Cluster): { data: boolean; sentinel: boolean } {
  const given = (v: unknown) => typeof v === 'string' && v !== '';
  if (client.isCluster) {
    const redisOptions = (client as Cluster).options.redisOptions as { password?: unknown } | undefined;
    return { data: given(redisOptions?.password), sentinel: false };
  }
  const o = (client as Redis).options;
  return { data: given(o.password), sentinel: given(o.sentinelPassword) };
}

/** Whether `client` has a user name for its data nodes and for its sentinels. */
function clientUsernames(client: Redis | Cluster): { data: boolean; sentinel: boolean } {
  const given = (v: unknown) => typeof v === 'string' && v !== '';
  if (client.isCluster) {
    const redisOptions = (client as Cluster).options.redisOptions as { username?: unknown } | undefined;
    return { data: given(redisOptions?.username), sentinel: false };
  }
  const o = (client as Redis).options;
  return { data: given(o.username), sentinel: given(o.sentinelUsername) };
}

/** The server's reply to a command sent without logging in where a password is required. */
const NOT_LOGGED_IN = /NOAUTH|Authentication required/i;

/**
 * An `auth` fault met by a client that has no password for that side (data nodes or sentinels):
 * a user name given alone, or the server asked for one (NOAUTH) and none was sent. "the server refused the username/password"
 * sent such a user to check a password they had never set. With a password given, a NOAUTH can
 * follow a refused one on the same connection, so the message stays as it was.
 */
function withMissingPassword(
  fault: ConnectionFault,
  err: unknown,
  client: Redis | Cluster | undefined,
  side: 'sentinel' | 'master' | 'server',
): ConnectionFault {
  if (fault.kind !== 'auth' || !client) return fault;
  const passwords = clientPasswords(client);
  if (side === 'sentinel' ? passwords.sentinel : passwords.data) return fault;
  // A user name without a password (`redis://alice@host:6379`, `username` alone) logs in as
  // `AUTH alice ""`, which only an ACL user with `nopass` accepts: "the server refused the
  // username/password" sent such a user to check a password they had never given.
  if (side === 'sentinel' ? clientUsernames(client).sentinel : clientUsernames(client).data) {
    const rule = 'only an ACL user with nopass logs in with a user name alone';
    return {
      ...fault,
      reason:
        side === 'sentinel'
          ? `authentication failed at a sentinel: it refused sentinel.username without a password (${rule}: set sentinel.password)`
          : side === 'master'
            ? `authentication failed at the master: it refused the username without a password (${rule}: set password; sentinel.password is the sentinels' own)`
            : `authentication failed: the server refused the username without a password (${rule}: set password)`,
    };
  }
  if (!NOT_LOGGED_IN.test(describe(err))) return fault;
  const reason =
    side === 'sentinel'
      ? 'authentication failed at a sentinel: it requires a password and none was given (set sentinel.password, and sentinel.username for an ACL user)'
      : side === 'master'
        ? "authentication failed at the master: it requires a password and none was given (set password, and username for an ACL user; sentinel.password is the sentinels' own)"
        : 'authentication failed: the server requires a password and none was given (set password, and username for an ACL user)';
  return { ...fault, reason };
}

/**
 * A cluster client's ready check (`CLUSTER INFO`) that fails makes iovalkey disconnect and retry
 * without an 'error' event: an ACL user without `+cluster|info` left every command waiting the
 * command timeout with a bare "not connected". Its error goes to the watches of the client too
 * (wrapped once per client: a layer per cache ever made over a shared client used to pile up,
 * each keeping its watch). iovalkey's ready check is not typed API: if it is missing, nothing is
 * wrapped.
 */
function reportReadyCheckErrors(cluster: Cluster, sinks: ReadonlySet<FaultSink>): void {
  type Check = (callback: (err?: unknown, fail?: unknown) => void) => void;
  const c = cluster as unknown as { readyCheck?: Check };
  const check = c.readyCheck;
  if (typeof check !== 'function') return;
  c.readyCheck = (callback) =>
    check.call(cluster, (err, fail) => {
      if (err) each(sinks, (s) => s.error(err));
      callback(err, fail);
    });
}

type Guarded = { __hyperionGuard?: true | undefined };

/**
 * Where the guard of a client's connections (`guardNode`) sends their errors: the fault watch of
 * each cache open over the client. A client is guarded once for good (its connector and
 * `duplicate` wrapped), but one client may serve many caches; the guard's closures used to be
 * bound to the first cache's watch alone, so the other caches never saw what only the guard sees
 * (a cluster's slot-map connections refused for a wrong CA, its nodes' resets by TLS-only ports,
 * the sentinel lookups): they waited the whole command timeout for a bare "not connected", and
 * once the first cache was closed none diagnosed it — while the client kept that closed cache's
 * watch alive. Each watch joins its client's set on `attach` and leaves it on `detach`.
 */
interface FaultSink {
  /** An error of a data connection that iovalkey does not report on the client (duplicates). */
  error(err: unknown): void;
  /** An error of a sentinel connection. */
  sentinel(err: unknown): void;
  /** Every error of a data node's own connection. */
  node(node: Redis, err: unknown): void;
  /** The handshake bound of the watch's cache (`handshakeBound` of its timeouts). */
  readonly handshakeMs: number;
  /** What the watch knows of the client's connection (see `attach`). */
  state(): { fault: ConnectionFault | undefined; faultedSinceConnect: boolean; everReady: boolean };
}

const sinksByClient = new WeakMap<Redis | Cluster, Set<FaultSink>>();

/**
 * The handshake bound of a new connection: the shortest of the caches open over the client (so
 * that each cache's first command gets the TLS fault before its own command timeout: the bound
 * was the first cache's, and a cache with a shorter `commandTimeout` over the same client got a
 * bare "not connected within … ms"), else `fallback`.
 */
function shortestBound(sinks: ReadonlySet<FaultSink>, fallback: number): number {
  let ms = Infinity;
  for (const s of sinks) ms = Math.min(ms, s.handshakeMs);
  return Number.isFinite(ms) ? ms : fallback;
}

/**
 * The connection fault a cache open over `client` knows of, if any: for the users of the client
 * that keep no fault watch of their own (the lease).
 */
export function knownFault(client: Redis | Cluster): ConnectionFault | undefined {
  for (const s of sinksByClient.get(client) ?? []) {
    const fault = s.state().fault;
    if (fault) return fault;
  }
  return undefined;
}

/** Calls `fn` on each sink (a copy: a sink may leave while its turn runs). */
function each(sinks: ReadonlySet<FaultSink>, fn: (sink: FaultSink) => void): void {
  for (const s of [...sinks]) fn(s);
}

/**
 * Bounds the TLS handshake of every connection `node` opens — and of its duplicates, which
 * iovalkey makes for the cluster slot refresh, pub/sub and transactions: a TLS socket that is
 * connected but has no TLS session `shortestBound(sinks, ms)` later is destroyed with a
 * NO_TLS_REPLY error. Errors go to the `sinks` of the client, as `side` (data or sentinel) errors;
 * duplicates' errors too (iovalkey's own slot-refresh duplicate ignores them and reports only
 * "Connection is closed", which would hide a certificate error). Wraps the connector and
 * `duplicate` (the connector is not part of iovalkey's typed API: if its shape changes, the guard
 * is skipped and a plain port surfaces at the dial timeout instead).
 */
/** How long the disconnect of a sentinel lookup client waits for its socket to close (ms). */
const SENTINEL_DISCONNECT_MS = 100;

function guardNode(node: Redis, ms: number, sinks: ReadonlySet<FaultSink>, side: 'data' | 'sentinel'): void {
  const n = node as unknown as Guarded & { connector?: Guarded & { connect?: unknown } };
  if (n.__hyperionGuard) return;
  n.__hyperionGuard = true;
  node.on('error', (err: unknown) => {
    if (isSelectRefusal(err)) node.disconnect(true);
  });
  if (side === 'data') node.on('error', (err: unknown) => each(sinks, (s) => s.node(node, err)));
  const connector = n.connector as (Guarded & { connect?: unknown; connectToSentinel?: unknown }) | undefined;
  if (connector && typeof connector.connectToSentinel === 'function') {
    // Sentinel mode: the short-lived clients that ask a sentinel for the master, and the failover
    // detector's subscriptions. iovalkey ignores the first ones' errors (a wrong CA would only
    // read "Connection is closed") and leaves the second ones without an error listener.
    // The first ones connect in their constructor, before a guard could wrap their connector (TLS
    // to a plain-text sentinel then waited for the command timeout): they are made lazy here,
    // guarded, then connected as iovalkey would have.
    // disconnectTimeout: iovalkey disconnects each lookup client after its answer (or refusal)
    // with a ref'd wait for the socket to close, 2 s by default, also when it closed already:
    // with no sentinel answering, a closed cache's process stayed alive ~2 s.
    const toSentinel = (connector.connectToSentinel as (e: unknown, o?: object) => Redis).bind(connector);
    connector.connectToSentinel = (endpoint: unknown, opts?: { lazyConnect?: boolean }) => {
      const sentinel = toSentinel(endpoint, {
        disconnectTimeout: SENTINEL_DISCONNECT_MS,
        ...opts,
        lazyConnect: true,
      });
      sentinel.on('error', (err: unknown) => each(sinks, (s) => s.sentinel(err)));
      endBetweenAttempts(sentinel);
      guardNode(sentinel, ms, sinks, 'sentinel');
      if (!opts?.lazyConnect) sentinel.connect().catch(() => {});
      return sentinel;
    };
  }
  // A sentinel connection's first command (the master lookup, the failover detector's SUBSCRIBE)
  // has the sentinel command timeout, half the cache's: with the cache's bound (2 s from
  // `commandTimeout` 2.5 s on) the lookup timed out first, and TLS to a plain-text sentinel read
  // only "All sentinels are unreachable … Last error: Command timed out", for ever — also at the
  // default 3 s command timeout.
  const bound = () =>
    side === 'sentinel' ? belowCommandTimeout(shortestBound(sinks, ms), node) : shortestBound(sinks, ms);
  if (connector && typeof connector.connect === 'function') {
    const connect = (connector.connect as (...a: unknown[]) => Promise<unknown>).bind(connector);
    connector.connect = (...args: unknown[]) =>
      connect(...args).then((stream) => {
        if (stream instanceof TLSSocket) watchHandshake(stream, bound());
        return stream;
      });
    // An injected client has begun its first connection already: iovalkey connects in its
    // constructor, before a cache could wrap the connector, and stores the socket later (a tick
    // later; in sentinel mode once a sentinel named the master). Unwatched, TLS to a plain-text
    // port waited iovalkey's connect timeout (10 s by default), so every cache's first commands
    // failed with a bare "not connected within … ms"; and that first connection's reset after the
    // handshake went unmarked (see RESETS_AFTER_HANDSHAKE).
    watchStoredSockets(connector, bound);
  }
  const duplicate = node.duplicate.bind(node);
  node.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    copy.on('error', (err: unknown) =>
      each(sinks, (s) => (side === 'data' ? s.error(err) : s.sentinel(err))),
    );
    guardNode(copy, ms, sinks, side);
    return copy;
  };
}

/**
 * Makes `disconnect()` of a sentinel client that is between reconnect attempts end it. iovalkey
 * then only clears the reconnect timer: with no socket left to close, the client stays
 * 'reconnecting' for ever and the commands in its offline queue are never rejected — the failover
 * detector's SUBSCRIBE to a sentinel that is down kept its ref'd command timer, so a process whose
 * cache was closed stayed alive up to the command timeout (~1 s at `commandTimeout: 1000`, 3 s by
 * default) whenever one sentinel was down. Relies on iovalkey's private `flushQueue` and
 * `setStatus` (skipped if they are missing).
 */
function endBetweenAttempts(sentinel: Redis): void {
  const c = sentinel as unknown as {
    flushQueue?: (err: Error) => void;
    setStatus?: (status: string) => void;
  };
  if (typeof c.flushQueue !== 'function' || typeof c.setStatus !== 'function') return;
  const disconnect = sentinel.disconnect.bind(sentinel);
  sentinel.disconnect = (reconnect?: boolean) => {
    const between = sentinel.status === 'reconnecting';
    disconnect(reconnect);
    if (!between || reconnect) return;
    c.setStatus?.call(sentinel, 'end');
    c.flushQueue?.call(sentinel, new Error('Connection is closed.'));
  };
}

/**
 * Watches the handshake of each TLS socket the connector stores (its `stream`, not typed API:
 * left alone unless it is a plain data property).
 */
function watchStoredSockets(connector: object, ms: () => number): void {
  const held = Object.getOwnPropertyDescriptor(connector, 'stream');
  if (held && !(held.writable && held.configurable)) return;
  let stream: unknown = held?.value;
  if (stream instanceof TLSSocket) watchHandshake(stream, ms());
  Object.defineProperty(connector, 'stream', {
    configurable: true,
    enumerable: true,
    get: () => stream,
    set(value: unknown) {
      stream = value;
      if (value instanceof TLSSocket) watchHandshake(value, ms());
    },
  });
}

/**
 * `ms`, but a fifth shorter than `node`'s own command timeout (if it has one), so that the
 * handshake bound, not the command timer, ends a connection that got no TLS reply.
 */
function belowCommandTimeout(ms: number, node: Redis): number {
  const timeout = node.options.commandTimeout;
  if (typeof timeout !== 'number' || !(timeout > 0)) return ms;
  return Math.max(1, Math.min(ms, Math.floor(timeout * 0.8)));
}

/** Sockets `watchHandshake` watches already. */
const watched = new WeakSet<TLSSocket>();

function watchHandshake(socket: TLSSocket, ms: number): void {
  if (watched.has(socket)) return;
  watched.add(socket);
  let timer: NodeJS.Timeout | undefined;
  const done = () => clearTimeout(timer);
  const start = () => {
    timer = setTimeout(() => {
      // After the I/O of this loop turn: a reply that arrived while the event loop was blocked
      // (the timer then fires late, before the socket is read) is no silence.
      setImmediate(() => {
        if (secured || socket.destroyed || socket.bytesRead > 0) return;
        const err = new Error(
          `TLS: no TLS reply within ${ms} ms of connecting (is this a plain-text port?)`,
        ) as Error & { code: string };
        err.code = NO_TLS_REPLY;
        socket.destroy(err);
        // Not unref'd: an unref'd immediate does not wake a poll phase waiting for I/O, and ran
        // only at the next event (~1 s late in the cluster TLS test).
      });
    }, ms);
    timer.unref();
  };
  let secured = false;
  socket.once('secureConnect', () => {
    secured = true;
    done();
  });
  socket.once('close', done);
  // Runs before iovalkey's own listener (attached once the connector returned the socket), so the
  // fault watch sees the mark when iovalkey re-emits this error on the client.
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (secured && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) resetAfterHandshake.add(err);
  });
  // The connector hands the socket over right after creating it, so it is still connecting; a
  // socket already connected is left alone (its handshake may be over).
  if (socket.connecting) socket.once('connect', start);
}

/** Records one bad field (the options module's collector). */
type Bad = (path: string, expected: string, value: unknown, message: string) => void;

const PEM_FIELDS = ['ca', 'cert', 'key'] as const;

function isPem(v: unknown): boolean {
  if (typeof v === 'string' || v instanceof Uint8Array) return true;
  return Array.isArray(v) && v.every((x) => typeof x === 'string' || x instanceof Uint8Array);
}

/**
 * A `ca` with no text at all: `''`, blank text, an empty Buffer or a list of only such. Node reads
 * `ca: ''` as no `ca` and trusts the system CAs instead of the private CA meant (an unset variable
 * `ca: process.env.REDIS_CA ?? ''`, an empty inline `ca: ""` or HYPERION__…__TLS__CA override), so
 * a server with any publicly trusted certificate for the host was accepted; the other empty forms
 * trust nothing and failed later as "wrong CA?". Refused at creation instead.
 */
export function isEmptyCa(v: unknown): boolean {
  const blank = (x: unknown) =>
    (typeof x === 'string' && x.trim() === '') ||
    (x instanceof Uint8Array &&
      Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('latin1').trim() === '');
  return blank(v) || (Array.isArray(v) && v.every(blank));
}

/**
 * Checks a `tls` option: `true` (system CAs), `false`/absent (off) or `tls.connect` options. PEM
 * fields must be strings or Buffers (file paths belong to the config file, which reads them once);
 * `rejectUnauthorized: false` is allowed but never the default.
 */
export function resolveTls(path: string, value: unknown, bad: Bad): ConnectionOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    bad(path, 'a boolean or TLS connection options', value, 'invalid tls');
    return undefined;
  }
  const t = value as ConnectionOptions;
  for (const f of PEM_FIELDS) {
    const v = t[f];
    if (v !== undefined && !isPem(v))
      bad(`${path}.${f}`, 'PEM text or a Buffer (or a list of them)', v, 'not PEM text');
  }
  if (t.ca !== undefined && isPem(t.ca) && isEmptyCa(t.ca))
    bad(
      `${path}.ca`,
      'the PEM of the CA(s) to trust',
      t.ca,
      'is empty: Node would trust the system CAs instead (leave ca out to mean them)',
    );
  else if (t.ca !== undefined && isPem(t.ca)) {
    // Node takes a ca holding no readable PEM certificate (a file path given for its text, a DER
    // file) without a word and then trusts no CA: every connection failed as "wrong CA?".
    const problem = caBundleProblem(t.ca as string | Uint8Array | (string | Uint8Array)[]);
    if (problem)
      bad(
        `${path}.ca`,
        'the PEM text of the CA(s) to trust (-----BEGIN CERTIFICATE-----)',
        t.ca,
        problem === 'none'
          ? "holds no PEM certificate, so no server would be trusted (a file path? pass the file's text: readFileSync(path); a DER file? convert it: openssl x509 -inform der)"
          : 'holds a PEM certificate block that cannot be read (Node ignores it and every certificate after it)',
      );
  }
  if (t.passphrase !== undefined && typeof t.passphrase !== 'string')
    bad(`${path}.passphrase`, 'a string', t.passphrase, 'must be a string');
  if (t.servername !== undefined && typeof t.servername !== 'string')
    bad(`${path}.servername`, 'a string', t.servername, 'must be a string');
  else if (t.servername !== undefined && !/^\S+$/.test(t.servername))
    bad(`${path}.servername`, 'a host name without spaces', t.servername, 'must be a host name');
  if (t.rejectUnauthorized !== undefined && typeof t.rejectUnauthorized !== 'boolean')
    bad(`${path}.rejectUnauthorized`, 'a boolean', t.rejectUnauthorized, 'must be a boolean');
  if ((t.cert === undefined) !== (t.key === undefined) && t.pfx === undefined)
    bad(
      `${path}.${t.cert === undefined ? 'cert' : 'key'}`,
      'cert and key together',
      undefined,
      'mutual TLS needs both',
    );
  // Load CA, certificate and key once now: a bad PEM, a wrong passphrase or a key that does not
  // match the certificate is a ConfigError at creation, not a connection that never comes up.
  try {
    createSecureContext({ ca: t.ca, cert: t.cert, key: t.key, passphrase: t.passphrase, pfx: t.pfx });
  } catch (err) {
    const reason = String((err as Error).message ?? err).split('\n')[0] ?? '';
    // OpenSSL's words for an encrypted key it could not decrypt name neither the key nor the
    // passphrase ("error:1C800064:Provider routines::bad decrypt"), whether none was given or a
    // wrong one: said here (the config file's loader says it too, as key_passphrase).
    const hint =
      t.key !== undefined && /bad decrypt/i.test(reason)
        ? t.passphrase === undefined
          ? ` (the key is encrypted and no ${path}.passphrase was given)`
          : ` (the key is encrypted and ${path}.passphrase does not decrypt it)`
        : '';
    bad(path, 'usable CA, certificate and key', value, `TLS material cannot be loaded: ${reason}${hint}`);
  }
  return t;
}
