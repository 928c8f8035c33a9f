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
 * connection closing, a node added or removed, a slot changing owner, a failed heartbeat — calls
 * `onLost` at once (synchronously, in the event handler that saw it); `onConfirmed` follows only
 * after a verification pass over every link (PING on each subscriber, CLIENT TRACKINGINFO on each
 * data connection) that no such event interrupted. A heartbeat repeats that pass every
 * `heartbeat` ms, so a connection that died silently is noticed within `heartbeat + timeout`.
 */
import { type Cluster, Redis } from 'iovalkey';
import type { InvalidationTracker, Logger, TrackingHandlers } from '../../core/contracts.js';
import { ConfigError, type ConfigIssue, typeName } from '../../core/errors.js';
import { MAX_TIMER_MS, optionKeys, unknownOptionIssues } from '../../core/options.js';
import { type Link, type Session, type SetupParts, setUp, verify } from './tracking-link.js';

export interface RedisTrackingOptions {
  /** The L2 whose reads are tracked, e.g. `createRedisCache(…)`: its client and key prefix are used. */
  cache?: { readonly client: Redis | Cluster; readonly keyPrefix: string };
  /** Instead of `cache`: the client… */
  client?: Redis | Cluster;
  /** …and the key prefix its cache uses (stripped from reported keys; the BCAST prefix). Default `''`. */
  keyPrefix?: string;
  /**
   * `default`: the server remembers the keys each connection read and reports those (memory on the
   * server grows with the keys read). `bcast`: the server reports every key under `keyPrefix`,
   * read or not (no per-key memory; more messages). Default `default`.
   */
  mode?: 'default' | 'bcast';
  /** Verification interval (ms): how soon a silently dead connection is noticed. Default 1000. */
  heartbeat?: number;
  /** Bound (ms) of each set-up step and of a heartbeat's replies. Default 1000. */
  timeout?: number;
  /** Receives connection errors and trust changes. Default: silent. */
  logger?: Logger;
}

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
  /** Tracked connections now (one per node in a cluster). */
  readonly links: number;
}

export interface RedisTracking extends InvalidationTracker {
  stats(): RedisTrackingStats;
}

const BACKOFF_MAX_MS = 1000;
const SLOTS = 16384;

const KNOWN = optionKeys<RedisTrackingOptions>({
  cache: true,
  client: true,
  keyPrefix: true,
  mode: true,
  heartbeat: true,
  timeout: true,
  logger: true,
});

function check(options: RedisTrackingOptions): ConfigIssue[] {
  const issues: ConfigIssue[] = unknownOptionIssues(options, KNOWN);
  const bad = (path: string, expected: string, value: unknown) =>
    issues.push({ path, expected, received: typeName(value), message: `must be ${expected}` });
  const client = options.cache?.client ?? options.client;
  if (typeof (client as Partial<Redis> | undefined)?.duplicate !== 'function')
    bad(options.cache ? 'cache.client' : 'client', 'an iovalkey client', client);
  if (options.mode !== undefined && options.mode !== 'default' && options.mode !== 'bcast')
    bad('mode', "'default' or 'bcast'", options.mode);
  for (const k of ['heartbeat', 'timeout'] as const) {
    const v = options[k];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && v <= MAX_TIMER_MS))
      bad(k, `a number of ms above 0 and up to ${MAX_TIMER_MS}`, v);
  }
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string')
    bad('keyPrefix', 'a string', options.keyPrefix);
  return issues;
}

