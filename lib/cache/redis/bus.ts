/**
 * The Redis invalidation bus of the tiered cache: PUBLISH on one channel, SUBSCRIBE on a dedicated
 * duplicate connection (a subscribed connection can run nothing else). Messages carry the writer's
 * instance id and the keys, never the values. Pub/sub is fire-and-forget, so when the subscriber
 * connection comes back after a drop the bus reports a reconnect and the tiered cache clears its
 * L1: whatever was published meanwhile is lost.
 */
import type { Cluster, Redis, RedisOptions } from 'iovalkey';
import type { Invalidation, InvalidationBus, LoggerLike } from '../../core/contracts.js';
import { CacheError, ConfigError, TimeoutError, typeName } from '../../core/errors.js';
import { adaptLogger, quietLogger } from '../../core/log-binding.js';
import { optionKeys, unknownOptionIssues } from '../../core/options.js';
import { withTimeout } from '../../core/timeout.js';
import { adoptInjectedClient, quietPrints } from './client.js';
import { calmClusterSubscriber } from './cluster-subscriber.js';
import { toCacheError } from './errors.js';
import { makeListenerRoom } from './listeners.js';
import { describeNodes } from './nodes.js';
import { iovalkey } from './peer.js';
import { createReadyWait } from './ready-wait.js';
import { createReporter } from './report.js';
import {
  classifyClientError,
  createFaultWatch,
  handshakeBound,
  knownFault,
  scrubCredentials,
} from './tls.js';

export interface RedisInvalidationBusOptions {
  /**
   * A client to publish with, e.g. `createRedisCache(…).client`; the bus subscribes on a
   * `duplicate()` of it. The bus never closes this client (only its duplicate).
   */
  client?: Redis | Cluster | undefined;
  /** Connection options when no `client` is given; the bus then owns (and closes) both connections. */
  redis?: RedisOptions | undefined;
  /** Pub/sub channel; use one per tiered keyspace. Default `hyperion:tiered:invalidate`. */
  channel?: string | undefined;
  /**
   * Receives connection errors of the subscriber (and of the owned publisher): the first, then at
   * most one per 5 s with a `suppressed` count (they repeat on every reconnect attempt). Default: silent.
   */
  logger?: LoggerLike | undefined;
}

/** A bus whose subscriber connection state is visible (for readiness checks). */
export interface RedisInvalidationBus extends InvalidationBus {
  readonly channel: string;
  /**
   * iovalkey status of the subscriber connection (`ready` when messages are being received), or
   * `refused` while that connection is up but the server refused its SUBSCRIBE (the ACL user may
   * not use the channel: no message is received; it said `ready`).
   */
  readonly status: string;
}

const DEFAULT_CHANNEL = 'hyperion:tiered:invalidate';

const KNOWN = optionKeys<RedisInvalidationBusOptions>({
  client: true,
  redis: true,
  channel: true,
  logger: true,
});

/** A shared wait that rejects when a connection meets a fault waiting cannot fix. */
interface FaultWait {
  readonly met: Promise<never>;
  /** Looks again (a fault the cache's watch knows without an error of this connection). */
  check(): void;
  stop(): void;
  /** True when `err` is this wait's own rejection. */
  isFault(err: unknown): boolean;
}

interface Handlers {
  onInvalidation: (message: Invalidation) => void;
  onReconnect: () => void;
  onClosed: (() => void) | undefined;
}

/**
 * Wire format: `{"o":origin,"k":[keys]}` or `{"o":origin,"a":1}` for "every key", with `"s":scope`
 * when the message has one (receivers of older versions ignore it and apply the message).
 */
export function encodeInvalidation(message: Invalidation): string {
  const s = typeof message.scope === 'string' ? { s: message.scope } : {};
  return message.all
    ? JSON.stringify({ o: message.origin, a: 1, ...s })
    : JSON.stringify({ o: message.origin, k: message.keys ?? [], ...s });
}

