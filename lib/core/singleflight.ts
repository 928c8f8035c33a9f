import { ConfigError, type ConfigIssue, typeName } from './errors.js';

/**
 * Singleflight: concurrent calls for one key share one execution. The entry is dropped as soon
 * as the call settles, so an error is delivered to every waiter and never cached.
 */
export interface Singleflight<T> {
  /** Runs `fn` unless a call for `key` is already in flight, in which case it joins that call. */
  do(key: string, fn: () => T | Promise<T>): Promise<T>;
  /**
   * Detaches the call in flight for `key` (every key when omitted): it runs on for the callers that
   * joined it, but later callers start a new one. Caches call it when the key is written, so that
   * nobody who starts reading after a write gets a value loaded before it.
   */
  forget(key?: string): void;
  /** Number of calls in flight (for tests and stats). */
  readonly size: number;
}

/**
 * The arguments of `do`, checked as the core's other exported calls check theirs. From JavaScript,
 * a `fn` that is not a function resolved `undefined` (`.then(5)` passes the value through) and was
 * shared as such by every caller of the key; a key that is not a string shared a call between
 * `undefined`s, numbers and objects.
 */
function doIssues(key: unknown, fn: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (typeof key !== 'string')
    issues.push({
      path: 'key',
      expected: 'a string',
      received: typeName(key),
      message: 'has the wrong type',
    });
  if (typeof fn !== 'function')
    issues.push({ path: 'fn', expected: 'a function', received: typeName(fn), message: 'is not a function' });
  return issues;
}

export function createSingleflight<T>(): Singleflight<T> {
  const inflight = new Map<string, Promise<T>>();
  return {
    do(key, fn) {
      if (typeof fn !== 'function' || typeof key !== 'string')
        return Promise.reject(new ConfigError('singleflight do: invalid arguments', doIssues(key, fn)));
      const running = inflight.get(key);
      if (running) return running;
      // Promise.resolve().then() also turns a synchronous throw into a rejection shared by all.
      const call: Promise<T> = Promise.resolve()
        .then(fn)
        .finally(() => {
          if (inflight.get(key) === call) inflight.delete(key);
        });
      inflight.set(key, call);
      return call;
    },
    forget(key) {
      if (key === undefined) inflight.clear();
      else inflight.delete(key);
    },
    get size() {
      return inflight.size;
    },
  };
}

/**
 * Calls for one key run one at a time, and a call never joins one that began before it: calls
 * that arrive while one runs share the next, which begins when the running one settles (at most
 * one runs and one waits per key). For callers that must not be handed a value loaded before they
 * asked, e.g. a cache that cannot see another writer's writes (its server did not answer).
 */
export interface Nextflight<T> {
  do(key: string, fn: () => T | Promise<T>): Promise<T>;
  /** Keys with a call running or waiting (for tests and stats). */
  readonly size: number;
}

export function createNextflight<T>(): Nextflight<T> {
  // key -> settles (never rejects) once the running call settled and its entry is gone
  const running = new Map<string, Promise<void>>();
  const waiting = new Map<string, Promise<T>>();
  const start = (key: string, fn: () => T | Promise<T>): Promise<T> => {
    const call: Promise<T> = Promise.resolve().then(fn);
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    const done = settled.then(() => {
      if (running.get(key) === done) running.delete(key);
    });
    running.set(key, done);
    return call;
  };
  return {
    do(key, fn) {
      const queued = waiting.get(key);
      if (queued) return queued;
      const current = running.get(key);
      if (current === undefined) return start(key, fn);
      const next = current.then(() => {
        waiting.delete(key);
        return start(key, fn);
      });
      waiting.set(key, next);
      return next;
    },
    get size() {
      return new Set([...running.keys(), ...waiting.keys()]).size;
    },
  };
}
