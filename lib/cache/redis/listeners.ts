/**
 * Room on a shared client for the listeners a cache or bus adds. One client serving several
 * caches (one per key prefix) is a documented use, but each cache adds up to three listeners to
 * some events of the client ('error', 'ready'): from the fourth cache on, Node printed
 * `MaxListenersExceededWarning: Possible EventEmitter memory leak` for a client that leaked
 * nothing. Each user of the client raises the client's limit by what it adds, and lowers it
 * again when it closes; a limit of 0 or Infinity (no limit) is left alone.
 */
import type { EventEmitter } from 'node:events';

/** Raises `client`'s listener limit by `per` (the most listeners the caller adds to one event); returns the undo. */
export function makeListenerRoom(client: EventEmitter, per: number): () => void {
  if (!hasLimit(client)) return () => {};
  client.setMaxListeners(client.getMaxListeners() + per);
  let undone = false;
  return () => {
    if (undone) return;
    undone = true;
    // Only when still limited and above what was added (the user may have changed it meanwhile).
    const limit = client.getMaxListeners();
    if (hasLimit(client) && limit > per) client.setMaxListeners(limit - per);
  };
}

function hasLimit(client: EventEmitter): boolean {
  const limit = client.getMaxListeners();
  return limit !== 0 && Number.isFinite(limit);
}
