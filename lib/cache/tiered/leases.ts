/**
 * The loader leases one tiered cache holds. A load that took the cross-instance lease releases it
 * when it ends; `close()` releases every lease still held (and every one still being taken) before
 * it closes L2. Before, a cache closed during a load kept its lease in Redis for the lease's whole
 * TTL (10 s by default): the release ran once the loader returned, on a closed L2 client, and
 * failed, so every other instance missing that key waited out `leaseWait` before loading.
 *
 * `close()` also aborts the acquires in flight (`LeaseAcquireOptions.signal`), and a lease granted
 * after it began is released at once. Before, an acquire stalled in Redis (SIGSTOP) outlived
 * close()'s bounded wait: close() closed L2, Redis ran the SET once it resumed, and that lease,
 * held by nobody, stayed for its whole TTL.
 */
import { CacheError } from '../../core/errors.js';
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
  taking(acquire: (signal: AbortSignal) => Promise<Release | undefined>): Promise<Release | undefined>;
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
   * For `close()`: aborts the acquires in flight, waits for the leases being taken, then releases
   * every lease held, each wait bounded by `l2Timeout` (1 s when that is off); a lease granted
   * from then on is released at once. Never rejects.
   */
  releaseAll(): Promise<void>;
}

export function createLeases(l2Timeout: number): Leases {
  const held = new Set<Release>();
  const pending = new Set<Promise<unknown>>();
  /** One controller per acquire in flight (one listener each: no shared signal to overload). */
  const inFlight = new Set<AbortController>();
  /** Releases started and not settled yet: `releaseAll` waits for them. */
  const releasing = new Set<Promise<void>>();
  let closing = false;
  const bound = l2Timeout === Number.POSITIVE_INFINITY ? 1000 : l2Timeout;
  const within = (p: Promise<unknown>) =>
    withTimeout(p, bound, () => new Error('lease release did not answer'), { unref: true }).then(
      () => {},
      () => {},
    );
  const releaseNow = (release: Release) => {
    const done = within(Promise.resolve().then(release));
    releasing.add(done);
    done.then(() => releasing.delete(done));
  };
  const leases: Leases = {
    taking(acquire) {
      let settled!: () => void;
      const marker = new Promise<void>((resolve) => {
        settled = resolve;
      });
      pending.add(marker);
      const controller = new AbortController();
      inFlight.add(controller);
      if (closing) controller.abort(closedError());
      let called: Promise<Release | undefined>;
      try {
        called = Promise.resolve(acquire(controller.signal));
      } catch (err) {
        called = Promise.reject(err);
      }
      const tracked = called.then((release) => {
        // Granted once close() began (a lease that does not heed the signal): nobody loads under
        // it, and close() may have released what it held already.
        if (release && closing) releaseNow(release);
        else if (release) held.add(release);
        return release;
      });
      const done = () => {
        inFlight.delete(controller);
        pending.delete(marker);
        settled();
      };
      tracked.then(done, done);
      return tracked;
    },
    hold(release) {
      if (closing) releaseNow(release);
      else held.add(release);
    },
    forget(release) {
      return held.delete(release);
    },
    late(acquiring) {
      acquiring.then(
        (release) => {
          if (release && held.delete(release)) releaseNow(release);
        },
        () => {},
      );
    },
    async releaseAll() {
      closing = true;
      for (const controller of inFlight) controller.abort(closedError());
      await within(Promise.allSettled([...pending]));
      for (const release of held) releaseNow(release);
      held.clear();
      await Promise.all([...releasing]);
    },
  };
  return leases;
}

function closedError(): CacheError {
  return new CacheError('closed', 'tiered cache is closed');
}
