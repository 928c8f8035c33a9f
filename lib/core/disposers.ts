/**
 * An ordered stack of disposers: run in reverse order of registration, each at most once, each
 * bounded by a timeout; every failure is collected and reported together after all have run.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CloseError, ConfigError, HyperionError, TimeoutError, typeName } from './errors.js';
import { MAX_TIMER_MS, rejectUnknownKeys, shownDuration } from './options.js';
import { withTimeout } from './timeout.js';

/** What a disposer is told when it runs: its budget, so it can finish (or give up cleanly) within it. */
export interface DisposeInfo {
  /** This disposer's budget, ms (the stack's `timeoutMs`; `Infinity` when unbounded). */
  readonly timeoutMs: number;
  /** Aborts when the budget is spent (the stack has then moved on): cut whatever is left. */
  readonly signal: AbortSignal;
}

/** Closes one thing. Disposers that take no argument ignore their budget. */
export type Disposer = (info: DisposeInfo) => void | Promise<void>;

export interface DisposerStack {
  /** Registers a disposer. After `dispose()` started, the disposer runs at once instead. */
  add(name: string, fn: Disposer): void;
  /** Runs every disposer once; concurrent and repeated calls share the first run. */
  dispose(): Promise<void>;
  readonly disposed: boolean;
}

/**
 * A disposer budget: 1 ms up to `MAX_TIMER_MS` (Node fires a longer timer after 1 ms, so every
 * async disposer would time out at once), or `Infinity` for none.
 */
export function checkDisposeTimeout(value: unknown, name = 'disposeTimeoutMs'): number {
  if (value === undefined) return 10_000;
  const ok =
    typeof value === 'number' &&
    (value === Number.POSITIVE_INFINITY || (Number.isFinite(value) && value >= 1 && value <= MAX_TIMER_MS));
  if (!ok) {
    // Duration text (`'5s'`) is shown with the number to give instead, as by every ms option.
    const received = shownDuration(value);
    throw new ConfigError(`invalid ${name}: ${received}`, [
      {
        path: name,
        expected: `a number of milliseconds from 1 to ${MAX_TIMER_MS} (about 24.8 days), or Infinity for no bound`,
        received,
        message: typeof value === 'number' ? 'is out of range' : 'has the wrong type',
      },
    ]);
  }
  return value;
}

/**
 * The stack whose disposer is running in this async context. A disposer that calls `dispose()`
 * of its own stack (a component's close() calling a shutdown helper that awaits `app.close()`)
 * waited for a close that waits for it: stuck until its budget ran out, then a TimeoutError.
 */
const runningIn = new AsyncLocalStorage<object>();

/** Runs `fn` outside any disposer of any stack (its `app.close()` then joins the close in progress). */
export function outsideDisposers<T>(fn: () => T): T {
  return runningIn.exit(fn);
}

const STACK_KEYS = ['timeoutMs'];

export function createDisposerStack(options: { timeoutMs?: number | undefined } = {}): DisposerStack {
  // Checked like every other options object: `null` threw a TypeError ("reading 'timeoutMs'"), and
  // a misspelt key (`{ timeout: 500 }`) was ignored, so every disposer got the 10 s default.
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('createDisposerStack: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  rejectUnknownKeys(options, STACK_KEYS, 'createDisposerStack');
  const timeoutMs = checkDisposeTimeout(options.timeoutMs, 'timeoutMs');
  const stack: { name: string; fn: Disposer }[] = [];
  let running: Promise<void> | undefined;

  // `background`: a late registration nobody awaits. A run of `dispose()` is awaited, so its timer
  // holds the event loop: with nothing else alive (a disposer waiting on a promise that holds no
  // handle), an unref'd timer would let the process exit mid-close and skip the disposers left.
  const runOne = async (name: string, fn: Disposer, background = false): Promise<void> => {
    const budget = new AbortController();
    let expired: TimeoutError | undefined;
    try {
      await withTimeout(
        Promise.resolve().then(() => runningIn.run(stack, () => fn({ timeoutMs, signal: budget.signal }))),
        timeoutMs,
        () => {
          expired = new TimeoutError(`disposer "${name}" did not finish within ${timeoutMs} ms`);
          budget.abort(expired);
          return expired;
        },
        { unref: background },
      );
    } catch (err) {
      // Only the stack's own timeout comes out as is; anything the disposer threw (a TimeoutError
      // of its own included) is wrapped, so the report names the disposer and carries a code like
      // every error Hyperion throws.
      // (`expired` set: a disposer that rejected with `undefined` before its budget ran out
      // compared equal to the unset `expired` and was reported as a bare `undefined`.)
      throw expired !== undefined && err === expired
        ? err
        : new HyperionError('dispose_failed', `disposer "${name}" failed`, { cause: err });
    }
  };

  return {
    add(name, fn) {
      // Checked now: a disposer that is not a function (`app.defer('db', pool.end)` with a typo'd
      // method) was only found at shutdown, as a failed close.
      if (typeof fn !== 'function' || typeof name !== 'string')
        // The name is shown only when it is a string: `String(name)` threw a raw TypeError for a
        // Symbol or a null-prototype object, instead of this error naming the bad argument.
        throw new ConfigError(
          `invalid disposer ${typeof name === 'string' ? JSON.stringify(name) : `(name: ${typeName(name)})`}`,
          [
            ...(typeof name === 'string'
              ? []
              : [
                  {
                    path: 'name',
                    expected: 'a string',
                    received: typeName(name),
                    message: 'has the wrong type',
                  },
                ]),
            ...(typeof fn === 'function'
              ? []
              : [
                  {
                    path: 'fn',
                    expected: 'a function',
                    received: typeName(fn),
                    message: 'must be a function',
                  },
                ]),
          ],
        );
      if (running) {
        // Late registration: dispose immediately, report failures without crashing the caller.
        // The warning names the disposer and what it threw (the cause was left out).
        runOne(name, fn, true).catch((err) =>
          process.emitWarning(describeFailure(err), 'HyperionDisposeWarning'),
        );
        return;
      }
      stack.push({ name, fn });
    },
    dispose() {
      // Called from one of this stack's own disposers: the close it is part of goes on, and this
      // call resolves at once instead of waiting for itself.
      if (running && runningIn.getStore() === stack) return Promise.resolve();
      running ??= (async () => {
        const errors: unknown[] = [];
        const failed: string[] = [];
        while (stack.length > 0) {
          const { name, fn } = stack.pop()!;
          try {
            await runOne(name, fn);
          } catch (err) {
            errors.push(err);
            failed.push(JSON.stringify(name.slice(0, 64)));
          }
        }
        // The names in the message: a log line of it (closeOnSignals' default onError, a logger
        // that does not walk `errors`) said only how many failed, not which.
        if (errors.length > 0)
          throw new CloseError(
            errors,
            `${errors.length} disposer(s) failed during close: ${failed.slice(0, 10).join(', ')}${failed.length > 10 ? ', …' : ''}`,
          );
      })();
      return running;
    },
    get disposed() {
      return running !== undefined;
    },
  };
}

/** `disposer "x" failed: <what it threw>` for a warning (a message alone dropped the cause). */
function describeFailure(err: unknown): string {
  const text = (e: unknown) => (e instanceof Error ? e.message : String(e));
  if (err instanceof HyperionError && err.code === 'dispose_failed')
    return `${err.message}: ${text(err.cause)}`;
  return text(err);
}