/**
 * Largest invalidation message the bus publishes, in bytes: a message naming more keys is split
 * into several. Redis disconnects a subscriber whose pending output passes its
 * `client-output-buffer-limit pubsub` (32 MB hard by default), so one message of all the keys of a
 * large `deleteMany`/`setMany` (100,000 keys of 400 bytes: 40 MB) cut every instance's subscriber,
 * each cleared its whole L1 for it, and the invalidation itself was never delivered.
 */
export const MAX_INVALIDATION_BYTES = 1024 * 1024;

/** The wire messages of `message`: one, or several of at most `max` bytes for many keys. */
export function encodeInvalidations(message: Invalidation, max = MAX_INVALIDATION_BYTES): string[] {
  const keys = message.keys ?? [];
  const whole = encodeInvalidation(message);
  if (message.all || whole.length <= max / 3 || Buffer.byteLength(whole) <= max) return [whole];
  const { origin, scope } = message;
  const overhead = Buffer.byteLength(encodeInvalidation({ origin, scope, keys: [] }));
  const parts: string[] = [];
  let part: string[] = [];
  let size = overhead;
  for (const key of keys) {
    const bytes = Buffer.byteLength(JSON.stringify(key)) + 1;
    if (part.length > 0 && size + bytes > max) {
      parts.push(encodeInvalidation({ origin, scope, keys: part }));
      part = [];
      size = overhead;
    }
    part.push(key);
    size += bytes;
  }
  if (part.length > 0) parts.push(encodeInvalidation({ origin, scope, keys: part }));
  return parts;
}

/** Parses a wire message; `undefined` for anything malformed (ignored: the channel is shared). */
export function decodeInvalidation(text: string): Invalidation | undefined {
  let m: { o?: unknown; k?: unknown; a?: unknown; s?: unknown };
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || typeof m.o !== 'string') return undefined;
  const scope = typeof m.s === 'string' ? { scope: m.s } : {};
  if (m.a === 1) return { origin: m.o, all: true, ...scope };
  if (!Array.isArray(m.k) || !m.k.every((k) => typeof k === 'string')) return undefined;
  return { origin: m.o, keys: m.k as string[], ...scope };
}

/** Why no receiver would decode `message` (see {@link decodeInvalidation}), or `undefined`. */
function malformed(message: unknown): string | undefined {
  if (message === null || typeof message !== 'object')
    return `the message must be an object, received ${typeName(message)}`;
  const m = message as { origin?: unknown; keys?: unknown; all?: unknown; scope?: unknown };
  if (typeof m.origin !== 'string') return `origin must be a string, received ${typeName(m.origin)}`;
  if (m.scope !== undefined && typeof m.scope !== 'string')
    return `scope must be a string, received ${typeName(m.scope)}`;
  if (m.all || m.keys === undefined) return undefined;
  if (!Array.isArray(m.keys)) return `keys must be an array of strings, received ${typeName(m.keys)}`;
  const i = m.keys.findIndex((k) => typeof k !== 'string');
  return i < 0 ? undefined : `keys must be an array of strings, keys[${i}] is ${typeName(m.keys[i])}`;
}

/** Resolves when `p` settles or after `ms`, whichever is first; never rejects (close goes on regardless). */
function within(p: Promise<unknown>, ms: number): Promise<void> {
  return withTimeout(p, ms, () => new TimeoutError(`bus quit did not finish within ${ms} ms`)).then(
    () => {},
    () => {},
  );
}

