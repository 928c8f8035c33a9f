/**
 * Shared state of one `createRedisTracking` (./tracking.ts) and the trust changes every part makes:
 * `lose` (any event that may lose invalidations), `moved` (cluster: only some slots' keys may have
 * missed them) and `confirm` (a verification pass that nothing interrupted), plus delivery of
 * invalidation messages to the handlers.
 */
import type { Cluster, Redis } from 'iovalkey';
import type { Logger, TrackingHandlers } from '../../core/contracts.js';
import { steadyNow } from './steady.js';
import type { Link, SetupParts } from './tracking-link.js';

export interface TrackingState {
  readonly client: Redis | Cluster;
  readonly cluster: Cluster | undefined;
  readonly prefix: string;
  readonly mode: 'default' | 'bcast';
  readonly timeout: number;
  readonly logger: Logger | undefined;
  readonly links: Map<string, Link>;
  /**
   * Cluster: set-up failures of a node's link that was removed before it was set up again, by node
   * key. iovalkey remakes a node's connection (so its link) at each slot refresh while the node is
   * down; the new link counts on from here, so its failures are still logged on the first and every
   * 20th attempt and backed off (each new link used to start at 0: a line every ~100 ms).
   */
  readonly failedBefore: Map<string, number>;
  readonly handlers: Set<TrackingHandlers>;
  readonly counts: {
    messages: number;
    keys: number;
    flushes: number;
    losses: number;
    confirmations: number;
    moves: number;
  };
  confirmed: boolean;
  /** When (`Date.now()`, wall clock: a timestamp) the last confirmation was, 0 before the first. */
  confirmedAt: number;
  /**
   * The same moment on the monotonic clock (./steady.ts), 0 before the first: the age of the last
   * confirmation is measured from it, so a step of the wall clock does not show as an age.
   */
  confirmedSteady: number;
  /** Bumped by every event that breaks trust; a verification pass counts only if it saw none. */
  epoch: number;
  verifying: boolean;
  closed: boolean;
  /** Cluster: the owner of each slot at the last look. */
  slotOwners: string[] | undefined;
  /** Cluster: a sync is under way (events it causes do not start another). */
  syncing: boolean;
  firstConfirmed: (() => void) | undefined;
  firstFailed: ((err: Error) => void) | undefined;
  /** How a link is set up (./tracking-link.ts). */
  parts: SetupParts;
  /** A verification pass, never rejecting (./tracking-verify.ts; filled in by the wiring). */
  pass: () => Promise<void>;
}

/**
 * Tells every handler, then logs. These run from connection events and promise callbacks: a throw
 * from a handler or from the user's logger would be an uncaught exception or an unhandled
 * rejection (the process ended) and, thrown before the handlers ran, left L1 trusted after a loss.
 * Each handler is called on its own; a throw is logged, never passed on.
 */
function notify(
  s: TrackingState,
  call: (h: TrackingHandlers) => void,
  level: 'info' | 'warn',
  message: string,
  fields: Record<string, unknown>,
): void {
  for (const h of [...s.handlers]) {
    try {
      call(h);
    } catch (err) {
      log(s, 'warn', 'redis tracking: a handler threw', { error: (err as Error)?.message ?? String(err) });
    }
  }
  log(s, level, message, fields);
}

function log(
  s: TrackingState,
  level: 'info' | 'warn',
  message: string,
  fields: Record<string, unknown>,
): void {
  try {
    s.logger?.[level](message, fields);
  } catch {
    // the user's logger threw: nothing better to tell it with
  }
}

export function lose(s: TrackingState, reason: string): void {
  s.epoch++;
  if (!s.confirmed) return;
  s.confirmed = false;
  s.counts.losses++;
  notify(s, (h) => h.onLost(reason), 'warn', 'redis tracking: lost, L1 not trusted until confirmed again', {
    reason,
  });
}

/**
 * The tracker closes. A cache still attached (sharing this tracker with a cache that closed it, or
 * a tracker closed on its own) hears no invalidation any more: it must stop trusting L1, worth a
 * warning. With none attached (a tiered cache detaches before it closes its tracker) this is the
 * normal end: every clean shutdown used to log it as a loss, at warn level.
 */
export function closeTrust(s: TrackingState): void {
  if (s.handlers.size > 0) {
    lose(s, 'tracker closed');
    return;
  }
  s.epoch++;
  if (s.confirmed) log(s, 'info', 'redis tracking: closed', { links: s.links.size });
  s.confirmed = false;
}

/**
 * Cluster: slots changed owner while every new owner's connection was already tracked. Only keys of
 * those slots may have been read from a server that no longer sees their writes; trust stays.
 */
export function moved(s: TrackingState, affected: (key: string) => boolean, reason: string): void {
  s.counts.moves++;
  notify(
    s,
    (h) => h.onMoved(affected, reason),
    'info',
    'redis tracking: slots changed owner, their keys dropped from L1',
    {
      reason,
    },
  );
}

/** Trust (re)gained after a verification pass that no event interrupted. */
export function confirm(s: TrackingState): void {
  s.confirmedAt = Date.now();
  s.confirmedSteady = steadyNow();
  if (s.confirmed) return;
  s.confirmed = true;
  s.counts.confirmations++;
  // Connection errors held back by the rate limit are written before this line, not after it.
  s.parts.settleReports();
  notify(s, (h) => h.onConfirmed(), 'info', 'redis tracking: confirmed', {
    links: s.links.size,
    mode: s.mode,
  });
  s.firstConfirmed?.();
}

/**
 * Tells every handler of an invalidation, each on its own as `notify` does: a handler that threw
 * was an uncaught exception out of the client's event (the process ended), and the handlers after
 * it — a tiered cache — kept serving the key's old value from L1.
 */
function invalidate(s: TrackingState, keys: readonly string[] | null): void {
  for (const h of [...s.handlers]) {
    try {
      h.onInvalidate(keys);
    } catch (err) {
      if (warnedInvalidate.has(h)) continue;
      warnedInvalidate.add(h);
      log(s, 'warn', 'redis tracking: an onInvalidate handler threw (warned once per handler)', {
        error: (err as Error)?.message ?? String(err),
      });
    }
  }
}
const warnedInvalidate = new WeakSet<TrackingHandlers>();

export function deliver(s: TrackingState, payload: Buffer[] | null): void {
  s.counts.messages++;
  if (payload === null) {
    s.counts.flushes++;
    invalidate(s, null);
    return;
  }
  const keys: string[] = [];
  for (const b of payload) {
    s.counts.keys++;
    const name = b.toString('utf8');
    if (name.startsWith(s.prefix)) keys.push(name.slice(s.prefix.length));
  }
  if (keys.length > 0) invalidate(s, keys);
}
