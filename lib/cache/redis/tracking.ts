/**
 * Server-assisted invalidation for a tiered cache over Redis (`CLIENT TRACKING`, Redis ≥ 6.2),
 * RESP2 style: every connection that serves reads is tracked with `REDIRECT` to a dedicated
 * subscriber connection on the same server, which receives the invalidations on
 * `__redis__:invalidate` (see ./tracking-link.ts for the set-up of one connection).
 *
 * Topologies: standalone and sentinel track the L2 client's one connection; a cluster tracks every
 * node connection of the client (masters and replicas: a replica can be promoted at any moment and
 * must already be tracked when the first read reaches it), with one subscriber per node.
 *
 * Trust: the tracker is `confirmed` only while every link is set up and verified, and (cluster) every
 * slot's master is a verified link. Any event that may lose invalidations — a data or subscriber
 * connection closing, a node added or removed, a slot moving to a node not yet tracked, a failed
 * heartbeat — calls `onLost` at once (synchronously, in the event handler that saw it). A slot
 * moving between tracked nodes calls `onMoved` instead: only its keys were read from a server that
 * no longer sees their writes, so only they leave L1 (./tracking-cluster.ts). `onConfirmed` follows only
 * after a verification pass over every link (PING on each subscriber, CLIENT TRACKINGINFO on each
 * data connection) that no such event interrupted. A heartbeat repeats that pass every
 * `heartbeat` ms, so a connection that died silently is noticed within `heartbeat + timeout`.
 */
import type { Cluster, Redis } from 'iovalkey';
import type { InvalidationTracker, TrackingHandlers } from '../../core/contracts.js';
import { CacheError, ConfigError, typeName } from '../../core/errors.js';
import { adaptLogger, quietLogger } from '../../core/log-binding.js';
import { processWide } from '../../core/process-wide.js';
import { steadyNow } from './steady.js';
import { watchCluster } from './tracking-cluster.js';
import { addLink, removeLink, setupParts } from './tracking-links.js';
import { check, type RedisTrackingOptions, trackedPrefix } from './tracking-options.js';
import { closeTrust, type TrackingState } from './tracking-state.js';
import { pass } from './tracking-verify.js';

export type { RedisTrackingOptions } from './tracking-options.js';

export interface RedisTrackingStats {
  /** Invalidation messages received (a BCAST message may carry many keys). */
  readonly messages: number;
  /** Keys reported (with the cache's prefix). */
  readonly keys: number;
  /** `null` payloads (FLUSHALL / FLUSHDB): "everything changed". */
  readonly flushes: number;
  /** Times trust was lost (each clears the L1 of the tiered caches using this tracker). */
  readonly losses: number;
  /** Times trust was (re)gained. */
  readonly confirmations: number;
  /**
   * Cluster: times slots changed owner while every new owner was already tracked (only the keys
   * of those slots were dropped from L1; trust was kept).
   */
  readonly moves: number;
  /** Tracked connections now (one per node in a cluster). */
  readonly links: number;
}

export interface RedisTracking extends InvalidationTracker {
  stats(): RedisTrackingStats;
}

/**
 * The live tracker of each client. A connection has one tracking state and one redirect target,
 * so a second tracker on the same client would take the redirect over and the first would lose
 * (and retake) it at every heartbeat, its L1 unprotected in between: refused; share the tracker.
 * Process-wide: a second copy of the package (another version installed beside this one) given
 * the same client built its tracker unrefused, and both then lost tracking.
 */
const trackers = processWide('cache.redis.trackers', () => new WeakMap<object, RedisTracking>());

