/**
 * Warnings of the cache: connection errors and failed operations. Connection errors repeat on
 * every reconnect attempt, so the first one is logged, then at most one per 5 s with the count of
 * those left out (`suppressed`).
 */
import type { Cluster, Redis } from 'iovalkey';
import type { Logger } from '../../core/contracts.js';
import { toCacheError } from './errors.js';
import { steadyNow } from './steady.js';

/** Logs a warning unless one was logged less than 5 s ago. */
export type Report = (message: string, fields: Record<string, unknown>) => void;

const QUIET_MS = 5000;

export function createReporter(logger: Logger): Report {
  let lastLog = 0;
  let suppressed = 0;
  return (message, fields) => {
    const now = steadyNow();
    if (now - lastLog < QUIET_MS) {
      suppressed++;
      return;
    }
    lastLog = now;
    logger.warn(message, suppressed ? { ...fields, suppressed } : fields);
    suppressed = 0;
  };
}

/**
 * Reports the client's connection errors (of every node, in a cluster); an 'error' event without
 * a listener would also crash the process. Returns the function that stops listening.
 */
export function reportConnectionErrors(
  client: Redis | Cluster,
  report: Report,
  secrets: readonly (string | undefined)[],
): () => void {
  const onError = (err: Error) =>
    report('redis connection error', { error: toCacheError('connection', err, secrets).message });
  client.on('error', onError);
  if (client.isCluster) client.on('node error', onError);
  return () => {
    client.off('error', onError);
    if (client.isCluster) client.off('node error', onError);
  };
}
