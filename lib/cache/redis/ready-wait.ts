/**
 * Waiting for a user's client to be ready before sending a command on it, for the parts built over
 * a client they do not own (the loader lease, the invalidation bus's publisher). A cache's client
 * has its offline queue off (./client.ts): a command sent while it was connecting (just created,
 * or reconnecting after an outage) failed at once with iovalkey's bare "Stream isn't writeable and
 * enableOfflineQueue options is false", where the cache's own commands wait at its connection
 * gate. These wait likewise for 'ready', at most the client's command timeout (1 s without one),
 * then fail with CacheError `unavailable`. Once a wait ran out, the next ones fail at once until
 * the client is ready again, so a lasting outage costs each call nothing (as the gate's `failFast`
 * after a wait ran out).
 */
import type { Cluster, Redis } from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { isReady } from './gate.js';
import { faultError, knownFault } from './tls.js';

/** Resolves once `redis` takes commands; rejects with CacheError `unavailable` (`redis <op> failed: …`). */
export type ReadyWait = (op: string) => Promise<void>;

export function createReadyWait(redis: Redis | Cluster): ReadyWait {
  let waitedOut = false;
  /** The one wait for 'ready' all callers share: resolves `undefined` when ready, else why not. */
  let readyWait: Promise<string | undefined> | undefined;
  async function connected(op: string): Promise<void> {
    if (isReady(redis)) {
      waitedOut = false;
      return;
    }
    // A fault a cache over the client knows (wrong password, untrusted certificate …): said at
    // once, as the cache says it. The lease waited the command timeout for "the client did not
    // connect within … ms", then said only "the client is not connected".
    const fault = redis.status === 'end' ? undefined : knownFault(redis);
    if (fault) throw faultError(op, fault);
    if (redis.status !== 'end' && !waitedOut) readyWait ??= waitForReady();
    const why =
      redis.status === 'end'
        ? 'the client was closed'
        : waitedOut
          ? 'the client is not connected'
          : await readyWait;
    if (why === undefined) return;
    const met = redis.status === 'end' ? undefined : knownFault(redis);
    throw met ? faultError(op, met) : new CacheError('unavailable', `redis ${op} failed: ${why}`);
  }
  function waitForReady(): Promise<string | undefined> {
    const opts = redis.options as { commandTimeout?: number; redisOptions?: { commandTimeout?: number } };
    const bound = opts.commandTimeout ?? opts.redisOptions?.commandTimeout ?? 1000;
    return new Promise<string | undefined>((resolve) => {
      const done = (why?: string) => {
        clearTimeout(timer);
        redis.off('ready', onReady);
        redis.off('end', onEnd);
        redis.off('error', onError);
        readyWait = undefined;
        resolve(why);
      };
      const onReady = () => done();
      const onEnd = () => done('the client was closed');
      // The caches' fault watches listen before this (they were attached first): a fault they
      // found in this error ends the wait (said by `connected`).
      const onError = () => {
        const fault = knownFault(redis);
        if (fault) done(fault.reason);
      };
      const timer = setTimeout(() => {
        waitedOut = true;
        done(`the client did not connect within ${bound} ms`);
      }, bound);
      timer.unref();
      redis.once('ready', onReady);
      redis.once('end', onEnd);
      redis.on('error', onError);
    });
  }
  return connected;
}