/** Builds the tracker for `createTieredCache({ tracking })`; it starts with the cache. */
export function createRedisTracking(options: RedisTrackingOptions): RedisTracking {
  if (options === null || typeof options !== 'object')
    throw new ConfigError('createRedisTracking: options must be an object', [
      { path: '', expected: 'object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const issues = check(options);
  if (issues.length > 0) throw new ConfigError('createRedisTracking: invalid options', issues);
  const client = (options.cache?.client ?? options.client)!;
  const prefix = options.cache?.keyPrefix ?? options.keyPrefix ?? '';
  const mode = options.mode ?? 'default';
  const heartbeatMs = options.heartbeat ?? 1000;
  const timeout = options.timeout ?? 1000;
  const logger = options.logger;
  const cluster = client.isCluster ? (client as Cluster) : undefined;
  const subName = `${(cluster ? cluster.options.redisOptions?.connectionName : (client as Redis).options.connectionName) ?? 'hyperion'}:tracking`;

  const links = new Map<string, Link>();
  const handlers = new Set<TrackingHandlers>();
  const counts = { messages: 0, keys: 0, flushes: 0, losses: 0, confirmations: 0 };
  let confirmed = false;
  let confirmedAt = 0;
  /** Bumped by every event that breaks trust; a verification pass counts only if it saw none. */
  let epoch = 0;
  let verifying = false;
  let closed = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let firstConfirmed: (() => void) | undefined;
  let firstFailed: ((err: Error) => void) | undefined;
  const first = new Promise<void>((resolve, reject) => {
    firstConfirmed = resolve;
    firstFailed = reject;
  });
  first.catch(() => {});
  let slotOwners: string[] | undefined;

  const onError = (err: Error) => logger?.warn('redis tracking: connection error', { error: err.message });

  function lose(reason: string): void {
    epoch++;
    if (!confirmed) return;
    confirmed = false;
    counts.losses++;
    logger?.warn('redis tracking: lost, L1 not trusted until confirmed again', { reason });
    for (const h of handlers) h.onLost(reason);
  }

  function deliver(payload: Buffer[] | null): void {
    counts.messages++;
    if (payload === null) {
      counts.flushes++;
      for (const h of handlers) h.onInvalidate(null);
      return;
    }
    const keys: string[] = [];
    for (const b of payload) {
      counts.keys++;
      const name = b.toString('utf8');
      if (name.startsWith(prefix)) keys.push(name.slice(prefix.length));
    }
    if (keys.length > 0) for (const h of handlers) h.onInvalidate(keys);
  }

  const parts: SetupParts = {
    bcast: mode === 'bcast',
    prefix,
    timeout,
    makeSub(link) {
      const overrides = {
        lazyConnect: true,
        enableOfflineQueue: true,
        autoResubscribe: false,
        retryStrategy: () => null,
        failoverDetector: false,
        connectionName: subName,
      };
      if (!cluster) return (client as Redis).duplicate(overrides);
      const { host, port } = link.data.options;
      return new Redis({ ...cluster.options.redisOptions, host, port, ...overrides });
    },
    onMessage: (_link, _session, payload) => deliver(payload),
    onSubscriberGone(link: Link, _session: Session) {
      breakLink(link, `tracking subscriber of ${link.key} closed`);
    },
    onError,
  };

  function breakLink(link: Link, reason: string): void {
    link.gen++;
    link.ok = false;
    lose(reason);
    schedule(link, 0);
  }

  function schedule(link: Link, delay: number): void {
    if (closed || link.removed || link.busy || link.timer) return;
    link.timer = setTimeout(() => {
      link.timer = undefined;
      establish(link);
    }, delay);
    link.timer.unref();
  }

  async function establish(link: Link): Promise<void> {
    if (closed || link.removed) return;
    link.busy = true;
    const gen = link.gen;
    let failed = false;
    try {
      await setUp(link, parts);
    } catch (err) {
      failed = true;
      link.failures++;
      // A server that cannot track (Redis < 6.2, an ACL without the commands) will not learn it by
      // retrying: tell whoever awaits the first confirmation (retries go on regardless).
      if (/NOPERM|unknown (sub)?command|wrong number of arguments/i.test((err as Error).message))
        firstFailed?.(err as Error);
      if (link.failures === 1 || link.failures % 20 === 0)
        logger?.warn('redis tracking: set-up failed, retrying', {
          node: link.key,
          error: (err as Error).message,
          attempts: link.failures,
        });
    } finally {
      link.busy = false;
    }
    if (closed || link.removed) return;
    if (failed) {
      schedule(link, Math.min(50 * 2 ** Math.min(link.failures, 5), BACKOFF_MAX_MS));
      return;
    }
    if (gen !== link.gen) {
      schedule(link, 0);
      return;
    }
    link.failures = 0;
    link.ok = true;
    if (!confirmed) void pass();
  }

  function addLink(key: string, data: Redis): Link {
    const link: Link = {
      key,
      data,
      session: undefined,
      ok: false,
      gen: 0,
      busy: false,
      failures: 0,
      timer: undefined,
      removed: false,
      detach: () => {
        data.off('close', onClose);
        data.off('ready', onReady);
      },
    };
    const onClose = () => breakLink(link, `connection to ${key} closed`);
    const onReady = () => schedule(link, 0);
    data.on('close', onClose);
    data.on('ready', onReady);
    links.set(key, link);
    lose(`tracking ${key}`);
    schedule(link, 0);
    return link;
  }

  function removeLink(link: Link): void {
    link.removed = true;
    link.ok = false;
    if (link.timer) clearTimeout(link.timer);
    link.detach();
    if (link.session) link.session.dead = true;
    link.session?.sub.disconnect();
    links.delete(link.key);
    lose(`node ${link.key} left`);
  }

  /** Cluster: one link per node connection the client holds; slot owners compared with the last look. */
  function syncCluster(): void {
    if (!cluster || closed) return;
    const nodes = new Map<string, Redis>();
    for (const n of cluster.nodes('all')) nodes.set(`${n.options.host}:${n.options.port}`, n);
    for (const link of [...links.values()]) if (nodes.get(link.key) !== link.data) removeLink(link);
    for (const [key, node] of nodes) if (!links.has(key)) addLink(key, node);
    const owners = currentOwners();
    const before = slotOwners;
    if (before && owners?.some((o, i) => o !== before[i])) lose('slots changed owner');
    if (owners) slotOwners = owners;
    if (!confirmed) void pass();
  }

  function currentOwners(): string[] | undefined {
    const slots = (cluster as unknown as { slots: (string[] | undefined)[] }).slots;
    if (!Array.isArray(slots) || slots.length < SLOTS) return undefined;
    const out: string[] = new Array(SLOTS);
    for (let s = 0; s < SLOTS; s++) {
      const owner = slots[s]?.[0];
      if (owner === undefined) return undefined;
      out[s] = owner;
    }
    return out;
  }

  /** Every slot's master is a link that is set up (cluster); the one link is set up (otherwise). */
  function covered(): boolean {
    if (links.size === 0) return false;
    for (const link of links.values()) if (!link.ok) return false;
    if (!cluster) return true;
    if (cluster.status !== 'ready') return false;
    const owners = currentOwners();
    if (!owners) return false;
    const seen = new Set(owners);
    for (const key of seen) if (!links.get(key)?.ok) return false;
    slotOwners = owners;
    return true;
  }

  /** `verifyAll`, never rejecting (it runs from timers and events). */
  function pass(): Promise<void> {
    return verifyAll().catch((err: unknown) => {
      verifying = false;
      logger?.warn('redis tracking: verification failed', { error: (err as Error).message });
    });
  }

  /** One verification pass over every link; confirms (or re-confirms) trust when nothing broke meanwhile. */
  async function verifyAll(): Promise<void> {
    if (verifying || closed) return;
    if (cluster) syncClusterQuietly();
    if (!covered()) {
      // A slot without a tracked owner (a failover under way): ask for the new map now rather
      // than at the client's next periodic refresh.
      if (cluster && cluster.status === 'ready')
        (cluster as unknown as { refreshSlotsCache(): void }).refreshSlotsCache();
      return;
    }
    verifying = true;
    const start = epoch;
    const checked = [...links.values()];
    const results = await Promise.allSettled(checked.map((l) => verify(l, timeout)));
    verifying = false;
    if (closed) return;
    results.forEach((r, i) => {
      const link = checked[i]!;
      if (r.status === 'rejected' && !link.removed && link.ok)
        breakLink(link, `heartbeat of ${link.key}: ${(r.reason as Error).message}`);
    });
    if (epoch !== start || !covered()) {
      if (!confirmed) setTimeout(() => void pass(), 10).unref();
      return;
    }
    confirmedAt = Date.now();
    if (confirmed) return;
    confirmed = true;
    counts.confirmations++;
    logger?.info('redis tracking: confirmed', { links: links.size, mode });
    for (const h of handlers) h.onConfirmed();
    firstConfirmed?.();
  }

  let syncing = false;
  function syncClusterQuietly(): void {
    if (syncing) return;
    syncing = true;
    try {
      syncCluster();
    } finally {
      syncing = false;
    }
  }

  function begin(): void {
    if (cluster) {
      const sync = () => syncClusterQuietly();
      cluster.on('+node', sync);
      cluster.on('-node', sync);
      cluster.on('refresh', sync);
      cluster.on('ready', sync);
      stopCluster = () => {
        cluster.off('+node', sync);
        cluster.off('-node', sync);
        cluster.off('refresh', sync);
        cluster.off('ready', sync);
      };
      if (cluster.status === 'wait') cluster.connect().catch(() => {});
      syncClusterQuietly();
    } else {
      addLink('main', client as Redis);
    }
    heartbeat = setInterval(() => void pass(), heartbeatMs);
    heartbeat.unref();
  }
  let stopCluster: (() => void) | undefined;
  let started = false;
  let closing: Promise<void> | undefined;

  return {
    mode,
    get confirmed() {
      return confirmed;
    },
    get confirmedAt() {
      return confirmedAt;
    },
    async start(h) {
      if (closed) throw new ConfigError('createRedisTracking: tracker is closed', []);
      handlers.add(h);
      if (!started) {
        started = true;
        begin();
      }
      await first;
      return () => {
        handlers.delete(h);
      };
    },
    stats: () => ({ ...counts, links: links.size }),
    close() {
      closing ??= (async () => {
        closed = true;
        confirmed = false;
        if (heartbeat) clearInterval(heartbeat);
        stopCluster?.();
        handlers.clear();
        for (const link of [...links.values()]) {
          removeLink(link);
          // Leave the data connection as it was: it belongs to the L2.
          if (link.data.status === 'ready') link.data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {});
        }
        firstFailed?.(new Error('tracking closed before it was confirmed'));
      })();
      return closing;
    },
  };
}
