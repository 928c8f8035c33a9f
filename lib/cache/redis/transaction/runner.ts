/**
 * Redis transactions: get/set/delete/expire queued inside MULTI/EXEC, optionally guarded by WATCH
 * (optimistic check-and-set). A watched key changed by someone else makes the transaction return
 * `{ ok: false, conflict: true }` — a value, so callers can retry (see `retryTransaction`).
 *
 * Why dedicated connections: WATCH state belongs to a connection, and the cache's client
 * multiplexes every caller over one. Another caller's EXEC (or UNWATCH) on that connection would
 * silently drop our WATCH and let a lost update through; a reconnect would do the same. So each
 * transaction leases a connection of its own (a small pool per node) that never reconnects and
 * never resends: a connection that dropped is discarded, and the transaction fails instead of
 * running unguarded or twice.
 */
import type { Redis } from 'iovalkey';
import type { Bytes } from '../../../core/contracts.js';
import { CacheError } from '../../../core/errors.js';
import { withTimeout } from '../../../core/timeout.js';
import { closedError } from '../errors.js';
import { describeNodes } from '../nodes.js';
import { steadyNow } from '../steady.js';
import { build } from './builder.js';
import { createConnectionClocks } from './clock.js';
import { type ExecReplies, execOps, toResults } from './exec.js';
import { askTarget, movedTarget, type Phase, secretsOf, txFailure } from './failure.js';
import { resolveRunnerOptions, watchedKeys } from './options.js';
import { createConnectionPool, type Lease } from './pool.js';
import { createSlotCheck } from './slots.js';
import type {
  TransactionFn,
  TransactionOptions,
  TransactionResult,
  TransactionRunner,
  TransactionRunnerOptions,
} from './types.js';

/** Extra wait in `close()` for transactions in flight beyond the command timeout that bounds them (ms). */
const CLOSE_SLACK_MS = 200;

type Fail = (err: unknown, phase: Phase) => CacheError;

/**
 * Redis refuses a bulk string over its `proto-max-bulk-len` ("Protocol error: invalid bulk
 * length") and closes the connection at once, while the client is still sending the value: in
 * about half the runs on loopback that refusal was lost with the connection, and a transaction
 * failed `unavailable` "applied completely or not at all" although the server never read its
 * EXEC. The ACL gives no CONFIG GET to read the limit, which is at least 1 MiB (CONFIG SET refuses
 * less). So a transaction with a value over the largest size known to pass first sends that value
 * as the key of an EXISTS, before MULTI: refused (or its refusal lost), nothing of the transaction
 * was sent. Any reply means the server parsed it (a size that then stays known to pass).
 */
const MIN_PROTO_MAX_BULK_LEN = 1024 * 1024;

/** The largest value of a `set` among `ops`, if any is larger than `than` bytes. */
function largeValue(
  ops: readonly { kind: string; value?: Buffer | undefined }[],
  than: number,
): Buffer | undefined {
  let found: Buffer | undefined;
  for (const op of ops)
    if (op.kind === 'set' && op.value && op.value.byteLength > (found?.byteLength ?? than)) found = op.value;
  return found;
}

/** Bounds a command of the transaction by what is left of its budget (see `transaction`). */
type Bound = <T>(work: Promise<T>) => Promise<T>;

/** WATCH on the leased connection: anyone writing a watched key from now on makes EXEC fail. */
async function watchKeys(conn: Redis, keys: readonly string[], fail: Fail, bound: Bound): Promise<void> {
  try {
    await bound(conn.watch(keys as string[])); // one array: a spread of ~100,000 keys overflows the JS stack
  } catch (err) {
    throw fail(err, 'watch');
  }
}

/** `tx.read`: the current value of a key, read on the leased connection before MULTI. */
function reader(
  conn: Redis,
  prefix: string,
  fail: Fail,
  bound: Bound,
): (key: string) => Promise<Bytes | undefined> {
  return (key) =>
    bound(conn.getBuffer(prefix + key)).then(
      (value) => value ?? undefined,
      (err: unknown) => {
        throw fail(err, 'watch');
      },
    );
}

