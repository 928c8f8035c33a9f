/**
 * Builds the iovalkey client for a topology. The settings that matter for fault behaviour:
 * - `commandTimeout` bounds every command from send to reply (also across MOVED/ASK retries: the
 *   timer starts once per command);
 * - `enableOfflineQueue: false`: nothing piles up while disconnected — the cache's own readiness
 *   gate waits (bounded in time and count) instead;
 * - `maxRetriesPerRequest: 1`: commands caught by a disconnect are retried once, then rejected;
 * - reconnection never gives up (capped backoff), so the cache recovers when Redis comes back;
 * - a connection silent for `silenceLimit` while replies are awaited is dropped and made again.
 */
import { inspect } from 'node:util';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'iovalkey';
import { MAX_TIMER_MS } from '../../core/options.js';
import { hostPort } from './nodes.js';
import { type ResolvedOptions, recordBuiltClient } from './options.js';
import { iovalkey } from './peer.js';
import { avoidLoadingReplicas, replicaOrMaster } from './replica-reads.js';
import type { FaultWatch } from './tls.js';

/** Longest wait between two ready checks of a connection to a server still loading its data (ms). */
export const LOADING_RECHECK_MS = 1000;

/** Reconnect backoff in ms: 50, 100, … capped at 1 s. */
const backoff = (times: number) => Math.min(times * 50, 1000);

/** How often a cluster client re-reads the slot map (ms). */
const SLOTS_REFRESH_MS = 5000;

/**
 * Replies that mean "you are talking to the wrong node": reconnect after failover. The command
 * itself fails with that reply (`1`, not `2` = resend): iovalkey resends at once, before the new
 * connection is up, and with the offline queue off the resend always failed — the caller got
 * "Stream isn't writeable and enableOfflineQueue options is false" instead of READONLY.
 */
function reconnectOnError(err: Error): 1 | false {
  return /^(READONLY|MASTERDOWN)\b/.test(err.message) ? 1 : false;
}

/**
 * `faults` (./tls.ts) slows reconnection while the last attempt failed for a reason a quick retry
 * cannot fix (certificate, TLS, credentials), and watches TLS handshakes. The client is created
 * lazily and attached to `faults` before its first connection attempt, then connected unless the
 * options ask for a lazy connection.
 */
export function buildClient(o: ResolvedOptions, faults?: FaultWatch): Redis | Cluster {
  const client = createClient(o, faults ? faults.retryDelay(backoff) : backoff);
  recordBuiltClient(client, o.lazy);
  quietReadyCheck(
    client,
    (err) => client.emit(NO_INFO, err),
    (err) => client.emit(LOADING, err),
  );
  quietOpenServer(
    client,
    (err) => client.emit(OPEN_SERVER, err),
    (err, sentinel) => client.emit(OPEN_SENTINEL, err, sentinel),
  );
  hideSecrets(client, o);
  faults?.attach(client);
  askFirstSentinelAfterLast(client);
  explainSentinelLookups(client);
  lazyDuplicates(client);
  survivesSwitchWhileConnecting(client);
  if (!o.lazy) client.connect().catch(() => {}); // failures arrive as 'error' events
  return client;
}

/**
 * iovalkey asks the sentinels in turn and, once one named the master, keeps its place in the list
 * until the master's connection is up (then it moves that sentinel first). When the master it was
 * given cannot be reached (killed, not yet failed over), the next connect goes on from the next
 * sentinel — and when the answer came from the last one, that attempt found the list used up and
 * failed at once with "All sentinels are unreachable. Retrying from scratch…" (an 'error' event,
 * logged, and the message of every command waiting then), asking no sentinel: seen from outside
 * with every sentinel up and only the master down, every other attempt with one sentinel. A
 * connect that finds the list used up now starts it over, and one that reaches the end of the
 * list before asking every sentinel goes on from the first (`next` wrapped below). Relies on the
 * connector's private `sentinelIterator` (`cursor`, `sentinels`, `reset`, `next`): left as is if
 * that shape differs. Applied to
 * the client and its duplicates (transaction and bus connections have connectors of their own).
 */
function askFirstSentinelAfterLast(conn: Redis | Cluster): void {
  if (conn.isCluster) return;
  type Iterator = { cursor?: unknown; sentinels?: unknown; reset?: unknown };
  const connector = (conn as unknown as { connector?: { connect?: unknown; sentinelIterator?: Iterator } })
    .connector;
  const it = connector?.sentinelIterator;
  if (
    !connector ||
    typeof connector.connect !== 'function' ||
    !it ||
    typeof it.cursor !== 'number' ||
    !Array.isArray(it.sentinels) ||
    typeof it.reset !== 'function'
  )
    return;
  reportWrongRole(conn as Redis, connector as { check?: unknown });
  const sentinels = it.sentinels as unknown[];
  const reset = (it.reset as (first: boolean) => void).bind(it);
  // Sentinels handed out by the connect running now (`connecting`): the list is only "used up"
  // once each was asked in this attempt. A connect that began past the first one (the previous
  // answer came from there) reached the end after asking only the rest, and when those were down
  // it said "All sentinels are unreachable" though the ones before answered — seen from outside
  // with the last of three sentinels down and the master killed: 4 such errors in every failover.
  let asked = 0;
  let connecting = false;
  let attempts = 0;
  if (typeof (it as { next?: unknown }).next === 'function') {
    const next = (it as { next: () => { done: boolean; value: unknown } }).next.bind(it);
    (it as { next: unknown }).next = () => {
      // Only inside our connect: iovalkey's role check also steps the iterator, after it.
      if (!connecting) return next();
      if (asked >= sentinels.length) {
        asked = 0; // iovalkey resets the list, reports, waits, starts a new round
        return { done: true, value: undefined };
      }
      let step = next();
      if (step.done) {
        reset(false);
        step = next();
      }
      if (step.done) asked = 0;
      else asked++;
      return step;
    };
  }
  const connect = connector.connect as (...args: unknown[]) => unknown;
  connector.connect = function (this: unknown, ...args: unknown[]) {
    if ((it.cursor as number) >= sentinels.length) reset(false);
    asked = 0;
    connecting = true;
    const mine = ++attempts;
    const done = () => {
      if (mine === attempts) connecting = false; // not a newer connect's flag
    };
    const attempt = connect.apply(this, args);
    if (attempt instanceof Promise) attempt.then(done, done);
    else done();
    return attempt;
  };
  const redis = conn as Redis;
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    askFirstSentinelAfterLast(copy);
    return copy;
  };
}

