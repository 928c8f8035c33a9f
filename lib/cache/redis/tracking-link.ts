/**
 * One tracked connection of `createRedisTracking` (./tracking.ts): a data connection that serves
 * reads (the L2 client in standalone/sentinel mode, one node connection of a cluster) and its own
 * subscriber session on the same server. Set-up, in this order:
 *
 *   subscriber: connect → CLIENT ID + INFO server (its id and the server's run_id) → SUBSCRIBE __redis__:invalidate
 *   data:       INFO server + CLIENT TRACKING OFF + CLIENT TRACKING ON REDIRECT <id> [BCAST PREFIX p]
 *               (one pipeline on the one connection, so all three reach the same server)
 *
 * The run_ids must match: client ids are per server, so a redirect to the id of a subscriber on
 * another server (possible for a moment during a sentinel failover) would send the invalidations
 * to a stranger. A subscriber session is never reconnected: when it closes it is replaced, so its
 * id is fixed for its whole life. `gen` counts the events that undo a set-up (either connection
 * closing); a set-up that saw `gen` change while it ran does not count.
 */
import type { Redis } from 'iovalkey';
import { withTimeout } from '../../core/timeout.js';
import { classifyConnectionError } from './tls.js';

/** The pub/sub channel Redis sends RESP2 redirected invalidations on. */
export const INVALIDATE_CHANNEL = '__redis__:invalidate';

export interface Session {
  readonly sub: Redis;
  /** CLIENT ID of the subscriber (per server). */
  readonly id: number;
  /** run_id of the server the subscriber is on. */
  readonly runId: string;
  dead: boolean;
}

export interface Link {
  /** `host:port` of a cluster node, `main` otherwise. */
  readonly key: string;
  /** The connection whose reads are tracked. */
  readonly data: Redis;
  session: Session | undefined;
  /** Tracking confirmed on `data`, redirected to the live `session`. */
  ok: boolean;
  gen: number;
  busy: boolean;
  failures: number;
  timer: NodeJS.Timeout | undefined;
  /**
   * The subscriber a set-up is opening (not yet a session). Held so that removing the link (at
   * `close()`) can drop it: against a server that accepts but does not answer (paused, hung), its
   * connect step otherwise kept the connection, and the process, alive up to `timeout` after the
   * close.
   */
  opening: Redis | undefined;
  removed: boolean;
  /** Removes the listeners this tracker put on `data`. */
  detach(): void;
}

export interface SetupParts {
  readonly bcast: boolean;
  readonly prefix: string;
  readonly timeout: number;
  /** A new subscriber connection to the server `link.data` is on (not yet connected). */
  makeSub(link: Link): Redis;
  /** A message on the subscriber (the payload is `null` for "everything"). */
  onMessage(link: Link, session: Session, payload: Buffer[] | null): void;
  /** The subscriber of `link` closed. */
  onSubscriberGone(link: Link, session: Session): void;
  onError(err: Error): void;
  /** The tracker is closed: connection errors held back by the rate limit are not written. */
  stopReports(): void;
  /** Trust is confirmed again: connection errors held back by the rate limit are written now. */
  settleReports(): void;
}

const late = (what: string, ms: number) => () => new Error(`${what} did not answer within ${ms} ms`);

function runIdOf(info: unknown): string {
  const m = /^run_id:(\S+)/m.exec(String(info));
  if (!m) throw new Error('INFO server has no run_id');
  return m[1]!;
}

/**
 * A server's error reply with the command it answered in front (a refused channel's NOPERM does
 * not name the command), so that a refusal reported to the user says what to grant.
 */
function named(command: string, err: unknown): Error {
  if ((err as Error | undefined)?.name !== 'ReplyError') return err as Error;
  return new Error(`${command}: ${(err as Error).message}`, { cause: err });
}

/** Results of a pipeline (its commands named in `commands`), rejecting with the first command error. */
async function execAll(p: ReturnType<Redis['pipeline']>, commands: readonly string[]): Promise<unknown[]> {
  const results = (await p.exec()) ?? [];
  return results.map(([err, value], i) => {
    if (err) throw named(commands[i] ?? 'pipeline', err);
    return value;
  });
}

