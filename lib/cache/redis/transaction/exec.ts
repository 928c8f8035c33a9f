/** Sending the queued operations as one MULTI/EXEC, and reading its replies. */
import type { ChainableCommander, Redis } from 'iovalkey';
import { CacheError } from '../../../core/errors.js';
import { toCacheError } from '../errors.js';
import type { Op } from './builder.js';
import type { TransactionValue } from './types.js';

/** EXEC's replies, one per operation; `null` when a watched key changed (nothing was applied). */
export type ExecReplies = [Error | null, unknown][] | null;

/** A MULTI on `conn` with `ops` queued (keys get `prefix`); its `exec()` sends it. */
function queueOps(conn: Redis, prefix: string, ops: readonly Op[]): ChainableCommander {
  const multi = conn.multi();
  for (const op of ops) {
    const key = prefix + op.key;
    if (op.kind === 'get') multi.getBuffer(key);
    else if (op.kind === 'set') {
      if (op.px === undefined) multi.set(key, op.value);
      else multi.set(key, op.value, 'PX', op.px);
    } else if (op.kind === 'delete') multi.unlink(key);
    else multi.pexpire(key, op.px);
  }
  return multi;
}

/** Sends `ops` as MULTI/EXEC on `conn`; a failure to send or to get the reply goes through `fail`. */
export async function execOps(
  conn: Redis,
  prefix: string,
  ops: readonly Op[],
  fail: (err: unknown) => CacheError,
): Promise<ExecReplies> {
  const multi = queueOps(conn, prefix, ops);
  try {
    return await multi.exec();
  } catch (err) {
    throw fail(err);
  }
}

/**
 * The result of each operation of an applied transaction. Only GET can fail at run time (a key of
 * another type): the writes were applied, and the error says so.
 */
export function toResults(
  ops: readonly Op[],
  replies: NonNullable<ExecReplies>,
  secrets: readonly string[],
): TransactionValue[] {
  return ops.map((op, i): TransactionValue => {
    const [err, value] = replies[i] ?? [new Error('missing reply'), undefined];
    if (err) {
      throw new CacheError(
        'backend',
        `redis transaction was applied, but ${op.kind} of "${op.key}" failed: ${toCacheError('transaction', err, secrets).message}`,
        { cause: err },
      );
    }
    if (op.kind === 'get') return (value as Buffer | null) ?? undefined;
    if (op.kind === 'set') return true;
    return Number(value) > 0;
  });
}
