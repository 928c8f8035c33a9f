/**
 * Warnings of the cache: connection errors and failed operations. Connection errors repeat on
 * every reconnect attempt, so the first one is logged, then at most one per 5 s with the count of
 * those left out (`suppressed`). What the quiet time held back is written when it ends (the
 * latest record held back, with the count of the others): before, it waited for the next warning,
 * so an outage that ended within 5 s of its first line — a killed server restarted, a cluster
 * failover — never logged the operations that failed meanwhile, and its count was put on the
 * first line of the next outage, maybe days later.
 */
import type { Cluster, Redis } from 'iovalkey';
import type { Logger } from '../../core/contracts.js';
import { toCacheError } from './errors.js';
import { describeNodes, nodeKeyAddress } from './nodes.js';
import { steadyNow } from './steady.js';
import { classifyClientError, faultError } from './tls.js';

/** Logs a warning unless one was logged less than 5 s ago (then it is held back, see above). */
export interface Report {
  (message: string, fields: Record<string, unknown>): void;
  /** Its owner is closing: what is held back is dropped, and nothing more is logged. */
  stop(): void;
  /**
   * Writes what is held back now, rather than when the quiet time ends, and says whether a warning
   * was written since the last call: the connection is back, and its line follows the outage's.
   */
  settle(): boolean;
}

const QUIET_MS = 5000;

export function createReporter(logger: Logger): Report {
  let lastLog = 0;
  let suppressed = 0;
  let stopped = false;
  let wrote = false;
  let heldBack: { message: string; fields: Record<string, unknown> } | undefined;
  // Writes what was held back when the quiet time ends; unref'd, and cleared by stop().
  let timer: NodeJS.Timeout | undefined;
  const write = (message: string, fields: Record<string, unknown>) => {
    lastLog = steadyNow();
    wrote = true;
    logger.warn(message, suppressed ? { ...fields, suppressed } : fields);
    suppressed = 0;
  };
  const writeHeldBack = () => {
    timer = undefined;
    const held = heldBack;
    heldBack = undefined;
    if (stopped || !held) return;
    suppressed--; // the held-back record itself is written
    write(held.message, held.fields);
  };
  const report = (message: string, fields: Record<string, unknown>) => {
    if (stopped) return;
    const now = steadyNow();
    if (now - lastLog < QUIET_MS) {
      suppressed++;
      heldBack = { message, fields };
      if (timer === undefined) {
        timer = setTimeout(writeHeldBack, lastLog + QUIET_MS - now);
        timer.unref();
      }
      return;
    }
    // A timer due about now but not run yet: this record carries the count instead.
    heldBack = undefined;
    clearTimeout(timer);
    timer = undefined;
    write(message, fields);
  };
  return Object.assign(report, {
    stop() {
      stopped = true;
      heldBack = undefined;
      clearTimeout(timer);
      timer = undefined;
    },
    settle() {
      if (heldBack) {
        clearTimeout(timer);
        writeHeldBack();
      }
      const written = wrote;
      wrote = false;
      return written && !stopped;
    },
  });
}

/**
 * Reports the client's connection errors (of every node, in a cluster); an 'error' event without
 * a listener would also crash the process. Returns the function that stops listening.
 */
export function reportConnectionErrors(
  client: Redis | Cluster,
  report: (message: string, fields: Record<string, unknown>) => void,
  secrets: readonly (string | undefined)[],
): () => void {
  // Named by where it happened, as a command's error is: the line said "redis connection failed:
  // authentication failed …" or "… no TLS reply …" without the server, and in a cluster without
  // the node (a 'node error' comes with its address).
  // A refused login is told as a command meets it (at a sentinel or the master; a password
  // required and none given): the line said "the server refused the username/password" for all.
  const reportAt = (err: Error, where: string) => {
    const fault = classifyClientError(err, client);
    const error =
      fault?.kind === 'auth'
        ? faultError('connection', fault, where)
        : toCacheError('connection', err, secrets, where);
    report('redis connection error', { error: error.message });
  };
  const onError = (err: Error) => reportAt(err, describeNodes(client, err));
  const onNodeError = (err: Error, address?: unknown) =>
    reportAt(err, typeof address === 'string' ? nodeKeyAddress(address) : describeNodes(client, err));
  client.on('error', onError);
  if (client.isCluster) client.on('node error', onNodeError);
  return () => {
    client.off('error', onError);
    if (client.isCluster) client.off('node error', onNodeError);
  };
}