/** Creates the transaction runner of a Redis cache. Throws ConfigError for invalid options. */
export function createTransactionRunner(options: TransactionRunnerOptions): TransactionRunner {
  const { client, prefix, cluster, timeoutMs, maxConnections, defaultTtl } = resolveRunnerOptions(options);
  const secrets = secretsOf(client);
  const pool = createConnectionPool({ client, timeoutMs, maxConnections, secrets });
  const clocks = createConnectionClocks();
  /** MOVED replies followed per transaction (the cluster client's own limit, `cluster.maxRedirects`). */
  const maxRedirects = cluster ? ((client.options as { maxRedirections?: number }).maxRedirections ?? 3) : 0;
  // close() called: new transactions are refused. Those in flight still complete (close() waits
  // for them); only once that wait is over is `closed` set and their EXEC refused. Both used to be
  // one flag, so a transaction called just before close() (or whose fn was awaiting a read) got
  // `closed` while every other operation of the cache in flight at close() completed.
  let closing = false;
  let closed = false;
  let active = 0;
  /** The largest value size the server is known to accept (see MIN_PROTO_MAX_BULK_LEN). */
  let accepted = MIN_PROTO_MAX_BULK_LEN;
  let idle: (() => void) | undefined;

  async function transaction(
    fn: TransactionFn,
    txOptions: TransactionOptions = {},
    startedAt = steadyNow(),
    admit?: () => Promise<void>,
  ): Promise<TransactionResult> {
    if (closing) throw closedError('transaction');
    if (typeof fn !== 'function') throw new CacheError('invalid_value', 'transaction expects a function');
    const watch = watchedKeys(txOptions);
    const slots = cluster ? createSlotCheck(prefix) : undefined;
    for (const k of watch) slots?.add(k);
    // A key of the transaction: in a cluster, errors name its slot and the slot's master.
    let where = cluster && watch[0] !== undefined ? prefix + watch[0] : undefined;
    const fail: Fail = (err, phase) => txFailure(err, phase, client, secrets, where);
    const failExec = (err: unknown) => fail(err, 'exec');
    // One budget for the whole call: waiting for the cache's connection (before this runs, from
    // `startedAt`), for a dedicated connection (connecting it included), WATCH, the reads, TIME and
    // EXEC together take at most `timeoutMs` — plus the time `fn` itself runs, which is the
    // caller's (its reads excepted). Before, each step had a timeout of its own, so a transaction
    // that had to connect first could take several.
    let end = startedAt + timeoutMs;
    // While fn runs with no read of its in flight, its own time passes: it extends the budget as
    // it goes (credited to `end` when a read starts and when fn returns). Credited only after fn
    // returned, a read made after fn's own work (another service's answer, say) found the budget
    // spent and failed with `timeout` at once, although the call was within it.
    let fnRunning = false;
    let reading = 0;
    let ownSince = 0;
    const credit = () => {
      const now = steadyNow();
      end += now - ownSince;
      ownSince = now;
    };
    const left = () => {
      const now = steadyNow();
      return Math.max(0, end + (fnRunning && reading === 0 ? now - ownSince : 0) - now);
    };
    const spent = () =>
      new Error(`Command timed out: the transaction's ${timeoutMs} ms budget was spent before a reply`);
    const bound: Bound = (work) => withTimeout(work, left(), spent);

    // Without WATCH nothing is sent before fn returns, so the connection is leased after it.
    let lease: Lease | undefined;
    let reusable = false;
    active++;
    try {
      if (admit) await admit();
      if (watch.length > 0) {
        // A MOVED reply to WATCH (the slot's master changed, e.g. a manual failover) applied
        // nothing and fn has not run yet: WATCH again on the node it names.
        for (let redirects = 0, movedTo: string | undefined; ; redirects++) {
          lease = await pool.lease(slots?.slot, movedTo, left());
          try {
            await watchKeys(
              lease.conn,
              watch.map((k) => prefix + k),
              fail,
              bound,
            );
            break;
          } catch (err) {
            movedTo = movedTarget(err, 'watch');
            if (movedTo === undefined || redirects >= maxRedirects) throw err;
            pool.release(lease, lease.conn.status === 'ready');
            lease = undefined;
          }
        }
      }
      // fn's own time extends the budget; the time its reads wait on Redis does not.
      const readKey = lease && reader(lease.conn, prefix, fail, bound);
      const read =
        readKey &&
        ((key: string) => {
          if (reading++ === 0 && fnRunning) credit();
          return readKey(key).finally(() => {
            if (--reading === 0) ownSince = steadyNow();
          });
        });
      fnRunning = true;
      ownSince = steadyNow();
      const ops = await build(fn, { watched: new Set(watch), read, defaultTtl }).finally(() => {
        if (reading === 0) credit();
        fnRunning = false;
      });
      for (const op of ops) slots?.add(op.key);
      if (cluster && ops[0] !== undefined) where ??= prefix + ops[0].key;
      if (ops.length === 0) {
        // Nothing to apply. The UNWATCH only makes the connection reusable: when it gets no reply
        // (connection killed or lost while fn ran, a paused server) the connection is discarded,
        // not the transaction — its outcome (nothing written) is certain. This used to reject
        // with iovalkey's bare Error ("Connection is closed.") or the budget's untyped timeout,
        // not a CacheError, and a lost UNWATCH was then sent a second UNWATCH behind it.
        if (lease)
          reusable = await bound(lease.conn.unwatch()).then(
            () => true,
            () => false,
          );
        else reusable = true;
        return { ok: true, results: [] };
      }
      lease ??= await pool.lease(slots?.slot, undefined, left());
      const written = ops.filter((op) => op.kind !== 'get').map((op) => op.key);
      let replies: ExecReplies;
      let asking = false;
      for (let redirects = 0; ; redirects++) {
        if (closed) throw closedError('transaction');
        // Dropped before EXEC was sent (e.g. the master died while fn ran): nothing was applied.
        if (lease.conn.status !== 'ready') {
          throw fail(
            new Error(`Connection is closed (${lease.conn.status}): EXEC was not sent, nothing was applied`),
            'watch',
          );
        }
        // The cache's connection followed a sentinel failover while fn ran: this one is on the old
        // master, which may still accept the EXEC and lose it when it is demoted.
        if (!pool.current(lease.conn)) {
          throw new CacheError(
            'unavailable',
            `redis transaction failed (${describeNodes(client)}): the master changed (sentinel failover) while the transaction ran: EXEC was not sent, nothing was applied`,
          );
        }
        const large = largeValue(ops, accepted);
        if (large) await checkBulk(lease.conn, large, fail, bound);
        // Measured before MULTI (a TIME now and then): nothing of the transaction was sent yet.
        const deadline = await bound(clocks.deadline(lease.conn, left)).catch((err: unknown) => {
          throw fail(err, 'watch');
        });
        if (written.length > 0) options.onWrite?.(written);
        try {
          replies = await execOps(lease.conn, prefix, ops, deadline, failExec, asking, bound);
          break;
        } catch (err) {
          // EXEC aborted because a queued command got MOVED or ASK: nothing was applied. Without
          // WATCH the same commands can go to the node it names (after ASKING, for ASK); with
          // WATCH the guard was on the old node, so the caller decides (an error, not a conflict).
          const movedTo = watch.length === 0 ? movedTarget(err, 'exec') : undefined;
          const askTo = watch.length === 0 && movedTo === undefined ? askTarget(err) : undefined;
          const to = movedTo ?? askTo;
          if (to === undefined || redirects >= maxRedirects) throw err;
          pool.release(lease, lease.conn.status === 'ready'); // EXECABORT leaves it clean
          lease = undefined;
          lease = await pool.lease(slots?.slot, to, left());
          asking = askTo !== undefined;
        }
      }
      reusable = true; // EXEC (even an aborted one) clears WATCH: the connection is clean again
      if (replies === null) return { ok: false, conflict: true };
      return { ok: true, results: toResults(ops, replies, secrets) };
    } catch (err) {
      // fn threw, bad input, cross-slot: drop the WATCH so the connection can be reused. A
      // connection whose command timed out or was lost is discarded instead: an UNWATCH behind
      // the unanswered command would wait for it, doubling the caller's wait.
      const lost = err instanceof CacheError && (err.code === 'timeout' || err.code === 'unavailable');
      if (lease && !reusable && !lost && lease.conn.status === 'ready') {
        reusable = await lease.conn.unwatch().then(
          () => true,
          () => false,
        );
      }
      throw err;
    } finally {
      if (lease) pool.release(lease, reusable);
      if (--active === 0) idle?.();
    }
  }

  /** Sends `value` as an EXISTS key before MULTI (see MIN_PROTO_MAX_BULK_LEN); rejects if refused. */
  async function checkBulk(conn: Redis, value: Buffer, fail: Fail, bound: Bound): Promise<void> {
    try {
      // Under the prefix, as the ACL's key pattern wants, and exactly as long as the value (a
      // key longer by the prefix could be refused where the value is not); in a cluster a MOVED
      // reply is fine too.
      const head = Buffer.from(prefix);
      await bound(conn.exists(Buffer.concat([head, value.subarray(head.length)])));
    } catch (err) {
      const reason = String((err as Error | undefined)?.message ?? err);
      if ((err as Error | undefined)?.name === 'ReplyError' && !/^ERR Protocol error/.test(reason)) {
        accepted = Math.max(accepted, value.byteLength);
        return;
      }
      const failure = fail(err, 'watch');
      throw new CacheError(
        failure.code,
        `${failure.message} (sending a value of ${value.byteLength} bytes, before MULTI: nothing was applied)`,
        { cause: err },
      );
    }
    accepted = Math.max(accepted, value.byteLength);
  }

  return {
    transaction,
    async close() {
      if (closing) return;
      closing = true;
      // The pool stays open meanwhile: in-flight transactions lease and send as usual.
      if (active > 0) {
        const finished = new Promise<void>((resolve) => {
          idle = resolve;
        });
        const late = () => new CacheError('timeout', 'transactions still running');
        await withTimeout(finished, timeoutMs + CLOSE_SLACK_MS, late, { unref: true }).catch(() => {});
      }
      closed = true;
      // Transactions still running from here on discard their connection on release.
      await pool.close();
      // Still running after that: an `fn` that never returns. Its dedicated connection (and its
      // WATCH) used to stay open forever after close(), keeping the process alive; nothing more
      // can be sent on it (EXEC checks `closed`), so it is dropped.
      if (active > 0) pool.disconnectLeased();
    },
  };
}
