/**
 * Shared state of one `createRedisTracking` (./tracking.ts) and the trust changes every part makes:
 * `lose` (any event that may lose invalidations), `moved` (cluster: only some slots' keys may have
 * missed them) and `confirm` (a verification pass that nothing interrupted), plus delivery of
 * invalidation messages to the handlers.
 */
import type { Cluster, Redis } from 'iovalkey';
import type { Logger, TrackingHandlers } from '../../core/contracts.js';
import type { Link, SetupParts } from './tracking-link.js';

export interface TrackingState {
  readonly client: Redis | Cluster;
  readonly cluster: Cluster | undefined;
  readonly prefix: string;
  readonly mode: 'default' | 'bcast';
  readonly timeout: number;
  readonly logger: Logger | undefined;
  readonly links: Map<string, Link>;
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
  confirmedAt: number;
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

export function lose(s: TrackingState, reason: string): void {
  s.epoch++;
  if (!s.confirmed) return;
  s.confirmed = false;
  s.counts.losses++;
  s.logger?.warn('redis tracking: lost, L1 not trusted until confirmed again', { reason });
  for (const h of s.handlers) h.onLost(reason);
}

/**
 * Cluster: slots changed owner while every new owner's connection was already tracked. Only keys of
 * those slots may have been read from a server that no longer sees their writes; trust stays.
 */
export function moved(s: TrackingState, affected: (key: string) => boolean, reason: string): void {
  s.counts.moves++;
  s.logger?.info('redis tracking: slots changed owner, their keys dropped from L1', { reason });
  for (const h of s.handlers) h.onMoved(affected, reason);
}

/** Trust (re)gained after a verification pass that no event interrupted. */
export function confirm(s: TrackingState): void {
  s.confirmedAt = Date.now();
  if (s.confirmed) return;
  s.confirmed = true;
  s.counts.confirmations++;
  s.logger?.info('redis tracking: confirmed', { links: s.links.size, mode: s.mode });
  for (const h of s.handlers) h.onConfirmed();
  s.firstConfirmed?.();
}

export function deliver(s: TrackingState, payload: Buffer[] | null): void {
  s.counts.messages++;
  if (payload === null) {
    s.counts.flushes++;
    for (const h of s.handlers) h.onInvalidate(null);
    return;
  }
  const keys: string[] = [];
  for (const b of payload) {
    s.counts.keys++;
    const name = b.toString('utf8');
    if (name.startsWith(s.prefix)) keys.push(name.slice(s.prefix.length));
  }
  if (keys.length > 0) for (const h of s.handlers) h.onInvalidate(keys);
}
