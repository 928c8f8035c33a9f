/**
 * The `error.type` of a failed server response, shared by the server span and the request metric
 * of the same response. `traceHandler` answers a handler that threw with a bare 500 itself, so a
 * `metrics.instrument()` wrapped around it never sees the error: it recorded `error_type="500"`
 * while the span said `TypeError`. `traceHandler` notes the class here; `instrument` reads it.
 */
import type { ServerResponse } from 'node:http';

const types = new WeakMap<ServerResponse, string>();

/** Notes that `res` failed with `errorType` (the class name of what the handler threw). */
export function noteResponseError(res: ServerResponse, errorType: string): void {
  types.set(res, errorType);
}

/** The `errorType` noted for `res`, if any. */
export function responseErrorType(res: ServerResponse): string | undefined {
  return types.get(res);
}