/** Clients (and duplicates) already wrapped by survivesSwitchWhileConnecting / explainSentinelLookups. */
const switchSurvivors = new WeakSet<object>();
const explainedLookups = new WeakSet<object>();

/**
 * The sentinel workarounds that are safe on a client the user made and injected (`client:`): they
 * change no option of it, emit nothing new on it, and only replace an outcome iovalkey gets wrong.
 * A user's sentinel-mode client with `failoverDetector: true` was ended for good by a
 * `+switch-master` during a reconnect's sentinel lookup (reproduced from outside as
 * `sentinel-switch-connect.test.ts` does, with the client injected: status `end`, every command
 * `unavailable` "connection ended: Connection is closed."), as ours was before
 * survivesSwitchWhileConnecting; and its failed lookups said "Last error: Connection is closed.".
 * Idempotent (one injected client may serve several caches; a client buildClient made is wrapped
 * already). The others stay on the clients we build: askFirstSentinelAfterLast also reports
 * wrong-role masters as new 'error' events on the client, lazyDuplicates changes how its
 * duplicates connect, and the rest move iovalkey's console prints to a cache's logger or need
 * options we set (README, "Injected clients").
 */
export function adoptInjectedClient(client: Redis | Cluster): void {
  explainSentinelLookups(client);
  survivesSwitchWhileConnecting(client);
}

/**
 * iovalkey's failover detector (subscribed to `+switch-master` on the sentinels) disconnects the
 * connector when a switch is announced, to make the client reconnect to the new master. The
 * detector of the last master connection stays subscribed while the client reconnects — with the
 * master killed, every attempt asks a sentinel for the master, then fails to reach it — and when
 * the switch came while an attempt was asking a sentinel, that attempt failed with "Connection is
 * closed." and iovalkey ended the client for good (status `end`, no further reconnect): every
 * command failed `unavailable` "connection ended: Connection is closed." until the process was
 * restarted. Seen in 3 of 37 runs of `sentinel.test.ts` (master killed, writes never back) and from
 * outside for sure with the first sentinel hung during a failover (`sentinel-switch-connect.test.ts`).
 * Such an attempt now asks the sentinels again (at most twice more); a disconnect by the client's
 * owner (`disconnect()`, `quit()`: iovalkey marks those `manuallyClosing`) still ends it. Wraps the
 * connector's private `connect` (left as is if missing); applied to the client and its duplicates.
 */
function survivesSwitchWhileConnecting(conn: Redis | Cluster): void {
  // Once per client: several caches may share an injected one (adoptInjectedClient).
  if (conn.isCluster || switchSurvivors.has(conn)) return;
  switchSurvivors.add(conn);
  const redis = conn as Redis;
  // iovalkey's private flag for a disconnect()/quit() by the client's owner.
  const closing = () => (conn as unknown as { manuallyClosing?: unknown }).manuallyClosing === true;
  const connector = (conn as unknown as { connector?: { connect?: unknown; connectToSentinel?: unknown } })
    .connector;
  if (
    !connector ||
    typeof connector.connect !== 'function' ||
    typeof connector.connectToSentinel !== 'function'
  )
    return;
  const connect = connector.connect as (...args: unknown[]) => unknown;
  connector.connect = function (this: unknown, ...args: unknown[]) {
    const attempt = (tries: number): unknown => {
      const result = connect.apply(this, args);
      if (!(result instanceof Promise)) return result;
      return result.catch((err: unknown) => {
        const cut =
          (err as Error | undefined)?.message === 'Connection is closed.' &&
          !closing() &&
          redis.status === 'connecting';
        if (!cut || tries >= 3) throw err;
        return attempt(tries + 1);
      });
    };
    return attempt(1);
  };
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    survivesSwitchWhileConnecting(copy);
    return copy;
  };
}

/**
 * A master lookup whose sentinel could not be reached failed with the lookup connection's "Connection
 * is closed." (its queued `SENTINEL` command flushed when the connection ended), so with every
 * sentinel down the cache said `All sentinels are unreachable … Last error: Connection is closed.`
 * — not whether a port was closed, a name did not resolve or a sentinel hung. The lookup now fails
 * with that connection's own error (e.g. `connect ECONNREFUSED host:port`), which iovalkey puts
 * after "Last error:". Wraps the connector's private `connectToSentinel` (left as is if missing);
 * applied to the client and its duplicates.
 */
function explainSentinelLookups(conn: Redis | Cluster): void {
  if (conn.isCluster || explainedLookups.has(conn)) return;
  explainedLookups.add(conn);
  const connector = (conn as unknown as { connector?: { connectToSentinel?: unknown } }).connector;
  if (!connector || typeof connector.connectToSentinel !== 'function') return;
  const toSentinel = (connector.connectToSentinel as (...args: unknown[]) => unknown).bind(connector);
  connector.connectToSentinel = (...args: unknown[]) => {
    const sentinel = toSentinel(...args) as {
      on?: (event: string, listener: (err: Error) => void) => unknown;
      sentinel?: (...args: unknown[]) => Promise<unknown>;
    };
    const ask = sentinel?.sentinel;
    if (typeof sentinel?.on !== 'function' || typeof ask !== 'function') return sentinel;
    let last: Error | undefined;
    sentinel.on('error', (err) => {
      last = err;
    });
    sentinel.sentinel = function (this: unknown, ...a: unknown[]) {
      return ask.apply(this, a).catch((err: unknown) => {
        throw last && /Connection is closed/.test(String((err as Error)?.message)) ? last : err;
      });
    };
    return sentinel;
  };
  const redis = conn as Redis;
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const copy = duplicate(...args);
    explainSentinelLookups(copy);
    return copy;
  };
}

