/**
 * Background work a caller starts but does not wait for (a tiered cache's early refresh) runs
 * outside that caller's async context. Started inside it, the work inherited the caller's
 * `AsyncLocalStorage` stores — the active OpenTelemetry context among them — so a span started
 * there without an explicit parent (an auto-instrumented database or HTTP call in the loader, or
 * `withSpan(app.ctx, …)` in active-context mode) became a child of the request that happened to
 * hit the key, starting after that request had ended.
 */
import { AsyncResource } from 'node:async_hooks';

/**
 * Made when this module is first loaded — at startup, by the static imports, outside any request —
 * so its scope carries no request's stores.
 */
const detached = new AsyncResource('HyperionBackground');

/** Runs `fn` (and what it starts) in the async context this module was loaded in. */
export function runDetached<T>(fn: () => T): T {
  return detached.runInAsyncScope(fn);
}
