/** Time helpers of the tiered cache: bounded L2 waits, TTL jitter, the deadline queue. */
import { CacheError } from '../../core/errors.js';
import { withTimeout as boundedWait } from '../../core/timeout.js';

// The timers here are deliberately not unref'd: each bounds an operation a caller is awaiting,
// is cleared as soon as that operation settles, and must fire even when nothing else keeps the
// event loop alive (an unref'd timer would let the process exit with the caller still waiting).

/** Settles like `promise`, or rejects with `CacheError('timeout')` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return boundedWait(promise, ms, () => new CacheError('timeout', `${what} did not answer within ${ms} ms`));
}

/** `ttl` moved uniformly by up to ± `fraction` of itself (never below 1 ms). */
export function jitterTtl(ttl: number, fraction: number, random: () => number): number {
  if (fraction === 0) return ttl;
  return Math.max(1, ttl * (1 + fraction * (2 * random() - 1)));
}

/** A pending deadline; set `fire` to `undefined` to cancel it. */
export interface Deadline {
  readonly at: number;
  fire: (() => void) | undefined;
}

/**
 * Deadlines that all share one duration, so they expire in the order they were made: a FIFO queue
 * served by a single timer armed for the head. Tracking and cancelling cost a push and a field
 * write, where a timer per call would cost a setTimeout and a clearTimeout on every L2 hit.
 * The timer is ref'd while deadlines are pending (it bounds calls that callers await) and is not
 * re-armed once the queue is empty. A cancelled deadline leaves the timer armed for it (cheap on
 * the hot path); `prune()` re-arms it for the first live deadline or drops it when none is left,
 * so a closed cache does not keep the process alive for up to `ms` after its last call.
 */
export function createDeadlineQueue(ms: number): { track(fire: () => void): Deadline; prune(): void } {
  const queue: Deadline[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;

  const arm = () => {
    while (head < queue.length && queue[head]!.fire === undefined) head++;
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
      timer = undefined;
      return;
    }
    // Drop the consumed prefix now and then, so the array does not grow under steady load.
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    timer = setTimeout(expire, Math.max(0, queue[head]!.at - performance.now()));
  };
  const expire = () => {
    const t = performance.now();
    const due: (() => void)[] = [];
    while (head < queue.length) {
      const d = queue[head]!;
      if (d.fire !== undefined && d.at > t) break;
      head++;
      if (d.fire !== undefined) due.push(d.fire);
      d.fire = undefined;
    }
    arm();
    // Fired after the next poll phase, not now: timers run before I/O, so after the event loop
    // was blocked (a long synchronous task, a GC pause) every deadline expired before the answers
    // that came meanwhile were read. Before, one 1 s stall with 10 L2 reads in flight, all
    // answered by then, made 10 timeouts: 10 misses, and the breaker opened — L2 skipped and
    // writes refused for the whole cool-down, against a healthy Redis. An answer already here now
    // settles its call first (a fired deadline of a settled call does nothing); a call still
    // unanswered times out one poll phase later.
    if (due.length > 0)
      setImmediate(() => {
        for (const fire of due) fire();
      });
  };
  return {
    track(fire) {
      const d: Deadline = { at: performance.now() + ms, fire };
      queue.push(d);
      if (timer === undefined) arm();
      return d;
    },
    prune() {
      if (timer === undefined) return;
      clearTimeout(timer);
      arm();
    },
  };
}
