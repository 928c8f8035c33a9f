/**
 * Verification passes of one tracker (./tracking.ts), run after each set-up and by the heartbeat:
 * PING on each subscriber and CLIENT TRACKINGINFO on each data connection (./tracking-link.ts);
 * trust is confirmed only when no event interrupted the pass.
 */
import { nodeKeyAddress } from './nodes.js';
import { covered, syncClusterQuietly } from './tracking-cluster.js';
import { verify } from './tracking-link.js';
import { breakLink, isRefusal } from './tracking-links.js';
import { confirm, type TrackingState } from './tracking-state.js';

/** `verifyAll`, never rejecting (it runs from timers and events). */
export function pass(s: TrackingState): Promise<void> {
  return verifyAll(s).catch((err: unknown) => {
    s.verifying = false;
    s.logger?.warn('redis tracking: verification failed', { error: (err as Error).message });
  });
}

/** One verification pass over every link; confirms (or re-confirms) trust when nothing broke meanwhile. */
async function verifyAll(s: TrackingState): Promise<void> {
  const { cluster } = s;
  if (s.verifying || s.closed) return;
  if (cluster) syncClusterQuietly(s);
  if (!covered(s)) {
    // A slot without a tracked owner (a failover under way): ask for the new map now rather
    // than at the client's next periodic refresh.
    if (cluster && cluster.status === 'ready')
      (cluster as unknown as { refreshSlotsCache(): void }).refreshSlotsCache();
    return;
  }
  s.verifying = true;
  const start = s.epoch;
  const checked = [...s.links.values()];
  const results = await Promise.allSettled(checked.map((l) => verify(l, s.timeout)));
  s.verifying = false;
  if (s.closed) return;
  results.forEach((r, i) => {
    const link = checked[i]!;
    if (r.status === 'fulfilled') link.failures = 0;
    else if (!link.removed && link.ok) {
      const err = r.reason as Error;
      breakLink(
        s,
        link,
        `heartbeat of ${nodeKeyAddress(link.key)}: ${err.message}`,
        isRefusal(err) ? err : undefined,
      );
    }
  });
  if (s.epoch !== start || !covered(s)) {
    if (!s.confirmed) setTimeout(() => void pass(s), 10).unref();
    return;
  }
  confirm(s);
}
