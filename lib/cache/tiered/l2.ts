/**
 * Guarded access to L2, the level that can fail. Every L2 call (and every lease call) goes through
 * `guard`: refused while the circuit breaker is open, bounded by `l2Timeout`, and classified so
 * that only outages feed the breaker while caller errors pass through untouched.
 */
import type { Logger } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import type { Breaker } from './breaker.js';
import type { Counters } from './stats.js';
import { createDeadlineQueue, type Deadline } from './timing.js';

/** Error codes that mean "L2 could not answer" (they feed the breaker); others are the caller's problem. */
const OUTAGE_CODES = new Set(['timeout', 'unavailable', 'backend']);

/** True when `err` means L2 (or the lease store) could not answer, rather than a bad call. */
export function isOutage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return !(err instanceof CacheError) || OUTAGE_CODES.has(code as string);
}

/**
 * For writes: an L2 failure becomes a CacheError naming L2, the operation and the key (one key);
 * a caller error passes unchanged. It said only "L2 write failed", for a `delete` or `clear()` of
 * an L2 of your own whose error is not a CacheError too, naming neither.
 */
export function l2WriteError(err: unknown, op: string, key?: string): unknown {
  if (err instanceof CacheError) return err;
  const of = key === undefined ? '' : ` of ${JSON.stringify(key)}`;
  return new CacheError('backend', `tiered cache: L2 ${op}${of} failed`, { cause: err });
}

/**
 * The failure that opened the breaker, for its record: the record said only that it opened, so a
 * tiered cache whose L2 logs nothing of its own (no `logger` on it) never said why.
 */
function cause(err: unknown): { error: string; code?: string } {
  const e = err as { message?: unknown; code?: unknown } | null | undefined;
  const error = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' ? { error, code: e.code } : { error };
}

/**
 * True when a caller error (not an outage) came from L2's reply: the error names the reply it was
 * made from as its `cause`, as the Redis cache's errors for a server reply do. An error without
 * one was raised before anything reached L2 (an input check), so it is no evidence L2 answers.
 */
function answered(err: unknown): boolean {
  return (err as { cause?: unknown } | null)?.cause !== undefined;
}

const SKIPPED = () => new CacheError('unavailable', 'L2 skipped: its circuit breaker is open');

/**
 * True when `err` is a timeout that came more than half of `l2Timeout` after `deadline` (the
 * call's own bound): the process, not L2, was too slow to hear the answer in time.
 */
function stalled(deadline: Deadline | undefined, err: unknown, l2Timeout: number): boolean {
  if (deadline === undefined || (err as { code?: unknown } | null)?.code !== 'timeout') return false;
  return performance.now() - deadline.at > l2Timeout / 2;
}

/** Runs one L2 call (`what` names it in the timeout error) under the breaker and the timeout. */
export interface Guard {
  <T>(what: string, call: () => Promise<T>): Promise<T>;
  /**
   * A call beside the cache's own L2 traffic (the loader lease): bounded by `l2Timeout`, but the
   * breaker neither holds it back (a lease release matters to the other instances) nor hears of
   * its outcome (its errors still count in `l2Errors`). A lease is an optional help whose failure only means
   * loading locally; counted, a lease the server refuses (an ACL without the lease keys: NOPERM,
   * code `backend`) opened the breaker and skipped L2 for every key — ten concurrent misses did
   * it — while every read and store was answered.
   */
  side<T>(what: string, call: () => Promise<T>): Promise<T>;
  /**
   * A write or delete that carries its caller's own budget (`{ timeout }` shorter than
   * `l2Timeout`, passed to L2 as the command's deadline): guarded as any call, except that a
   * `timeout` from L2 is that budget running out, not L2 failing to answer within `l2Timeout`. It
   * counts in `l2Errors` and `budgetTimeouts` but not toward the breaker, and a probe that ends so
   * hands the probe to the next call. Counted, five `set(…, { timeout: 1 })` on a healthy Redis
   * (a budget of 5 ms or less always times out there: the Redis cache's deadline margin) opened the
   * breaker, and L2 was skipped for every caller for the cool-down. Timed out at the guard's own
   * `l2Timeout` (an L2 that ignores the budget), it counts as usual.
   */
  budgeted<T>(what: string, call: () => Promise<T>): Promise<T>;
  /**
   * For `close()`: from now on the shared deadline timer stays armed only for calls still
   * waiting, and is gone once the last of them settled (else it stayed armed, ref'd, until the
   * last call's deadline: up to `l2Timeout` after close, keeping the process alive).
   */
  drain(): void;
}

export interface GuardOptions {
  breaker: Breaker;
  /** Upper bound (ms) of each call; `Infinity` = unbounded. */
  l2Timeout: number;
  counters: Counters;
  logger: Logger | undefined;
  instanceId: string;
}

