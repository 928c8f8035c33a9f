/**
 * The loader leases one tiered cache holds. A load that took the cross-instance lease releases it
 * when it ends; `close()` releases every lease still held (and every one still being taken) before
 * it closes L2. Before, a cache closed during a load kept its lease in Redis for the lease's whole
 * TTL (10 s by default): the release ran once the loader returned, on a closed L2 client, and
 * failed, so every other instance missing that key waited out `leaseWait` before loading.
 */
import { withTimeout } from '../../core/timeout.js';

type Release = () => Promise<void>;

export interface Leases {
  /**
   * Calls `acquire` (it resolves the lease's release, or `undefined` when another holder has it),
   * tracking it from before the call, and returns its result; a lease taken is held until
   * {@link Leases.forget}. Tracked before the call: an `acquire` that itself calls `close()` (a
   * lease of the user's) is waited for by that close (before, close() found nothing pending, the
   * lease was granted after it and stayed in Redis for its whole TTL).
   */
  taking(acquire: () => Promise<Release | undefined>): Promise<Release | undefined>;
  /** Starts tracking a release this cache got some other way (a lease taken over while waiting). */
  hold(release: Release): void;
  /**
   * Stops tracking `release`; true when it was still held (the caller then releases it), false
   * when `close()` released it already.
   */
  forget(release: Release): boolean;
  /** Releases a lease taken too late to be used (its wait had given up); never rejects. */
  late(acquiring: Promise<Release | undefined>): void;
  /**
   * For `close()`: waits for the leases being taken, then releases every lease held, each wait
   * bounded by `l2Timeout` (1 s when that is off). Never rejects.
   */
  releaseAll(): Promise<void>;
}

export function createLeases(l2Timeout: number): Leases {
  const held = new Set<Release>();
  const pending = new Set<Promise<unknown>>();
  const bound = l2Timeout === Number.POSITIVE_INFINITY ? 1000 : l2Timeout;
  const within = (p: Promise<unknown>) =>
    withTimeout(p, bound, () => new Error('lease release did not answer'), { unref: true }).then(
      () => {},
      () => {},
    );
  const leases: Leases = {
    taking(acquire) {
      let settled!: () => void;
      const marker = new Promise<void>((resolve) => {
        settled = resolve;
      });
      pending.add(marker);
      let called: Promise<Release | undefined>;
      try {
        called = Promise.resolve(acquire());
      } catch (err) {
        called = Promise.reject(err);
      }
      const tracked = called.then((release) => {
        if (release) held.add(release);
        return release;
      });
      const done = () => {
        pending.delete(marker);
        settled();
      };
      tracked.then(done, done);
      return tracked;
    },
    hold(release) {
      held.add(release);
    },
    forget(release) {
      return held.delete(release);
    },
    late(acquiring) {
      acquiring.then(
        (release) => {
          if (release && held.delete(release)) within(Promise.resolve().then(release));
        },
        () => {},
      );
    },
    async releaseAll() {
      await within(Promise.allSettled([...pending]));
      const all = [...held];
      held.clear();
      await Promise.all(all.map((release) => within(Promise.resolve().then(release))));
    },
  };
  return leases;
}
