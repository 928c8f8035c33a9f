/**
 * The links of one tracker (./tracking.ts): adding and removing them, and (re)establishing each
 * with backoff whenever its data or subscriber connection breaks (set-up itself is in
 * ./tracking-link.ts).
 */
import type { Redis } from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { quietAsNode } from './client.js';
import { nodeKeyAddress } from './nodes.js';
import { iovalkey } from './peer.js';
import { createReporter } from './report.js';
import { classifyClientError, scrubCredentials } from './tls.js';
import { type Link, type SetupParts, setUp } from './tracking-link.js';
import { deliver, lose, type TrackingState } from './tracking-state.js';

const BACKOFF_MAX_MS = 1000;

/** How each link's subscriber is made and what it reports to. */
/** How long a subscriber's disconnect() waits for its socket to close before destroying it. */
export const SUBSCRIBER_DISCONNECT_MS = 100;

export function setupParts(s: TrackingState, subName: string): SetupParts {
  const { client, cluster } = s;
  // Every set-up attempt opens a subscriber, so while Redis is away (or refuses the credentials)
  // each retry's connection error was logged: ~1.5 lines a second per node (9 in 6 s on one
  // standalone server). Reported as the cache and the bus do (./report.ts): the first, then at
  // most one per 5 s with a `suppressed` count.
  const report = s.logger ? createReporter(s.logger) : undefined;
  return {
    bcast: s.mode === 'bcast',
    prefix: s.prefix,
    timeout: s.timeout,
    makeSub(link) {
      const overrides = {
        lazyConnect: true,
        enableOfflineQueue: true,
        autoResubscribe: false,
        retryStrategy: () => null,
        failoverDetector: false,
        // iovalkey's disconnect() waits this long (a ref'd timer) for the socket to close, also
        // when it closed already (a killed or dropped subscriber): the default 2 s kept a process
        // alive 2 s after close().
        disconnectTimeout: SUBSCRIBER_DISCONNECT_MS,
        connectionName: subName,
      };
      if (!cluster) return (client as Redis).duplicate(overrides);
      const { host, port } = link.data.options;
      const { Redis } = iovalkey();
      const sub = new Redis({ ...cluster.options.redisOptions, host, port, ...overrides });
      // As a duplicate of the node would be: its console prints go where the node's go.
      quietAsNode(link.data, sub);
      return sub;
    },
    onMessage: (_link, _session, payload) => deliver(s, payload),
    onSubscriberGone(link, _session) {
      breakLink(s, link, `tracking subscriber of ${nodeKeyAddress(link.key)} closed`);
    },
    onError: (err: Error) => report?.('redis tracking: connection error', { error: err.message }),
    stopReports: () => report?.stop(),
    settleReports: () => void report?.settle(),
  };
}

/** A failure retrying cannot cure: the server refused a command (ACL) or does not know it (Redis < 6.2). */
export function isRefusal(err: unknown): boolean {
  return /NOPERM|unknown (sub)?command|wrong number of arguments/i.test(String((err as Error)?.message));
}

const backoff = (failures: number) => Math.min(50 * 2 ** Math.min(failures, 5), BACKOFF_MAX_MS);

/**
 * A refusal during set-up or verification of `link`: whoever awaits the first confirmation gets a
 * CacheError naming the refused command at once (retries go on, backed off, in case the ACL is
 * fixed), and it is logged on the first and every 20th attempt.
 */
export function refused(s: TrackingState, link: Link, err: Error): void {
  link.failures++;
  s.firstFailed?.(
    new CacheError(
      'backend',
      `redis tracking refused by the server (${nodeKeyAddress(link.key)}): ${err.message.split('\n')[0]}; the user needs the ACL rules of aclRules({ tracking: true }) and Redis >= 6.2`,
      { cause: err },
    ),
  );
  if (link.failures === 1 || link.failures % 20 === 0)
    s.logger?.warn('redis tracking: refused by the server, retrying', {
      node: nodeKeyAddress(link.key),
      error: err.message,
      attempts: link.failures,
    });
}

/** Trust in `link` is lost; set it up again (at once, or backed off after a refusal). */
export function breakLink(s: TrackingState, link: Link, reason: string, refusal?: Error): void {
  link.gen++;
  link.ok = false;
  lose(s, reason);
  if (refusal) refused(s, link, refusal);
  schedule(s, link, refusal ? backoff(link.failures) : 0);
}

function schedule(s: TrackingState, link: Link, delay: number): void {
  if (s.closed || link.removed || link.busy || link.timer) return;
  link.timer = setTimeout(() => {
    link.timer = undefined;
    establish(s, link);
  }, delay);
  link.timer.unref();
}