/**
 * The server a sentinel named as the master answering `INFO` as a replica (a sentinel with a stale
 * view, a master demoted behind it) makes iovalkey drop the connection and ask the next sentinel
 * without any 'error' event: with only such sentinels, commands failed with a bare `not connected
 * within … ms` and the log said nothing. The refusal is now an 'error' event naming the server and
 * its role, so it is logged and ends that message. Wraps the connector's private `check` (as
 * `askFirstSentinelAfterLast` found it: left as is if missing).
 */
function reportWrongRole(conn: Redis, connector: { check?: unknown }): void {
  const check = connector.check;
  if (typeof check !== 'function') return;
  connector.check = function (this: unknown, info: { role?: unknown }) {
    const ok = check.call(this, info) as boolean;
    // Only to a listener: an 'error' event without one would throw inside iovalkey's ready check.
    if (!ok && conn.listenerCount('error') > 0) {
      const stream = (conn as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
      const at = stream?.remoteAddress ? ` (${stream.remoteAddress}:${stream.remotePort})` : '';
      const role = info?.role === 'slave' ? 'replica' : String(info?.role);
      conn.emit(
        'error',
        new Error(
          `the server a sentinel named as master "${conn.options.name}"${at} answers as a ${role}: a sentinel with a stale view? asking the next one`,
        ),
      );
    }
    return ok;
  };
}

/**
 * A sentinel-mode duplicate made to connect at once (the invalidation bus's subscriber) asked a
 * sentinel for the master inside iovalkey's constructor, before the wrappers above (and the fault
 * watch's) could reach the copy's connector: that first lookup printed iovalkey's open-sentinel
 * warning. The copy is made lazy, wrapped by every wrapper of `duplicate` (this one is applied
 * last, so it runs first), then connected as iovalkey would have — `options.lazyConnect`, read by
 * iovalkey only in its constructor, is set back to what was asked. Sentinel mode only.
 */
function lazyDuplicates(conn: Redis | Cluster): void {
  const connector = (conn as unknown as { connector?: { connectToSentinel?: unknown } }).connector;
  if (conn.isCluster || typeof connector?.connectToSentinel !== 'function') return;
  const redis = conn as Redis;
  const duplicate = redis.duplicate.bind(redis);
  redis.duplicate = (override?: Partial<RedisOptions>) => {
    const lazy = override?.lazyConnect ?? redis.options.lazyConnect;
    const copy = duplicate({ ...override, lazyConnect: true });
    copy.options.lazyConnect = lazy;
    lazyDuplicates(copy);
    if (!lazy) copy.connect().catch(() => {}); // as iovalkey's constructor does
    return copy;
  };
}

/**
 * Emitted by a client `buildClient` made (with the `NOPERM` error) when a connection of it, of its
 * cluster nodes or of their duplicates skipped iovalkey's ready check because the ACL user may not
 * run `INFO`. The cache logs it through its logger (./cache.ts).
 */
export const NO_INFO = 'hyperion:no-info';

/**
 * Emitted by a client `buildClient` made (with an Error saying so) when iovalkey's ready check
 * found the server still loading its data (`INFO` `loading:1`): the connection is up but stays
 * out of service until the load ends. The connection gate (./gate.ts) takes it as the reason a
 * caller is "not connected", which said the last connection error before it (`connect
 * ECONNREFUSED` from the restart) or nothing at all.
 */
export const LOADING = 'hyperion:loading';

/**
 * Emitted by a client `buildClient` made (with the server's reply) when a connection of it, of its
 * cluster nodes or of their duplicates gave a password to a server whose user needs none. The
 * cache logs it through its logger (./cache.ts).
 */
export const OPEN_SERVER = 'hyperion:open-server';

/**
 * Emitted by a client `buildClient` made in sentinel mode (with the sentinel's reply and its
 * `host:port`) when a connection to a sentinel — a master lookup or a failover-detector
 * subscription, of the client or of its duplicates — gave `sentinel.password` to a sentinel whose
 * user needs none. The cache logs it through its logger (./cache.ts); `health()`'s own sentinel
 * probes (./health.ts) emit it on the client too.
 */
export const OPEN_SENTINEL = 'hyperion:open-sentinel';

/** The server's replies to an AUTH it has no password for (Redis < 6, and Redis 6+). */
const OPEN_SERVER_REPLY = /no password is set|without any password configured/;

type AuthCallback = (err: Error | null, res?: unknown) => void;

/**
 * A password given to a server whose (default) user requires none — anyone reaching the server
 * may read and write, which the password's owner most likely does not know — was said by
 * iovalkey only with `console.warn` ("[WARN] … does not require a password, but a password was
 * supplied") on every connection and reconnection (also of transaction, bus, tracking and health
 * connections), past the cache's logger. This passes that reply to `notify` instead and the
 * connection goes on as iovalkey would (it serves: AUTH is not needed there). Applied to `conn`,
 * to the nodes of a cluster and to their duplicates. Left as is if the client has no `auth`
 * method taking a callback (another iovalkey version).
 *
 * In sentinel mode the same print came from every connection iovalkey opens to a sentinel (one
 * per master lookup, one per sentinel for the failover detector, again after each failover) when
 * `sentinel.password` was given to sentinels that need none; those go to `notifySentinel`. The
 * sentinel connections are made by the client's private `connector.connectToSentinel`: if it is
 * missing (another iovalkey version), they print as before.
 */
function quietOpenServer(
  conn: Redis | Cluster,
  notify: (err: Error) => void,
  notifySentinel: (err: Error, sentinel: string) => void,
): void {
  if (conn.isCluster) {
    conn.on('+node', (node: Redis) => quietOpenServer(node, notify, notifySentinel));
  } else {
    quietAuth(conn, notify);
    openServerNotify.set(conn, notify);
    const connector = (conn as unknown as { connector?: { connectToSentinel?: unknown } }).connector;
    if (connector && typeof connector.connectToSentinel === 'function') {
      type ToSentinel = (endpoint: { host?: string; port?: number }, ...rest: unknown[]) => unknown;
      const toSentinel = (connector.connectToSentinel as ToSentinel).bind(connector);
      connector.connectToSentinel = (endpoint: { host?: string; port?: number }, ...rest: unknown[]) => {
        const sentinel = toSentinel(endpoint, ...rest);
        const address = `${endpoint?.host ?? '127.0.0.1'}:${endpoint?.port ?? 26379}`;
        if (sentinel && typeof sentinel === 'object')
          quietAuth(sentinel, (err) => notifySentinel(err, address));
        return sentinel;
      };
    }
  }
  const duplicate = conn.duplicate.bind(conn) as (...args: unknown[]) => Redis | Cluster;
  (conn as { duplicate: (...args: unknown[]) => Redis | Cluster }).duplicate = (...args) => {
    const copy = duplicate(...args);
    quietOpenServer(copy, notify, notifySentinel);
    return copy;
  };
}

/**
 * The two workarounds above for a client made outside `buildClient` from a user's own options (the
 * invalidation bus's `redis`): its connections printed iovalkey's "Skipping the ready check…" and
 * "[WARN] … does not require a password…" with `console.warn`, on every connection and
 * reconnection, past the bus's logger. Apply before the client connects (made with `lazyConnect`).
 */
export function quietPrints(
  conn: Redis | Cluster,
  notify: {
    noInfo: (err: Error) => void;
    openServer: (err: Error) => void;
    openSentinel: (err: Error, sentinel: string) => void;
  },
): void {
  quietReadyCheck(conn, notify.noInfo, () => {});
  quietOpenServer(conn, notify.openServer, notify.openSentinel);
}

/** The notifications of the connections the two workarounds above were applied to (for `quietAsNode`). */
const openServerNotify = new WeakMap<object, (err: Error) => void>();
const noInfoNotify = new WeakMap<object, (err: Error) => void>();

/**
 * `conn`, a connection made with `new Redis` to the server of `node` (a cluster node connection),
 * told like `node`'s own duplicates: the tracking subscribers of a cluster (./tracking-links.ts)
 * printed iovalkey's "[WARN] … does not require a password …" (and "Skipping the ready check …")
 * with `console.warn` on every connection, one per node, past the logger. Nothing is applied when
 * `node` has neither workaround (a client you inject). Call before `conn` connects.
 */
export function quietAsNode(node: object, conn: Redis): void {
  const open = openServerNotify.get(node);
  if (open) quietAuth(conn, open);
  const noInfo = noInfoNotify.get(node);
  if (noInfo) quietReadyCheck(conn, noInfo, () => {});
}

/**
 * Wraps `conn.auth` (a standalone connection: a data node or a sentinel) so that a server's
 * "no password is set" reply goes to `notify` and counts as success, as iovalkey treats it —
 * iovalkey's only other reaction to it is the console print. Nothing is wrapped if `auth` is
 * missing; an `auth` called without a callback is passed through untouched.
 */
export function quietAuth(conn: object, notify: (err: Error) => void): void {
  const c = conn as { auth?: (...args: unknown[]) => unknown };
  const auth = c.auth;
  if (typeof auth !== 'function') return;
  c.auth = function (this: unknown, ...args: unknown[]) {
    const callback = args[args.length - 1];
    if (typeof callback === 'function')
      args[args.length - 1] = ((err, res) => {
        if (err && OPEN_SERVER_REPLY.test(String(err.message))) {
          notify(err);
          (callback as AuthCallback)(null, res);
          return;
        }
        (callback as AuthCallback)(err, res);
      }) satisfies AuthCallback;
    return auth.apply(this, args);
  };
}

type ReadyCheck = (callback: (err: Error | null, info?: unknown) => void) => void;
type InfoCommand = (callback: (err: Error | null, res?: unknown) => void) => Promise<unknown>;

/**
 * iovalkey's ready check (`INFO`, waiting while the server loads its data) refused by the ACL
 * (a user without `+info`) is skipped — the connection serves, as before — but iovalkey said so
 * with `console.warn` ("Skipping the ready check because INFO command fails …") on every
 * connection and reconnection, past the cache's logger. This runs the same check with that
 * refusal passed to `notify` instead. Readiness stays as it was: without INFO nothing can tell a
 * server still loading its data; its commands (and `health()`'s PING) then fail with `LOADING`
 * (`unavailable`). Applied to `conn`, to the nodes of a cluster and to their duplicates. Left as is
 * if the client has no `_readyCheck` (another iovalkey version).
 */
function quietReadyCheck(
  conn: Redis | Cluster,
  notify: (err: Error) => void,
  loading: (err: Error) => void,
  clusterNode = false,
): void {
  if (conn.isCluster) {
    conn.on('+node', (node: Redis) => quietReadyCheck(node, notify, loading, true));
  } else {
    const c = conn as unknown as { _readyCheck?: ReadyCheck; info: InfoCommand };
    const original = c._readyCheck;
    if (typeof original !== 'function') return;
    noInfoNotify.set(conn, notify);
    c._readyCheck = function (this: typeof c, callback) {
      const own = Object.getOwnPropertyDescriptor(this, 'info');
      const info = this.info;
      this.info = (cb) =>
        info.call(this, (err, res) => {
          if (err && String(err.message).includes('NOPERM')) {
            notify(err);
            callback(null, {});
            return;
          }
          if (!err && typeof res === 'string' && /^loading:1\b/m.test(res)) {
            const why = loadingError(res);
            loading(why);
            if (clusterNode) loadingNodes.set(this, why);
          } else loadingNodes.delete(this);
          cb(err, res);
        });
      try {
        original.call(this, callback);
      } finally {
        if (own) Object.defineProperty(this, 'info', own);
        else delete (this as { info?: unknown }).info;
      }
    };
  }
  const duplicate = conn.duplicate.bind(conn) as (...args: unknown[]) => Redis | Cluster;
  (conn as { duplicate: (...args: unknown[]) => Redis | Cluster }).duplicate = (...args) => {
    const copy = duplicate(...args);
    // Told on the copy too: a transaction's dedicated connection (./transaction/pool.ts) opened
    // during a load waits in this check, and said only "connecting took longer than … ms".
    quietReadyCheck(copy, notify, (err) => {
      loading(err);
      if (!copy.isCluster) copy.emit(LOADING, err);
    });
    return copy;
  };
}

/**
 * Cluster node connections (of the client, not their duplicates) whose last ready check found the
 * server still loading its data. Such a node's commands wait in its queue for the load and fail
 * after the command timeout with iovalkey's bare "Command timed out" (seen from outside on a
 * master restarted with a large dataset): the cache's own gate, which says why in the other
 * topologies, does not see a single node. ./dispatch.ts and ./health.ts use it to say why.
 */
const loadingNodes = new WeakMap<object, Error>();

/** Why `node` (a cluster node connection) is not ready when its server is still loading, else `undefined`. */
export function nodeLoading(node: object | undefined): Error | undefined {
  return node === undefined ? undefined : loadingNodes.get(node);
}

/** What a server still loading its data (`INFO` of the ready check) is reported as. */
function loadingError(info: string): Error {
  const eta = /^loading_eta_seconds:(\d+)/m.exec(info)?.[1];
  const left = eta === undefined ? '' : `, about ${eta} s left`;
  return new Error(
    `LOADING the server is up but still loading its data into memory (a restart or a full resync${left}): commands are served once it has loaded`,
  );
}

/**
 * iovalkey keeps the password, the sentinel password and the TLS key and passphrase in the
 * client's `options` (and its cluster nodes' and connector's): `console.log(cache)`,
 * `util.inspect`, a logger's field or `JSON.stringify` of the cache (whose `client` is public)
 * printed them all. The client we build (and its duplicates) shows a summary instead — no
 * credential, no key.
 * The options stay readable as properties.
 */
function hideSecrets(client: Redis | Cluster, o: ResolvedOptions): void {
  showOnly(client, () => ({
    mode: o.mode,
    status: client.status,
    addresses: (o.mode === 'sentinel' ? o.sentinelAddresses : o.addresses).map((a) =>
      hostPort(a.host, a.port),
    ),
    ...(o.mode === 'sentinel' ? { masterName: o.masterName } : {}),
    username: o.username,
    tls: o.tls !== undefined,
  }));
  // A cluster's nodes (`cluster.nodes()`) carry the same credentials in their options.
  if (client.isCluster)
    client.on('+node', (node: Redis) =>
      showOnly(node, () => ({
        address: hostPort(node.options.host, node.options.port),
        status: node.status,
        username: o.username,
        tls: o.tls !== undefined,
      })),
    );
  // The duplicates the README suggests for pub/sub carry the same options.
  const duplicate = client.duplicate.bind(client) as (...args: unknown[]) => Redis | Cluster;
  (client as { duplicate: (...args: unknown[]) => Redis | Cluster }).duplicate = (...args) => {
    const copy = duplicate(...args);
    hideSecrets(copy, o);
    return copy;
  };
}

/** `util.inspect` and `JSON.stringify` of `target` show `summary()` only. */
function showOnly(target: object, summary: () => object): void {
  Object.defineProperties(target, {
    [inspect.custom]: {
      configurable: true,
      value: (depth: number, options: object) =>
        `${target.constructor.name} ${depth < 0 ? '{…}' : inspect(summary(), options)}`,
    },
    toJSON: { configurable: true, value: summary },
  });
}

/** How long a disconnect waits for a socket to close before destroying it (ms). */
const DISCONNECT_MS = 100;

/**
 * `hyperion:<name>` as Redis takes it in CLIENT SETNAME: only `!`…`~` (no space, newline or
 * non-ASCII letter), the rest becomes `_`. Redis refused such a name, iovalkey ignored the refusal,
 * and the connections of a cache named `orders cache` (and its health probe's) had no name.
 */
export function connectionNameOf(name: string): string {
  return `hyperion:${name.replace(/[^\x21-\x7e]/g, '_')}`;
}

function createClient(o: ResolvedOptions, retry: (times: number) => number): Redis | Cluster {
  const { Cluster, Redis } = iovalkey();
  const common: RedisOptions = {
    username: o.username,
    password: o.password,
    connectTimeout: o.dialTimeout,
    commandTimeout: o.commandTimeout,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: o.autoPipelining,
    connectionName: connectionNameOf(o.name),
    lazyConnect: true,
    tls: o.tls,
    // iovalkey's disconnect() arms a ref'd timer of this length waiting for the last socket to
    // close, also when it closed already (a client between reconnect attempts: Redis down at
    // close() or never reached), so the default 2 s kept a closed cache's process alive 2 s.
    disconnectTimeout: DISCONNECT_MS,
    // While the server loads its data, iovalkey's ready check asks INFO again after the server's
    // `loading_eta_seconds`, capped by this (default 10 s). That estimate is rough early in a load
    // (whole seconds elapsed over the bytes read so far): seen from outside, a restart with a 5.7 s
    // load said "about 118 s left" and the cache came back 4.3 s after the server had loaded. A
    // check every second at most costs one INFO a second per connection while a server loads.
    maxLoadingRetryTime: LOADING_RECHECK_MS,
  };
  if (o.mode === 'cluster') {
    const { lazyConnect: _lazy, enableAutoPipelining: _ap, ...redisOptions } = common;
    const options: ClusterOptions = {
      redisOptions: { ...redisOptions, socketTimeout: silenceLimit(o.commandTimeout) },
      lazyConnect: true,
      enableAutoPipelining: o.autoPipelining,
      enableOfflineQueue: false,
      maxRedirections: o.maxRedirects,
      // Reads go to a replica that can answer them, else to the master (./replica-reads.ts).
      scaleReads: o.readOnly ? replicaOrMaster : 'master',
      clusterRetryStrategy: retry,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: o.dialTimeout,
      // The periodic re-read of CLUSTER SLOTS is ours (below), not iovalkey's.
      slotsRefreshInterval: 0,
    };
    const cluster = new Cluster(o.addresses, options);
    // The cluster's pool removes its error listener from a node it drops, but that node's last
    // socket can still fail (a TLS alert after a refused certificate): with no listener iovalkey
    // prints it to stderr as "Unhandled error event". Live nodes' errors still reach `node error`.
    cluster.on('+node', (node: Redis) => {
      node.on('error', () => {});
      quietAsking(node);
      dropsSettledQueued(node);
    });
    unshareSlotArrays(cluster);
    if (!o.readOnly) loadingFailsAtOnce(cluster);
    else avoidLoadingReplicas(cluster, LOADING_RECHECK_MS);
    refreshSlotsPeriodically(cluster);
    endsNodeCopiesWithCluster(cluster);
    return cluster;
  }
  const base: RedisOptions = {
    ...common,
    db: o.db,
    enableOfflineQueue: false,
    retryStrategy: retry,
    reconnectOnError,
    socketTimeout: silenceLimit(o.commandTimeout),
  };
  if (o.mode === 'sentinel') {
    return dropsSettledResends(
      new Redis({
        ...base,
        sentinels: o.sentinelAddresses,
        name: o.masterName,
        sentinelPassword: o.sentinelPassword,
        sentinelUsername: o.sentinelUsername,
        sentinelTLS: o.sentinelTls,
        sentinelRetryStrategy: retry,
        // Half the command timeout per sentinel command: iovalkey asks the sentinels one after
        // another, so with the whole command timeout one hung sentinel (accepts, never answers)
        // listed first held every master lookup for it, and each first command (and each after a
        // reconnect) failed with "not connected" although the other sentinels would have answered.
        sentinelCommandTimeout: Math.max(5, Math.floor(o.commandTimeout / 2)),
        enableTLSForSentinelMode: o.tls !== undefined,
        // Subscribes to +switch-master so a promotion is noticed without waiting for a timeout.
        failoverDetector: true,
        // Redials a sentinel subscription of that detector that dropped (iovalkey's default: once a
        // minute). After a restart of the sentinels (a rolling upgrade) the cache heard no
        // +switch-master for a minute: found from outside, a SENTINEL FAILOVER then left it on the
        // old master until that was demoted ~11 s later, and every write it acknowledged meanwhile
        // was lost (1.2 s with the subscriptions up).
        sentinelReconnectStrategy: retry,
      }),
    );
  }
  const first = o.addresses[0]!;
  return dropsSettledResends(new Redis({ ...base, host: first.host, port: first.port }));
}

/**
 * How long a connection (standalone, sentinel master, cluster node) may hear nothing at all while
 * commands on it await replies before it is declared dead (ms): three command timeouts, at least 1 s. Every
 * command there has then already failed with `timeout`. iovalkey's `socketTimeout` does the
 * watching (armed when a command is written to an idle connection, re-armed by each chunk of
 * replies while more are awaited), so nothing is added per command. Before, a server stalled
 * without closing the connection (SIGSTOP, a blackholed network) kept every timed-out command in
 * iovalkey's queue of awaited replies for as long as it lasted — 40,000 timed-out `get`s held
 * ~64 MB after 5 s — and, once it answered again, ran them all before the next fresh command.
 * A server that is slow but answers (a reply every so often) is never cut.
 */
export function silenceLimit(commandTimeout: number): number {
  // At most what a Node timer holds: iovalkey arms it with setTimeout as it is, and Node fires a
  // longer one after 1 ms (with a TimeoutOverflowWarning). From a command timeout of 715,827,883 ms
  // (~8.3 days; the accepted maximum is 2^31 − 1) every command printed that warning and any reply
  // that took over 1 ms dropped the connection ("Socket timeout … 6442450941ms"), then remade it.
  return Math.min(Math.max(3 * commandTimeout, 1000), MAX_TIMER_MS);
}

/**
 * iovalkey resends the commands that were awaiting replies on a lost connection once it is ready
 * again (its `prevCommandQueue`), also those that had already failed with `timeout`: their callers
 * were told, and a read's reply is thrown away, but Redis runs them all before the fresh commands
 * behind them. Settled ones are dropped from that queue when the connection is lost and again just
 * before the resend (a command whose promise has settled no longer has iovalkey's timeout timer).
 * Left as is if the queue's shape is not the expected one (another iovalkey version).
 */
function dropsSettledResends(client: Redis): Redis {
  const drop = () => dropSettled((client as unknown as { prevCommandQueue?: unknown }).prevCommandQueue);
  client.on('reconnecting', drop);
  // 'connect' comes before the ready check's INFO is answered, so before the resend at 'ready'.
  client.on('connect', drop);
  return client;
}

/**
 * Removes from one of iovalkey's queues of commands not yet written the ones whose promise has
 * settled (such a command no longer has iovalkey's timeout timer; every command of the cache has
 * one). Left as is if the queue's shape is not the expected one (another iovalkey version).
 */
function dropSettled(queue: unknown): void {
  type Item = { command?: object };
  type Held = { length: number; shift(): Item | undefined; push(item: Item): unknown };
  const held = queue as Held | null | undefined;
  if (!held || typeof held.shift !== 'function' || typeof held.push !== 'function') return;
  // One pass in order (bounded by the length at entry): the live ones go back to the end.
  for (let n = held.length; n > 0; n--) {
    const item = held.shift();
    if (item === undefined) break;
    const command = item.command;
    if (command === undefined || '_commandTimeoutTimer' in command) held.push(item);
  }
}

/**
 * Promises of commands sent to a cluster node's connection while it was not ready: watched, and
 * settled. Per promise, not per command: a cluster pipeline retried after a redirect gives the same
 * command objects fresh promises (`initPromise()`), and those are live again.
 */
const watchedPromises = new WeakSet<Promise<unknown>>();
const settledPromises = new WeakSet<Promise<unknown>>();
/** Queued commands below which the queue of a connection not ready is not scanned for settled ones. */
const MIN_PRUNE = 64;

/**
 * iovalkey makes a cluster's node connections with an offline queue of their own (whatever the
 * cluster's `enableOfflineQueue`), where commands wait until the connection is ready — also those
 * whose callers were told `timeout` meanwhile. A node stalled without closing (SIGSTOP, a
 * blackholed network) accepts the connection made after the silent one was dropped but never
 * answers its ready check: every command timed out against it meanwhile stayed queued and, once
 * the node answered, was written before the fresh ones (seen from outside: a master stopped for a
 * few seconds then ran 1,000–3,000 `get`s whose callers had failed). The cluster's retry of a
 * command whose connection closed can even queue it again after it failed. So each command sent
 * while the connection is not ready is watched for settling (only those pay for it), a settled
 * one is not queued again, and iovalkey's `resetOfflineQueue()`, called just before it writes the
 * queue out, first drops the settled ones.
 */
function dropsSettledQueued(node: Redis): void {
  type Sent = { promise?: Promise<unknown> };
  type Item = { command?: Sent; stream?: { isPipeline?: boolean } };
  type Queue = { length: number; shift(): Item | undefined; push(item: Item): unknown };
  const target = node as unknown as {
    status: string;
    offlineQueue?: Queue;
    commandQueue?: Queue;
    resetOfflineQueue?: () => void;
    flushQueue?: (...args: unknown[]) => unknown;
    sendCommand?: (command: Sent, ...rest: unknown[]) => unknown;
  };
  const reset = target.resetOfflineQueue;
  const send = target.sendCommand;
  const flush = target.flushQueue;
  if (typeof reset !== 'function' || typeof send !== 'function') return;
  const watch = (p: Promise<unknown>) => {
    if (watchedPromises.has(p)) return;
    watchedPromises.add(p);
    const done = () => {
      settledPromises.add(p);
    };
    p.then(done, done);
  };
  // The cluster retries a command whose connection closed (after `retryDelayOnFailover`), and
  // the retry may land in a queue of a connection not ready. The commands awaiting replies here
  // were sent while it was ready, so unwatched: those that had already failed (timed out on a
  // silent connection that was then dropped) were queued again as live, and a pass in that burst
  // could not tell them from live ones (a promise is known settled only a microtask later), so a
  // queue held them until it doubled again (2,849–4,000 `get`s, none live, at the end of a round
  // after the drop). Watched when flushed, they are known settled before the retry, and are not
  // queued again.
  if (typeof flush === 'function')
    target.flushQueue = function (this: typeof target, ...args: unknown[]) {
      const awaited = this.commandQueue as unknown as { toArray?: () => Item[] } | undefined;
      for (const item of awaited?.toArray?.() ?? []) {
        const p = item.command?.promise;
        if (p !== undefined) watch(p);
      }
      return flush.apply(this, args);
    };
  // Every command in this queue was sent through the wrapper below while the connection was not
  // ready, so its promise is watched.
  const live = (command: Sent | undefined) => {
    const p = command?.promise;
    return p === undefined || !settledPromises.has(p);
  };
  /**
   * One pass in order (bounded by the length at entry; kept items go back to the end). A
   * pipeline's commands (a `multi()` transaction too) are kept or dropped together, dropped only
   * when all have settled: iovalkey writes a pipeline once all of its commands have been handed to
   * it, so dropping some would leave the others unwritten, and a transaction cut in two would apply
   * its commands outside MULTI.
   */
  const prune = (queue: Queue | undefined) => {
    if (!queue || typeof queue.shift !== 'function' || typeof queue.push !== 'function') return;
    let group: Item[] = [];
    let groupStream: unknown;
    let groupLive = false;
    const endGroup = () => {
      if (groupLive) for (const item of group) queue.push(item);
      group = [];
      groupStream = undefined;
      groupLive = false;
    };
    for (let n = queue.length; n > 0; n--) {
      const item = queue.shift();
      if (item === undefined) break;
      const stream = item.stream?.isPipeline === true ? item.stream : undefined;
      if (stream !== groupStream) endGroup();
      if (stream === undefined) {
        if (live(item.command)) queue.push(item);
        continue;
      }
      groupStream = stream;
      group.push(item);
      groupLive ||= live(item.command);
    }
    endGroup();
  };
  // The queue's length after the last pass: the next pass runs once it has doubled, so what the
  // queue holds stays within twice its live commands (amortised O(1) per queued command).
  let pruned = 0;
  target.sendCommand = function (this: typeof target, command: Sent, ...rest: unknown[]) {
    const p = command?.promise;
    // A lone command whose caller was told already: nothing to queue or write (a pipeline's is
    // handed on, iovalkey counts them to write the pipeline). The cluster's retry sends such
    // commands to a random master too, which only answers MOVED: 1,309 were in flight there.
    if (p !== undefined && rest[0] === undefined && settledPromises.has(p)) return p;
    if (this.status !== 'ready' && p !== undefined) {
      watch(p);
      if ((this.offlineQueue?.length ?? 0) >= Math.max(2 * pruned, MIN_PRUNE)) {
        prune(this.offlineQueue);
        pruned = this.offlineQueue?.length ?? 0;
      }
    }
    return send.call(this, command, ...rest);
  };
  target.resetOfflineQueue = function (this: typeof target) {
    prune(this.offlineQueue);
    pruned = 0;
    reset.call(this);
  };
}

/**
 * iovalkey's cluster sends `ASKING` before a command it follows to a slot's migration target and
 * drops that promise: when the connection closed with the `ASKING` unanswered (a node leaving the
 * client's pool during a reshard), its rejection ("Connection is closed.") was unhandled — seen
 * once in a live-reshard load run, and fatal under Node's default `--unhandled-rejections=throw`.
 * The command sent after it fails (or is retried) on its own, so the ASKING's outcome is ignored.
 */
function quietAsking(node: Redis): void {
  const target = node as unknown as { asking: (...args: unknown[]) => Promise<unknown> };
  const asking = target.asking;
  target.asking = function (this: unknown, ...args: unknown[]) {
    const sent = asking.apply(this, args);
    sent.catch(() => {});
    return sent;
  };
}

/**
 * Gives every slot its own node array after each slot-map refresh. iovalkey assigns one array to
 * all slots of a CLUSTER SLOTS range, and a MOVED reply rewrites the owner in that array in place:
 * until the refresh it triggers has answered, the whole range then looked moved — commands for
 * its other slots went to the wrong node (one more redirect each), and the tracker's heartbeat
 * (./tracking-cluster.ts) saw every slot of the range change owner and dropped all their keys from
 * L1. iovalkey writes the map and emits 'refresh' in the same tick, so nothing reads the shared
 * arrays in between. Costs 16,384 small arrays (≈ 0.8 MB) per cluster client.
 */
function unshareSlotArrays(cluster: Cluster): void {
  cluster.on('refresh', () => {
    const slots = (cluster as unknown as { slots: (string[] | undefined)[] }).slots;
    for (let i = 0; i < slots.length; i++) {
      const nodes = slots[i];
      if (nodes !== undefined) slots[i] = nodes.slice();
    }
  });
}

/**
 * A master still loading its data (restarted with a large RDB/AOF, `DEBUG RELOAD`) answers
 * `LOADING`. iovalkey's cluster hands that reply to the command's `loading` handler only after a
 * `retryDelayOnTryAgain` delay, and a pipeline whose every reply was `LOADING` decides
 * synchronously, before that delay, that the handler took it: it was never resolved, rejected nor
 * resent, and its commands had no timer left — `getMany`, `getManyWithTtl`, `setMany`,
 * `deleteMany` and `pipeline()` of that master's keys hung for good (seen from outside on a
 * 3-master cluster during one master's reload; a single `get` failed after the delay). With reads
 * on masters (no `readOnly`) that handler only fails the command (a single one, or the pipeline
 * with the server's replies), so it is called at once. Left as is if iovalkey has no
 * `handleError` (another version).
 */
function loadingFailsAtOnce(cluster: Cluster): void {
  type Handlers = { loading?: unknown };
  const c = cluster as unknown as { handleError?: (e: Error, ttl: unknown, h: Handlers) => unknown };
  const handleError = c.handleError;
  if (typeof handleError !== 'function') return;
  c.handleError = function (this: unknown, error, ttl, handlers) {
    if (/^LOADING\b/.test(String(error?.message)) && typeof handlers?.loading === 'function') {
      (handlers.loading as () => void)();
      return;
    }
    return handleError.call(this, error, ttl, handlers);
  };
}

/**
 * Re-reads CLUSTER SLOTS every `SLOTS_REFRESH_MS` while the client is ready: replicas that joined
 * (or were promoted) after the first read are otherwise only learned from a MOVED reply, and
 * `readOnly` would keep using masters. Ours rather than iovalkey's `slotsRefreshInterval`, whose
 * timer is re-armed when a refresh in flight at `disconnect()` ends — a closed client then
 * refreshed for ever and kept the process alive. This one is unref'd and stops at 'end'.
 */
function refreshSlotsPeriodically(cluster: Cluster): void {
  let timer: NodeJS.Timeout | undefined;
  cluster.on('ready', () => {
    timer ??= setInterval(() => {
      if (cluster.status === 'ready') cluster.refreshSlotsCache();
    }, SLOTS_REFRESH_MS).unref();
  });
  cluster.on('end', () => {
    clearInterval(timer);
    timer = undefined;
  });
}

/**
 * Ends, with the cluster, the connections iovalkey duplicates from its nodes and the cluster's
 * disconnect() does not close: the one each CLUSTER SLOTS read is sent on (at the connect, and at
 * each refresh). Against a seed node that accepts and answers nothing (stopped, SIGSTOP, a
 * blackholed host), a close() during the connect left that connection and its command timer
 * keeping the closed cache's process alive for the command timeout, then for the slots-refresh
 * timeout of the next seed node. A node's other duplicates (transactions, the health probe's
 * write check) are closed before the client is. Applied to the cluster's own duplicates too (the
 * invalidation bus's subscriber is one).
 */
function endsNodeCopiesWithCluster(cluster: Cluster): void {
  const duplicateCluster = cluster.duplicate.bind(cluster);
  cluster.duplicate = (...args: Parameters<Cluster['duplicate']>) => {
    const copy = duplicateCluster(...args);
    endsNodeCopiesWithCluster(copy);
    return copy;
  };
  const open = new Set<Redis>();
  cluster.on('+node', (node: Redis) => {
    const duplicate = node.duplicate.bind(node);
    node.duplicate = (...args: Parameters<Redis['duplicate']>) => {
      const copy = duplicate(...args);
      open.add(copy);
      copy.once('end', () => open.delete(copy));
      return copy;
    };
  });
  cluster.on('end', () => {
    for (const copy of open) copy.disconnect();
    open.clear();
  });
}