/** Opens a subscriber session for `link`: connected, id and run_id known, subscribed. */
export async function openSession(link: Link, parts: SetupParts): Promise<Session> {
  const sub = parts.makeSub(link);
  link.opening = sub;
  let session: Session | undefined;
  // iovalkey rejects connect() with a bare "Connection is closed." after emitting the reason (a
  // refused password, an untrusted certificate …) as 'error': the set-up fails with that reason.
  let connectError: unknown;
  sub.on('error', (err: unknown) => {
    if (classifyConnectionError(err)) connectError = err;
  });
  sub.on('error', parts.onError);
  sub.on('messageBuffer', (channel: Buffer, payload: Buffer[] | null) => {
    if (session && !session.dead && channel.toString() === INVALIDATE_CHANNEL)
      parts.onMessage(link, session, payload);
  });
  try {
    await withTimeout(sub.connect(), parts.timeout, late('tracking subscriber connect', parts.timeout));
    const [id, info] = await withTimeout(
      execAll(sub.pipeline().client('ID').info('server'), ['CLIENT ID', 'INFO server']),
      parts.timeout,
      late('tracking subscriber CLIENT ID', parts.timeout),
    );
    session = { sub, id: Number(id), runId: runIdOf(info), dead: false };
    const s = session;
    sub.once('close', () => {
      if (s.dead) return;
      s.dead = true;
      parts.onSubscriberGone(link, s);
    });
    await withTimeout(
      sub.subscribe(INVALIDATE_CHANNEL).catch((err: unknown) => {
        throw named(`SUBSCRIBE ${INVALIDATE_CHANNEL}`, err);
      }),
      parts.timeout,
      late('tracking SUBSCRIBE', parts.timeout),
    );
    if (sub.status !== 'ready') throw new Error('tracking subscriber closed while subscribing');
    return session;
  } catch (err) {
    if (session) session.dead = true;
    sub.disconnect();
    if (!session && connectError !== undefined) throw connectError;
    throw err;
  } finally {
    if (link.opening === sub) link.opening = undefined;
  }
}

/** Waits until `data` can take commands (a lazy or reconnecting connection is given `timeout`). */
async function dataReady(data: Redis, timeout: number): Promise<void> {
  if (data.status === 'ready') return;
  if (data.status === 'end') throw new Error('data connection ended');
  if (data.status === 'wait') data.connect().catch(() => {});
  let onReady: (() => void) | undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve) => {
        onReady = resolve;
        data.once('ready', resolve);
      }),
      timeout,
      late('data connection', timeout),
    );
  } finally {
    if (onReady) data.off('ready', onReady);
  }
}

/** The CLIENT TRACKING ON arguments of this tracker for the subscriber `id`. */
export function trackingArgs(id: number, parts: Pick<SetupParts, 'bcast' | 'prefix'>): string[] {
  const args = ['TRACKING', 'ON', 'REDIRECT', String(id)];
  if (parts.bcast) {
    args.push('BCAST');
    if (parts.prefix !== '') args.push('PREFIX', parts.prefix);
  }
  return args;
}

/**
 * Sets `link` up (a new subscriber session when it has none or it died). Throws when a step
 * fails; the caller checks `gen` afterwards.
 */
export async function setUp(link: Link, parts: SetupParts): Promise<void> {
  if (!link.session || link.session.dead) {
    link.session?.sub.disconnect();
    link.session = undefined;
    link.session = await openSession(link, parts);
  }
  const session = link.session;
  await dataReady(link.data, parts.timeout);
  const commands = ['INFO server', 'CLIENT TRACKING OFF', 'CLIENT TRACKING ON'];
  const results = await withTimeout(
    link.data
      .pipeline()
      .info('server')
      .client('TRACKING', 'OFF')
      .client(...(trackingArgs(session.id, parts) as ['TRACKING']))
      .exec()
      .then((r) => r ?? []),
    parts.timeout,
    late('CLIENT TRACKING', parts.timeout),
  );
  // The run_ids are compared before any command error is looked at: after a failover the data
  // connection is on the new master while a subscriber still open on the old one (a manual
  // SENTINEL FAILOVER leaves it connected for seconds) has an id the new master does not know,
  // so CLIENT TRACKING ON fails ("client ID … does not exist"). Thrown as it was, that error kept
  // the old subscriber, and every retry failed the same way until the old master dropped it
  // (~10 s of L1 bypassed). A subscriber on another server is replaced.
  const [infoErr, info] = results[0] ?? [new Error('no reply to INFO server'), undefined];
  if (!infoErr && runIdOf(info) !== session.runId) {
    // The two connections reached different servers (a failover in progress): undo, start over.
    link.data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {});
    session.dead = true;
    session.sub.disconnect();
    throw new Error('tracking subscriber and data connection are on different servers');
  }
  for (const [i, [err]] of results.entries()) if (err) throw named(commands[i] ?? 'pipeline', err);
}

/**
 * Checks that `link` is still tracked: the subscriber answers PING (so every invalidation sent
 * before it has arrived) and the data connection reports tracking on, redirected to it, not broken.
 */
export async function verify(link: Link, timeout: number): Promise<void> {
  const session = link.session;
  if (!session || session.dead) throw new Error('no tracking subscriber');
  const [, info] = await withTimeout(
    Promise.all([
      session.sub.ping().catch((err: unknown) => {
        throw named('PING (subscriber)', err);
      }),
      link.data.call('CLIENT', 'TRACKINGINFO').catch((err: unknown) => {
        throw named('CLIENT TRACKINGINFO', err);
      }),
    ]),
    timeout,
    late('tracking heartbeat', timeout),
  );
  const fields = info as unknown[];
  const flags = (fields[1] as unknown[]).map(String);
  const redirect = Number(fields[3]);
  if (!flags.includes('on') || flags.includes('broken_redirect') || redirect !== session.id)
    throw new Error(`tracking not in place (flags ${flags.join(',')}, redirect ${redirect})`);
}