async function establish(s: TrackingState, link: Link): Promise<void> {
  if (s.closed || link.removed) return;
  link.busy = true;
  const gen = link.gen;
  let failed = false;
  try {
    await setUp(link, s.parts);
  } catch (err) {
    failed = true;
    // Closed (or the node removed) while this set-up ran — an app closed right after it was built,
    // a reload soon after a start: its commands fail with "Connection is closed." and no retry
    // follows, but it used to be logged as "set-up failed, retrying".
    if (s.closed || link.removed) {
      // undone below
    }
    // A server that cannot track (Redis < 6.2, an ACL without the commands) will not learn it by
    // retrying: tell whoever awaits the first confirmation (retries go on regardless).
    else if (isRefusal(err)) refused(s, link, err as Error);
    else {
      // Credentials or TLS refused (a wrong password, an untrusted certificate): no retry fixes
      // that either, and whoever awaited the first confirmation (a tiered cache's `ready`) waited
      // for ever while the L2's own commands already failed naming it. Rejected at once, with
      // what the cache says; retries go on (the password or certificate may be fixed).
      const fault = classifyClientError(err, s.client);
      if (fault) {
        scrubCredentials(err);
        s.firstFailed?.(
          new CacheError(
            'unavailable',
            `redis tracking failed (${nodeKeyAddress(link.key)}): ${fault.reason}`,
            {
              cause: err,
            },
          ),
        );
      }
      link.failures++;
      if (link.failures === 1 || link.failures % 20 === 0)
        s.logger?.warn('redis tracking: set-up failed, retrying', {
          node: nodeKeyAddress(link.key),
          error: (err as Error).message,
          attempts: link.failures,
        });
    }
  } finally {
    link.busy = false;
  }
  if (s.closed || link.removed) {
    // Closed or removed while this set-up ran: removeLink saw no subscriber yet, so the one the
    // set-up opened would stay connected (and keep the process alive). Undo the set-up.
    if (link.session) link.session.dead = true;
    link.session?.sub.disconnect();
    link.session = undefined;
    if (!failed && link.data.status === 'ready') link.data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {});
    return;
  }
  if (failed && link.data.status === 'end') {
    // The data connection was closed by its owner (a tracker made over a closed client, or the L2
    // closed before its tiered cache): no retry can track it, so whoever awaits the first
    // confirmation is told at once, and the subscriber is let go. Before, the set-up was retried
    // for ever with a subscriber connected, so a tiered cache's `ready` never settled and the
    // process did not exit. A client connected again (its `ready`) is set up again.
    s.firstFailed?.(
      new CacheError(
        'unavailable',
        `redis tracking failed (${nodeKeyAddress(link.key)}): the client was closed`,
      ),
    );
    if (link.session) link.session.dead = true;
    link.session?.sub.disconnect();
    link.session = undefined;
    return;
  }
  if (failed) {
    schedule(s, link, backoff(link.failures));
    return;
  }
  if (gen !== link.gen) {
    schedule(s, link, 0);
    return;
  }
  // `failures` is reset by a verification pass (./tracking-verify.ts), not here: a set-up whose
  // verification is refused must keep backing off.
  link.ok = true;
  if (!s.confirmed) void s.pass();
}

export function addLink(s: TrackingState, key: string, data: Redis): Link {
  const link: Link = {
    key,
    data,
    session: undefined,
    ok: false,
    gen: 0,
    busy: false,
    failures: s.failedBefore.get(key) ?? 0,
    timer: undefined,
    opening: undefined,
    removed: false,
    detach: () => {
      data.off('close', onClose);
      data.off('ready', onReady);
    },
  };
  // Node names are iovalkey's bare `host:port` keys: bracket an IPv6 host as every other message does.
  const onClose = () => breakLink(s, link, `connection to ${nodeKeyAddress(key)} closed`);
  const onReady = () => schedule(s, link, 0);
  data.on('close', onClose);
  data.on('ready', onReady);
  s.links.set(key, link);
  s.failedBefore.delete(key);
  lose(s, `tracking ${nodeKeyAddress(key)}`);
  schedule(s, link, 0);
  return link;
}

export function removeLink(s: TrackingState, link: Link): void {
  link.removed = true;
  link.ok = false;
  if (link.timer) clearTimeout(link.timer);
  link.detach();
  if (link.session) link.session.dead = true;
  link.session?.sub.disconnect();
  // A subscriber still connecting: its set-up then fails at once and sees the link removed.
  link.opening?.disconnect();
  s.links.delete(link.key);
  if (link.failures > 0) s.failedBefore.set(link.key, link.failures);
  lose(s, `node ${nodeKeyAddress(link.key)} left`);
}