/** Builds the guard of one tiered cache; its deadlines share one timer (see `createDeadlineQueue`). */
export function createGuard({ breaker, l2Timeout, counters, logger, instanceId }: GuardOptions): Guard {
  const deadlines = l2Timeout === Number.POSITIVE_INFINITY ? undefined : createDeadlineQueue(l2Timeout);
  let draining = false;
  // Probes that failed (each re-opened the breaker) since it last closed.
  let failedProbes = 0;
  const cancel = (deadline: Deadline | undefined) => {
    if (!deadline) return;
    deadline.fire = undefined;
    if (draining) deadlines?.prune();
  };

  // L2 answered (a value, or a caller error such as WRONGTYPE): a probe that gets either closes
  // the breaker, and says so. A probe answered with a caller error closed it without the "closed"
  // record, so the log read "opened", "opened" for one outage after another, and the next
  // record's `failedProbes` counted the earlier outage's too.
  const closeBreaker = (recovering: boolean) => {
    breaker.success();
    if (!recovering) return;
    logger?.info('tiered cache: L2 circuit breaker closed', { cache: 'tiered', instanceId, failedProbes });
    failedProbes = 0;
  };

  // Written as one promise rather than nested async functions: it is on every L2 hit.
  function guarded<T>(what: string, call: () => Promise<T>, side = false, budgeted = false): Promise<T> {
    // A side call never takes the half-open probe: it would not report back, leaving it taken.
    if (!side && !breaker.allow()) {
      counters.l2Skipped++;
      return Promise.reject(SKIPPED());
    }
    const recovering = !side && breaker.state() !== 'closed';
    return new Promise<T>((resolve, reject) => {
      let deadline: Deadline | undefined;
      let done = false;
      const fail = (err: unknown, own = false) => {
        if (done) return;
        done = true;
        cancel(deadline);
        if (isOutage(err)) {
          counters.l2Errors++;
          if (side) return reject(err);
          // The caller's own budget ran out (see `budgeted`): no verdict on L2.
          if (budgeted && !own && (err as { code?: unknown } | null)?.code === 'timeout') {
            counters.budgetTimeouts++;
            if (recovering) breaker.release();
            return reject(err);
          }
          // A timeout reported long after this call's own deadline: the event loop was blocked
          // (a long synchronous task, a GC pause), and L2's own timer (a Redis write's budget is
          // this one) fired before the answer that had come meanwhile was read. That is no
          // evidence against L2: before, one 1 s stall with 10 writes in flight opened the breaker,
          // and L2 was skipped (every write refused) for the cool-down against a healthy Redis. It
          // still rejects; a probe's outcome is always counted (the breaker waits for it).
          if (!recovering && stalled(deadline, err, l2Timeout)) return reject(err);
          const opens = breaker.opens;
          breaker.failure();
          // Logged when it opens from closed; a failed probe re-opens it without a record (counted
          // for the "closed" one): one record per cool-down for the whole outage was a flood at a
          // short cooldown (13 in 15 s of Redis down at `cooldown: 500`).
          if (breaker.opens !== opens) {
            if (recovering) failedProbes++;
            else
              logger?.warn('tiered cache: L2 circuit breaker opened', {
                cache: 'tiered',
                instanceId,
                ...cause(err),
              });
          }
        } else if (!side) {
          // A caller error is L2's answer only when made from its reply (`cause`: WRONGTYPE, OOM…).
          // One raised before anything was sent (the Redis cache's own checks: a value over 512 MiB
          // with its envelope, L2 closed) says nothing of L2: before, it closed a half-open breaker
          // (logged "closed") with Redis still down, and every call then waited out l2Timeout
          // until the breaker re-opened. The probe passes to the next call, as for a budget timeout.
          if (answered(err)) closeBreaker(recovering);
          else if (recovering) breaker.release();
        }
        reject(err);
      };
      let pending: Promise<T>;
      try {
        pending = call();
      } catch (err) {
        fail(err);
        return;
      }
      deadline = deadlines?.track(() =>
        fail(new CacheError('timeout', `L2 ${what} did not answer within ${l2Timeout} ms`), true),
      );
      pending.then((value) => {
        if (done) return;
        done = true;
        cancel(deadline);
        if (side) return resolve(value);
        closeBreaker(recovering);
        resolve(value);
      }, fail);
    });
  }
  return Object.assign(guarded, {
    side: <T>(what: string, call: () => Promise<T>) => guarded(what, call, true),
    budgeted: <T>(what: string, call: () => Promise<T>) => guarded(what, call, false, true),
    drain() {
      draining = true;
      deadlines?.prune();
    },
  });
}