/** Builds the Redis bus; see {@link RedisInvalidationBusOptions}. */
export function createRedisInvalidationBus(options: RedisInvalidationBusOptions = {}): RedisInvalidationBus {
  // An array too: it has no option keys, so the bus was made from every default (a publisher
  // and a subscriber on 127.0.0.1:6379).
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createRedisInvalidationBus: options must be an object', [
      { path: '', expected: 'object', received: typeName(options), message: 'has the wrong type' },
    ]);
  // An unknown key (`{ chanel }`) would otherwise leave the bus on the default channel, where
  // instances configured with another one never hear it: checked before any connection is made.
  const issues = unknownOptionIssues(options, KNOWN);
  const channel = options.channel ?? DEFAULT_CHANNEL;
  if (typeof channel !== 'string' || channel === '')
    issues.push({
      path: 'channel',
      expected: 'a non-empty string',
      received: typeName(channel),
      message: 'must be a non-empty string',
    });
  // As for keyPrefix (./options.ts): Redis receives a lone surrogate as U+FFFD, so the messages
  // arrived on a channel named otherwise than the one subscribed to and every one was ignored
  // (onMessage compares the names): the bus delivered no invalidation, silently.
  else if (!(channel as string & { isWellFormed(): boolean }).isWellFormed())
    issues.push({
      path: 'channel',
      expected: 'well-formed UTF-16',
      received: 'a string with a lone surrogate',
      message:
        'has a lone surrogate, which Redis would receive as U+FFFD: no message on it would be recognised',
    });
  // As for the cache (./options.ts): `client: {}` threw a bare TypeError below, `client: null`
  // built a publisher the bus then never closed, and a logger without `warn` crashed the process
  // with an uncaught TypeError at the first connection error.
  const client: unknown = options.client;
  if (client !== undefined && typeof (client as { duplicate?: unknown } | null)?.duplicate !== 'function')
    issues.push({
      path: 'client',
      expected: 'an iovalkey Redis or Cluster client (or none)',
      received: typeName(client),
      message: 'not an iovalkey client',
    });
  // `redis` is spread into iovalkey's options: a URL string (as iovalkey's constructor takes it),
  // a port or null spread to nothing, and the bus connected to 127.0.0.1:6379 instead of the
  // server meant — its `ready` never settled, or it published to another Redis. Beside a
  // `client` it was ignored without a word.
  const redis: unknown = options.redis;
  if (redis !== undefined) {
    if (redis === null || typeof redis !== 'object' || Array.isArray(redis))
      issues.push({
        path: 'redis',
        expected: 'iovalkey connection options, an object such as { host, port }',
        received: typeName(redis),
        message:
          typeof redis === 'string'
            ? 'must be an options object: a URL is not read here (pass client: new Redis(url), or { host, port, … })'
            : 'must be an options object',
      });
    else if (client !== undefined)
      issues.push({
        path: 'redis',
        expected: 'either client or redis',
        received: 'both',
        message: 'is not used when a client is given: give one of them',
      });
  }
  const given: unknown = options.logger;
  if (given !== undefined && given !== null && typeof (given as { warn?: unknown }).warn !== 'function')
    issues.push({
      path: 'logger',
      expected: 'a Logger (an object with a warn method)',
      received: typeName(given),
      message: 'has no warn method',
    });
  if (issues.length > 0) throw new ConfigError('createRedisInvalidationBus: invalid options', issues);
  // A pino instance takes fields first (adaptLogger, as createApp applies it): given as it is,
  // each record lost its fields. Quiet: a logger that threw from a connection-error listener was
  // an uncaught exception.
  const logger = options.logger == null ? undefined : quietLogger(adaptLogger(options.logger));
  const ownsPublisher = options.client === undefined;
  let ownWatch: ReturnType<typeof createFaultWatch> | undefined;
  const pub: Redis | Cluster =
    options.client ?? new (iovalkey().Redis)({ ...options.redis, lazyConnect: true });
  if (ownsPublisher) {
    // Its connections (and the subscriber's, a duplicate) printed iovalkey's console warnings past
    // the logger, on every connection and reconnection: said once here instead, as the cache says
    // them (./cache.ts) — the open server or sentinel as a process warning without a logger.
    const once = new Set<string>();
    const say = (key: string, message: string, code?: string) => {
      if (once.has(key)) return;
      once.add(key);
      if (logger) logger.warn(message, { channel });
      else if (code) process.emitWarning(message, { type: 'HyperionCacheWarning', code });
    };
    quietPrints(pub, {
      noInfo: () =>
        say(
          'info',
          'invalidation bus: the ACL user may not run INFO, so the ready check (waiting while a server loads its data) is skipped: grant +info (see aclRules())',
        ),
      openServer: () =>
        say(
          'server',
          'invalidation bus: a password was given but the server requires none (its default user is open): anyone who reaches it can read and write; set requirepass or an ACL user on the server, or drop the password',
          'HYPERION_REDIS_OPEN_SERVER',
        ),
      openSentinel: (_err, sentinel) =>
        say(
          `sentinel ${sentinel}`,
          `invalidation bus: a sentinel password was given but the sentinel ${sentinel} requires none (its default user is open): anyone who reaches it can reconfigure it or fail the master over; set requirepass (or an ACL user) on the sentinels, or drop the sentinel password`,
          'HYPERION_REDIS_OPEN_SENTINEL',
        ),
    });
    // The fault watch a cache keeps on its client, before the first connection: a bound on each TLS
    // handshake (TLS to a plain-text port), the count of resets (plain text to a TLS-only port)
    // and a lasting 'error' listener on each socket — iovalkey listens `once`, and a second error
    // of one TLS socket (a server's alert after a refused certificate) was an uncaught exception.
    // Its duplicate, the subscriber, is watched with it. (A cache's client has its cache's watch.)
    const own = pub.options as { connectTimeout?: number; commandTimeout?: number };
    ownWatch = createFaultWatch({
      handshakeTimeoutMs: handshakeBound(own.connectTimeout ?? 10_000, own.commandTimeout),
      tls: false,
    });
    ownWatch.attach(pub);
    pub.connect().catch(() => {}); // failures arrive as 'error' events
  }
  // A sentinel client of the user's (or made from their `redis` options), before the subscriber
  // is duplicated from it: with `failoverDetector: true` a +switch-master during a reconnect's
  // sentinel lookup ended the subscriber (and the client) for good, and the bus heard no
  // invalidation again (./client.ts). A cache's own client is wrapped already.
  adoptInjectedClient(pub);
  // The subscriber queues SUBSCRIBE until connected (the publisher may refuse offline commands);
  // after a reconnect `onReady` below subscribes again. Not iovalkey's `autoResubscribe`: its
  // SUBSCRIBE's rejection is handled by no one, so one the server refused (an operator revoked
  // the channel from the ACL user, and Redis closed the subscriber) was an unhandled rejection
  // that ended the process.
  // disconnectTimeout: iovalkey's disconnect() waits this long (a ref'd timer) for the socket to
  // close, also when it closed already (a dropped subscriber): the 2 s default outlived close().
  // maxRetriesPerRequest: null, commandTimeout: undefined — the queued SUBSCRIBE waits for the
  // connection however long Redis is away. With the client's own limits (one retry, the command
  // timeout, on a cache's client) a Redis down at start rejected it, the subscription was given up
  // and, Redis back, never made: other instances' writes were never heard (the later `ready`
  // events re-subscribe only a bus that had been live). close() bounds its own QUIT.
  const subOverrides = {
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
    enableOfflineQueue: true,
    autoResubscribe: false,
    lazyConnect: false,
    disconnectTimeout: 100,
  };
  const sub: Redis | Cluster = pub.isCluster
    ? (pub as Cluster).duplicate(undefined, subOverrides)
    : (pub as Redis).duplicate({
        ...subOverrides,
        connectionName: `${(pub as Redis).options.connectionName ?? 'hyperion'}:bus`,
      });

  /**
   * A failure of `command` as a CacheError: an ACL refusal (NOPERM) naming the bus and the rules it
   * needs (no retry fixes it); any other as the cache words the same reply (./errors.ts), e.g. BUSY
   * `unavailable` with how to stop the script, "Stream isn't writeable" `unavailable`.
   */
  // Masked in the messages made from server replies (as the cache masks its own).
  const secrets = [options.redis?.password, passwordOf(pub)];
  const refused = (command: string, err: unknown): CacheError => {
    // iovalkey attaches the failed command to a reply error: a refused AUTH of a connection the
    // bus made from `redis` options carried the password in `err.command.args`, and that error
    // was what subscribe() (so the tiered cache's `ready`) and publish() rejected with —
    // JSON.stringify or a structured logger printed it. Scrubbed here (a cache's client's
    // connections are scrubbed by its fault watch already).
    scrubCredentials(err);
    // Credentials or TLS (a raw ReplyError or socket error before): a CacheError saying which.
    const fault = classifyClientError(err, pub);
    if (fault)
      return new CacheError(
        'unavailable',
        `redis invalidation bus: ${command} ${channel} failed: ${fault.reason}`,
        {
          cause: err,
        },
      );
    const message = String((err as Error | undefined)?.message ?? err);
    // Before, anything else was passed on raw (iovalkey's ReplyError or Error): publish() rejected
    // with it, and a caller catching CacheError (as for every other failure of the cache) missed it.
    if (!/^NOPERM\b/.test(message))
      return toCacheError(`invalidation bus: ${command} ${channel}`, err, secrets, describeNodes(pub, err));
    return new CacheError(
      'backend',
      `redis invalidation bus: ${command} ${channel} refused: ${message.split('\n')[0]}; the user needs the rules of aclRules({ busChannel }) (+publish +subscribe +unsubscribe &<channel>)`,
      { cause: err },
    );
  };
  // Publish refusals seen; the first and every 100th are logged (a refused PUBLISH loses every
  // invalidation: other instances keep serving what their L1 holds).
  let publishRefusals = 0;
  const connected = createReadyWait(pub);
  const refusesOffline =
    (pub.options as { enableOfflineQueue?: boolean } | undefined)?.enableOfflineQueue === false;

  const handlers = new Set<Handlers>();
  let subscribed: Promise<unknown> | undefined;
  let everReady = false;
  // Set when the subscriber's connection failed before the first subscription was live (Redis
  // down when the bus was made): whatever was published meanwhile was lost, exactly as during a
  // reconnect, so that first subscription is reported as a reconnect (the tiered cache clears
  // the L1 it may have filled meanwhile). Without it, a write published between Redis answering
  // and this SUBSCRIBE landing left the old L1 copy for its whole l1Ttl.
  let missedBeforeFirst = false;
  let subscribedOnce = false;
  let closing: Promise<void> | undefined;
  let signalClosed!: (err: Error) => void;
  const closedSignal = new Promise<never>((_, reject) => {
    signalClosed = reject;
  });
  closedSignal.catch(() => {});

  /**
   * Rejects once `conn` meets a connection fault that waiting cannot fix (an untrusted, expired or
   * mismatched certificate, TLS to a plain-text port, a refused client certificate …) while it is
   * not ready: what a cache over the same client knows, or what its own errors say. A SUBSCRIBE
   * (or, on the bus's own publisher, a PUBLISH) queued for the connection waits for it for good
   * otherwise: only refused credentials rejected the queued command, so with a wrong CA a tiered
   * cache's `ready` never settled, while the cache said the fault at once. Redis down (refused,
   * unreachable) is no such fault: the command still waits for it.
   */
  // One wait per command, shared by every call pending on it: a listener per call made 11
  // concurrent publishes print Node's MaxListenersExceededWarning. It stays until it meets a
  // fault (then the next call starts a new one) or the bus closes.
  const faultWaits = new Map<string, FaultWait>();
  const untilFault = (conn: Redis | Cluster, command: string): FaultWait => {
    const current = faultWaits.get(command);
    if (current) {
      current.check(); // a fault the cache's watch learnt since
      return current;
    }
    let error: CacheError | undefined;
    let check!: (err?: unknown) => void;
    const met = new Promise<never>((_, reject) => {
      check = (err?: unknown) => {
        if (error !== undefined || conn.status === 'ready') return;
        const fault = knownFault(pub) ?? (err === undefined ? undefined : classifyClientError(err, pub));
        if (!fault) return;
        wait.stop();
        error = new CacheError(
          'unavailable',
          `redis invalidation bus: ${command} ${channel} failed: ${fault.reason}`,
          { cause: fault.error },
        );
        reject(error);
      };
    });
    met.catch(() => {});
    const wait: FaultWait = {
      met,
      check: () => check(),
      stop: () => {
        conn.off('error', check);
        if (faultWaits.get(command) === wait) faultWaits.delete(command);
      },
      isFault: (err: unknown) => err !== undefined && err === error,
    };
    faultWaits.set(command, wait);
    conn.on('error', check);
    check();
    return wait;
  };

  // Both connections fail on every reconnect attempt while Redis is away: the first error is
  // logged, then at most one per 5 s with a `suppressed` count, as the cache's own (./report.ts).
  // Before, a demo service wrote this warning ~2 times a second for the whole outage.
  const report = logger ? createReporter(logger) : undefined;
  const onError = (err: Error) => {
    scrubCredentials(err);
    report?.('invalidation bus: connection error', { channel, error: err.message });
  };
  // Every client gets an error listener: an EventEmitter 'error' without one would crash the process.
  sub.on('error', onError);
  pub.on('error', onError);
  // A client given in `client` may carry many buses (one per tiered cache): room for this one's
  // listeners (its error listener, and a PUBLISH's fault wait on a client that queues offline), so
  // that the 11th bus is no MaxListenersExceededWarning (./listeners.ts).
  const releaseListenerRoom = ownsPublisher ? () => {} : makeListenerRoom(pub, 2);

  const onMessage = (ch: string, text: string) => {
    if (ch !== channel) return;
    const message = decodeInvalidation(text);
    if (!message) return;
    // Each handler on its own, as `notify` below: one that threw (a bus user's own) was an
    // uncaught exception out of the client's 'message' event, ending the process, and the
    // handlers after it (another tiered cache on this bus) never dropped their L1 copies.
    for (const h of handlers) {
      try {
        h.onInvalidation(message);
      } catch (err) {
        if (warnedThrow.has(h)) continue;
        warnedThrow.add(h);
        try {
          logger?.warn('invalidation bus: an onInvalidation handler threw (warned once per handler)', {
            channel,
            error: (err as Error)?.message ?? String(err),
          });
        } catch {}
      }
    }
  };
  const warnedThrow = new WeakSet<Handlers>();
  sub.on('message', onMessage);

  // One handler that throws (a cache's logger, a bus user's own handler) must neither keep the
  // others uninformed nor escape: from `reconnected` it was an unhandled rejection (the process
  // ended), from close() it left the bus open (the process never exited).
  const notify = (which: 'onReconnect' | 'onClosed', list: Iterable<Handlers>) => {
    for (const h of list) {
      try {
        h[which]?.();
      } catch (err) {
        try {
          logger?.warn(`invalidation bus: an ${which} handler threw`, {
            channel,
            error: (err as Error)?.message ?? String(err),
          });
        } catch {}
      }
    }
  };
  const reconnected = () => {
    if (!closing) notify('onReconnect', [...handlers]);
  };
  // The server refused the last SUBSCRIBE (NOPERM): `status` says `refused`, not `ready`.
  let refusedNow = false;
  const subscribedAgain = () => {
    refusedNow = false;
    reconnected();
  };
  const onReady = () => {
    // The first `ready` is the initial connection; every later one follows a drop, during which
    // messages were lost. iovalkey emits `ready` before it re-sends SUBSCRIBE, so the reconnect is
    // reported (the tiered cache clears L1) only once the server has the subscription again: a
    // clear before that would let a read in between fill L1 with a value whose invalidation is
    // then published to no one. Subscribing twice to a channel is harmless. If this SUBSCRIBE
    // fails (the connection dropped again), it is reported all the same; the next `ready` repeats.
    // A refusal is said: the server's ACL no longer lets the user subscribe to the channel (an
    // operator revoked it, and Redis then closed this connection), so no invalidation of the other
    // instances is heard until the rule is granted again and the connection is made anew.
    // Only a bus that was asked to subscribe: one that only publishes (a job that invalidates,
    // its user allowed to PUBLISH only) subscribed at its first reconnect, and then said
    // "SUBSCRIBE refused again" and `status` `refused` for a SUBSCRIBE nobody asked for.
    if (everReady && !closing && subscribed !== undefined)
      sub.subscribe(channel).then(subscribedAgain, (err: unknown) => {
        refusedNow = /^NOPERM\b/.test(String((err as Error | undefined)?.message));
        if (!closing && refusedNow)
          try {
            logger?.warn(
              'invalidation bus: SUBSCRIBE refused again after a reconnect; invalidations are lost',
              {
                channel,
                error: refused('SUBSCRIBE', err).message,
              },
            );
          } catch {}
        reconnected();
      });
    everReady = true;
    // Connection errors held back by the rate limit are written now, before the reconnect is
    // reported (they came after it, 5 s after the first line), and a logged outage ends with a line.
    if (!closing && report?.settle())
      logger?.info('invalidation bus: connection restored', { channel, server: describeNodes(sub) });
  };
  sub.on('ready', onReady);
  const onReconnecting = () => {
    if (!subscribedOnce) missedBeforeFirst = true;
  };
  sub.on('reconnecting', onReconnecting);

  // A cluster client moves its subscriber connection to another node by itself (when it ends or
  // its node leaves) and re-subscribes there, with no event on the client: follow that connection
  // (iovalkey's ClusterSubscriber, read through its `getInstance()`) and report each move once the
  // subscription is live on the new one — messages published during the move were lost.
  let watched: Redis | null | undefined;
  // Whether a subscriber connection was ever seen. A cluster event before the client made its
  // subscriber connection (a slot `refresh` at start) left `watched` null, and the first connection
  // was then taken for a move: every tiered cache over a cluster logged "invalidation bus
  // reconnected, L1 cleared" and dropped what its L1 held a few ms after its start.
  let hadConnection = false;
  const clusterSubscriber = pub.isCluster
    ? (sub as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber
    : undefined;
  // No tight reconnect loop while every node is down (./cluster-subscriber.ts).
  if (pub.isCluster) calmClusterSubscriber(sub);
  const followCluster = () => {
    if (closing || typeof clusterSubscriber?.getInstance !== 'function') return;
    const current = clusterSubscriber.getInstance();
    if (current === watched) return;
    const first = !hadConnection;
    if (current) hadConnection = true;
    watched?.off('end', followCluster);
    watched = current;
    current?.once('end', followCluster);
    if (!first) sub.subscribe(channel).then(reconnected, reconnected);
  };
  if (pub.isCluster) {
    if (typeof clusterSubscriber?.getInstance !== 'function')
      logger?.warn(
        'invalidation bus: this iovalkey has no cluster subscriber to follow; a move of the subscriber connection goes unnoticed',
        { channel },
      );
    for (const event of ['+node', '-node', 'refresh'] as const) sub.on(event, followCluster);
  }

  return {
    channel,
    get status() {
      return refusedNow && sub.status === 'ready' ? 'refused' : sub.status;
    },

    async publish(message) {
      // What no receiver would decode (decodeInvalidation ignores it: the channel is shared) is
      // refused here: `{ origin: 'svc', keys: [42] }` or an origin that is not a string resolved
      // as published, and every instance ignored the message, so the invalidation was lost.
      const wrong = malformed(message);
      if (wrong) throw new CacheError('invalid_value', `redis invalidation bus: publish: ${wrong}`);
      // As subscribe(): nothing is sent once the bus is closed. It used to resolve as if sent, so
      // a tiered cache whose shared bus another user had closed counted each write's invalidation
      // in `invalidationsSent` while no other instance heard it (and no `busErrors`).
      if (closing) throw new CacheError('closed', 'invalidation bus is closed: nothing was published');
      let fault: ReturnType<typeof untilFault> | undefined;
      try {
        // A cache's client refuses commands while it is not connected (its offline queue is
        // off): a publish right after the client was made, or during a reconnect, rejected at
        // once with iovalkey's "Stream isn't writeable and enableOfflineQueue options is false",
        // while the lease over the same client waited for it. Both wait now (./ready-wait.ts).
        // A client with an offline queue queues the PUBLISH itself, as before.
        if (refusesOffline) await connected(`invalidation bus: PUBLISH ${channel}`);
        const sent = Promise.all(encodeInvalidations(message).map((text) => pub.publish(channel, text)));
        if (refusesOffline) await sent;
        else {
          // A client that queues it (the bus's own publisher) would hold it for good on a fault.
          fault = untilFault(pub, 'PUBLISH');
          await Promise.race([sent, fault.met]);
        }
      } catch (err) {
        if (fault?.isFault(err)) throw err;
        const e = refused('PUBLISH', err);
        if (e instanceof CacheError && e.code === 'backend' && publishRefusals++ % 100 === 0)
          logger?.warn('invalidation bus: publish refused by the server ACL; invalidations are lost', {
            channel,
            refusals: publishRefusals,
            error: (e as Error).message,
          });
        throw e;
      }
    },

    async subscribe(onInvalidation, onReconnect, onClosed) {
      if (closing) throw new CacheError('closed', 'invalidation bus is closed');
      // Checked now: a handler that is not a function was only found when a message arrived.
      const bad = (
        [
          ['onInvalidation', onInvalidation, false],
          ['onReconnect', onReconnect, false],
          ['onClosed', onClosed, true],
        ] as const
      ).filter(([, fn, optional]) => typeof fn !== 'function' && !(optional && fn === undefined));
      if (bad.length > 0)
        throw new ConfigError(
          'invalidation bus subscribe: handlers must be functions',
          bad.map(([path, fn, optional]) => ({
            path,
            expected: optional ? 'a function or undefined' : 'a function',
            received: typeName(fn),
            message: 'must be a function',
          })),
        );
      const h = { onInvalidation, onReconnect, onClosed };
      handlers.add(h);
      subscribed ??= sub.subscribe(channel).then(() => {
        refusedNow = false;
        everReady = true;
        subscribedOnce = true;
        sub.off('reconnecting', onReconnecting);
        followCluster();
        if (missedBeforeFirst) reconnected();
      });
      const fault = untilFault(sub, 'SUBSCRIBE');
      try {
        // A SUBSCRIBE queued while Redis is away never settles once the bus is closed (a
        // disconnect between reconnect attempts fails nothing): close() ends this wait instead.
        await Promise.race([subscribed, closedSignal, fault.met]);
      } catch (err) {
        handlers.delete(h);
        // Given up on a fault, the queued SUBSCRIBE stays queued: the next subscribe() sends its own.
        subscribed = undefined;
        if (fault.isFault(err)) throw err;
        if (/^NOPERM\b/.test(String((err as Error | undefined)?.message))) refusedNow = true;
        throw refused('SUBSCRIBE', err);
      }
      return () => {
        handlers.delete(h);
      };
    },

    close() {
      closing ??= (async () => {
        signalClosed(new CacheError('closed', 'invalidation bus closed before it was subscribed'));
        // Connection errors held back by the rate limit are not written after the close.
        report?.stop();
        // Pending calls have closedSignal; the waits' listeners leave (a user's client lives on).
        for (const wait of [...faultWaits.values()]) wait.stop();
        // Caches still subscribed (a bus shared by several caches, closed with one of them) hear
        // nothing from now on: they must stop serving L1 copies no invalidation reaches.
        const left = [...handlers];
        handlers.clear();
        notify('onClosed', left);
        sub.off('message', onMessage);
        sub.off('ready', onReady);
        sub.off('reconnecting', onReconnecting);
        for (const event of ['+node', '-node', 'refresh'] as const) sub.off(event, followCluster);
        watched?.off('end', followCluster);
        // QUIT only a connected client: one queued while Redis is away would wait out its bound.
        const subEnded = sub.status === 'ready' ? within(sub.quit(), 1000) : Promise.resolve();
        const pubEnded =
          ownsPublisher && pub.status === 'ready' ? within(pub.quit(), 1000) : Promise.resolve();
        await Promise.all([subEnded, pubEnded]);
        sub.disconnect();
        if (ownsPublisher) pub.disconnect();
        // Keep the listener on the subscriber: a late socket error after quit must not crash.
        if (!ownsPublisher) {
          pub.off('error', onError);
          releaseListenerRoom();
        }
      })();
      return closing;
    },
  };
}

/** The password the publisher connects with (a cluster's is in its `redisOptions`), if any. */
function passwordOf(client: Redis | Cluster): string | undefined {
  const o = (client.isCluster ? (client as Cluster).options.redisOptions : (client as Redis).options) as
    | { password?: unknown }
    | undefined;
  return typeof o?.password === 'string' ? o.password : undefined;
}
