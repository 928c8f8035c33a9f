/**
 * Calms iovalkey's cluster subscriber (the connection a Cluster subscribes on, e.g. the
 * invalidation bus's). When that connection ends, iovalkey at once picks another node and connects
 * there (no retry of its own: `retryStrategy: null`), and when that one ends too, again. With
 * every node of the cluster down (a cluster restart, a network partition, nodes refusing) that was
 * a tight loop: found from outside, ~1,300 connection attempts a second for as long as the outage
 * lasted, and since each pick also disconnects the last subscriber that was ever live again,
 * one more 'close' listener and timer on its dead socket per attempt (a
 * MaxListenersExceededWarning within ~10 ms, thousands of listeners after a few seconds).
 *
 * Here a pick that follows failed ones waits (50 ms doubling up to 1 s; the first pick after a
 * live connection, and the one when the cluster is ready again, are made at once, so a moved
 * subscriber re-subscribes as fast as before), and a
 * subscriber connection is disconnected once: later calls on an ended one change nothing. Left as
 * is when the client has no such subscriber (another iovalkey version).
 */
import type { Redis } from 'iovalkey';

const FIRST_WAIT_MS = 50;
const MAX_WAIT_MS = 1000;

interface Subscriber {
  started?: boolean;
  start?: () => void;
  subscriber?: Redis | null;
  selectSubscriber?: () => void;
}

export function calmClusterSubscriber(cluster: unknown): void {
  const s = (cluster as { subscriber?: Subscriber } | undefined)?.subscriber;
  const select = s?.selectSubscriber;
  if (!s || typeof select !== 'function') return;
  let failed = 0; // picks since the last live connection
  let lastAt = Number.NEGATIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // start() (the cluster ready again) picks at once: the cluster sends the commands it queued
  // meanwhile (a SUBSCRIBE) to the subscriber that pick makes.
  const start = s.start;
  if (typeof start === 'function')
    s.start = function (this: Subscriber) {
      failed = 0;
      if (timer) clearTimeout(timer);
      timer = undefined;
      start.call(this);
    };
  s.selectSubscriber = function (this: Subscriber) {
    const wait = failed === 0 ? 0 : Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (failed - 1));
    const left = lastAt + wait - performance.now();
    if (left > 0) {
      timer ??= setTimeout(() => {
        timer = undefined;
        if (s.started) s.selectSubscriber?.();
      }, left);
      timer.unref?.();
      return;
    }
    lastAt = performance.now();
    failed++;
    select.call(this);
    const sub = s.subscriber;
    if (!sub) return;
    sub.once('ready', () => {
      failed = 0;
    });
    const disconnect = sub.disconnect.bind(sub);
    let ended = false;
    sub.disconnect = (reconnect?: boolean) => {
      if (ended) return;
      if (!reconnect) ended = true;
      disconnect(reconnect);
    };
  };
}