/** Builds the tracker for `createTieredCache({ tracking })`; it starts with the cache. */
export function createRedisTracking(options: RedisTrackingOptions): RedisTracking {
  if (options === null || typeof options !== 'object')
    throw new ConfigError('createRedisTracking: options must be an object', [
      { path: '', expected: 'object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const issues = check(options);
  if (issues.length > 0) throw new ConfigError('createRedisTracking: invalid options', issues);
  const owner = (options.cache?.client ?? options.client)!;
  if (trackers.has(owner))
    throw new ConfigError(
      'createRedisTracking: this Redis client already has a tracker (a connection can be tracked for one subscriber only); pass that tracker to every tiered cache over this client, or close it first',
      [
        {
          path: 'client',
          expected: 'a client without a live tracker',
          received: 'a tracked client',
          message: 'already tracked',
        },
      ],
    );
  const s = trackingState(options);
  const first = new Promise<void>((resolve, reject) => {
    s.firstConfirmed = resolve;
    s.firstFailed = reject;
  });
  first.catch(() => {});
  const heartbeatMs = options.heartbeat ?? 1000;
  let heartbeat: NodeJS.Timeout | undefined;
  let stopCluster: (() => void) | undefined;
  let started = false;
  let closing: Promise<void> | undefined;

  function begin(): void {
    if (s.cluster) stopCluster = watchCluster(s, s.cluster);
    else addLink(s, 'main', s.client as Redis);
    heartbeat = setInterval(() => void s.pass(), heartbeatMs);
    heartbeat.unref();
  }

  const tracker: RedisTracking = {
    mode: s.mode,
    get confirmed() {
      return s.confirmed;
    },
    get confirmedAt() {
      return s.confirmedAt;
    },
    // On the monotonic clock: `Date.now() - confirmedAt` showed a wall clock stepped forward 1 h
    // as a confirmation 3,600 s old (cache_tracking_confirmed_age_seconds), stepped back as 0
    // until the next heartbeat.
    get confirmedAgo() {
      return s.confirmedSteady > 0 ? Math.max(0, Math.round(steadyNow() - s.confirmedSteady)) : -1;
    },
    async start(h) {
      // A CacheError('closed'), as a bus's subscribe() after its close() and this tracker closed
      // before its first confirmation: a tiered cache given a closed tracker rejected `ready`
      // with a ConfigError (`config_invalid`, no issue listed) that a caller handling `closed` missed.
      if (s.closed) throw new CacheError('closed', 'redis tracking is closed');
      // Checked now: handlers that are not functions were taken and failed at the first
      // invalidation, inside the client's event handler.
      const bad = (['onInvalidate', 'onLost', 'onMoved', 'onConfirmed'] as const).filter(
        (name) => typeof (h as Partial<TrackingHandlers> | null | undefined)?.[name] !== 'function',
      );
      if (bad.length > 0)
        throw new ConfigError(
          'redis tracking start: handlers must be an object of functions',
          bad.map((name) => ({
            path: name,
            expected: 'a function',
            received: typeName((h as Partial<TrackingHandlers> | null | undefined)?.[name]),
            message: 'must be a function',
          })),
        );
      s.handlers.add(h);
      // A cache joining a tracker that is already confirmed hears no confirmation from it until
      // the next loss: confirm it now (its L1 is empty and unfilled so far, so nothing is missed).
      if (s.confirmed) h.onConfirmed();
      if (!started) {
        started = true;
        begin();
      }
      await first;
      return () => {
        s.handlers.delete(h);
      };
    },
    stats: () => ({ ...s.counts, links: s.links.size }),
    close() {
      closing ??= (async () => {
        closeTrust(s);
        s.closed = true;
        s.parts.stopReports();
        s.confirmed = false;
        if (heartbeat) clearInterval(heartbeat);
        stopCluster?.();
        s.handlers.clear();
        for (const link of [...s.links.values()]) {
          removeLink(s, link);
          // Leave the data connection as it was: it belongs to the L2.
          if (link.data.status === 'ready') link.data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {});
        }
        s.firstFailed?.(new CacheError('closed', 'tracking closed before it was confirmed'));
        if (trackers.get(owner) === tracker) trackers.delete(owner);
      })();
      return closing;
    },
  };
  trackers.set(owner, tracker);
  return tracker;
}

/** The state of a new tracker, from checked options. */
function trackingState(options: RedisTrackingOptions): TrackingState {
  const client = (options.cache?.client ?? options.client)!;
  const cluster = client.isCluster ? (client as Cluster) : undefined;
  const subName = `${(cluster ? cluster.options.redisOptions?.connectionName : (client as Redis).options.connectionName) ?? 'hyperion'}:tracking`;
  const s: TrackingState = {
    client,
    cluster,
    prefix: trackedPrefix(options),
    mode: options.mode ?? 'default',
    timeout: options.timeout ?? 1000,
    // adaptLogger: a pino instance takes fields first (given as it is, records lost their fields).
    logger: options.logger ? quietLogger(adaptLogger(options.logger)) : undefined,
    links: new Map(),
    failedBefore: new Map(),
    handlers: new Set(),
    counts: { messages: 0, keys: 0, flushes: 0, losses: 0, confirmations: 0, moves: 0 },
    confirmed: false,
    confirmedAt: 0,
    confirmedSteady: 0,
    epoch: 0,
    verifying: false,
    closed: false,
    slotOwners: undefined,
    syncing: false,
    firstConfirmed: undefined,
    firstFailed: undefined,
    parts: undefined as never,
    pass: () => pass(s),
  };
  s.parts = setupParts(s, subName);
  return s;
}
