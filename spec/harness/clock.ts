/** Test time that moves only when told to, and waiting on events instead of fixed sleeps. */

/** A manual clock in ms since the epoch, for factories with a `now` option. */
export interface ManualClock {
  now(): number;
  advance(ms: number): void;
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

/** A promise with its `resolve`/`reject` exposed, for a test to settle when an event happens. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Resolves once `count` calls of the returned `arrive()` happened; rejects after `timeoutMs`
 * naming what it waited for, so a missing event fails loudly instead of hanging the test.
 */
export function arrivals(count: number, what: string, timeoutMs = 10_000) {
  let seen = 0;
  const done = deferred<void>();
  const timer = setTimeout(
    () => done.reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen}/${count})`)),
    timeoutMs,
  );
  done.promise.then(
    () => clearTimeout(timer),
    () => {},
  );
  if (count === 0) done.resolve();
  return {
    arrive() {
      if (++seen === count) done.resolve();
    },
    get seen() {
      return seen;
    },
    all: done.promise,
  };
}

/** Yields to every pending I/O callback and `setImmediate` of this turn (no timer involved). */
export const tick = () => new Promise<void>((r) => setImmediate(r));

/** Settles like `promise`, or rejects after `ms` naming `what`: a wait on an event that fails loudly. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
