/**
 * Requests `drainServer` refuses during a shutdown (the 503), passed through the instrumentation
 * wrapped around the server's handler, so that they still get a server span and a request metric:
 * a user watching traces and metrics during a deploy saw no trace of them at all.
 *
 * - `drainServer` marks a request it refuses with the function that writes its 503
 *   (`markRefused`), then calls only the request listeners that are `refusalAware`; a plain
 *   handler is never called for it, and the 503 is written anyway once they returned.
 * - A wrapper that knows this (`traceHandler`, `metrics.instrument`) records the request as usual
 *   and, instead of calling the handler it wraps, calls `refusalOf(req)` — unless that handler is
 *   aware too (`instrument` around a `traceHandler`): then it calls it, and the innermost aware
 *   wrapper writes the 503.
 *
 * A router of your own that dispatches to such wrappers can be marked with `refusalAware(fn)`:
 * it is then called for refused requests too, and must hand them to one of them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, typeName } from './errors.js';
import { processWide } from './process-wide.js';

/** Global symbol: two copies of the package (a bundle, a nested install) still understand each other. */
const AWARE = Symbol.for('hyperion.refusalAware');

/**
 * Shared by the copies too: with one map per copy, a `drainServer` of one copy called the aware
 * wrapper of another (the mark above is global), which found no refusal in its own map and ran the
 * handler for a request the drain refused: it got a 200 instead of its 503.
 */
const refusals = processWide('core.refusals', () => new WeakMap<IncomingMessage, () => void>());

/** Marks `req` as refused: `refuse` writes its 503 (idempotent). */
export function markRefused(req: IncomingMessage, refuse: () => void): void {
  refusals.set(req, refuse);
}

/** The function writing the 503 of a request `drainServer` refused, or `undefined` for one it serves. */
export function refusalOf(req: IncomingMessage): (() => void) | undefined {
  return refusals.get(req);
}

/**
 * Marks `listener` as one that handles refused requests (records them and calls `refusalOf(req)`
 * or an aware handler it wraps) and returns it.
 */
export function refusalAware<F extends (req: IncomingMessage, res: ServerResponse) => unknown>(
  listener: F,
): F;
export function refusalAware<F extends (...args: never[]) => unknown>(listener: F): F;
export function refusalAware<F extends (...args: never[]) => unknown>(listener: F): F {
  // A listener that is not a function (a misspelt method from JavaScript) threw a raw TypeError,
  // "Object.defineProperty called on non-object", naming neither the call nor the argument (an
  // object was marked and returned as if it were a listener).
  if (typeof listener !== 'function')
    throw new ConfigError('refusalAware: the listener is not a function', [
      {
        path: 'listener',
        expected: 'a function',
        received: typeName(listener),
        message: 'is not a function',
      },
    ]);
  Object.defineProperty(listener, AWARE, { value: true });
  return listener;
}

/** Whether `listener` was marked with `refusalAware`. */
export function isRefusalAware(listener: unknown): boolean {
  return typeof listener === 'function' && (listener as unknown as Record<symbol, unknown>)[AWARE] === true;
}
