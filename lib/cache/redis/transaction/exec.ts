/**
 * Sending the queued operations as one MULTI/EXEC, and reading its replies.
 *
 * The operations run inside MULTI as one Lua script that first compares the server's clock with
 * the transaction's deadline (as every SET and delete of the cache does, see ../deadline.ts): an
 * EXEC that reaches Redis after the client gave up on it (the caller was told `timeout`) applies
 * nothing, instead of landing later over newer writes. MULTI stays around the script so that
 * WATCH still guards it (EXEC returns null when a watched key changed).
 *
 * The `#!lua` shebang makes Redis refuse the whole script up front when it is out of memory
 * (flagged scripts are denied under OOM unless they say `allow-oom`), so an OOM refusal still
 * applies nothing — never the first writes of a script that then stops.
 */
import type { ChainableCommander, Redis } from 'iovalkey';
import { CacheError } from '../../../core/errors.js';
import { codeOf, toCacheError } from '../errors.js';
import type { Op } from './builder.js';
import type { TransactionValue } from './types.js';

/** EXEC's replies, one per operation; `null` when a watched key changed (nothing was applied). */
export type ExecReplies = [Error | null, unknown][] | null;

// ARGV[1] is the deadline in server ms ('' for none), then per key: an op letter and its arguments.
// GET runs under pcall: a key of another type fails that read alone, as it would inside MULTI.
const SCRIPT = `#!lua
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' and now > tonumber(ARGV[1]) then return -1 end
local out = {}
local a = 2
for i = 1, #KEYS do
  local op, k = ARGV[a], KEYS[i]
  if op == 'g' then out[i] = redis.pcall('GET', k); a = a + 1
  elseif op == 's' then out[i] = redis.call('SET', k, ARGV[a + 1]); a = a + 2
  elseif op == 'p' then out[i] = redis.call('SET', k, ARGV[a + 1], 'PX', ARGV[a + 2]); a = a + 3
  elseif op == 'd' then out[i] = redis.call('UNLINK', k); a = a + 1
  else out[i] = redis.call('PEXPIRE', k, ARGV[a + 1]); a = a + 2 end
end
return out
`;

/** The script's reply when it reached the server after its deadline. */
const TOO_LATE = -1;

/** A MULTI on `conn` with `ops` queued as one guarded script (keys get `prefix`). */
function queueOps(conn: Redis, prefix: string, ops: readonly Op[], deadline: string): ChainableCommander {
  const keys: string[] = [];
  const args: (string | Buffer)[] = [deadline];
  for (const op of ops) {
    keys.push(prefix + op.key);
    if (op.kind === 'get') args.push('g');
    else if (op.kind === 'set') {
      if (op.px === undefined) args.push('s', op.value);
      else args.push('p', op.value, String(op.px));
    } else if (op.kind === 'delete') args.push('d');
    else args.push('e', String(op.px));
  }
  // EVAL, not EVALSHA: a dedicated connection has no script cache of its own to manage, and Redis
  // compiles a script body once and keeps it. The arguments go as one array (iovalkey flattens
  // it): spread into the call, a transaction of ~100,000 operations overflowed the JS stack.
  const all: (string | number | Buffer)[] = [SCRIPT, keys.length];
  for (const k of keys) all.push(k);
  for (const a of args) all.push(a);
  return conn.multi().callBuffer('EVAL', all);
}

/**
 * Sends `ops` as MULTI/EXEC on `conn` with `deadline` (server ms, '' = none); a failure to send or
 * to get the reply goes through `fail`. Rejects with a `timeout` CacheError (nothing applied) when
 * the transaction reached the server after its deadline; `bound` limits the wait for each reply
 * (the transaction's budget). `asking`: the node is importing the
 * slot (it answered ASK): ASKING first, whose flag Redis keeps for the whole MULTI … EXEC.
 */
export async function execOps(
  conn: Redis,
  prefix: string,
  ops: readonly Op[],
  deadline: string,
  fail: (err: unknown) => CacheError,
  asking = false,
  bound: <T>(work: Promise<T>) => Promise<T> = (work) => work,
): Promise<ExecReplies> {
  let replies: [Error | null, unknown][] | null;
  try {
    if (asking) await bound(conn.asking());
    replies = await bound(queueOps(conn, prefix, ops, deadline).exec());
  } catch (err) {
    throw fail(err);
  }
  if (replies === null) return null;
  const [err, reply] = replies[0] ?? [new Error('missing reply'), undefined];
  if (err) throw fail(err);
  if (reply === TOO_LATE) {
    throw new CacheError(
      'timeout',
      'redis transaction failed: it reached the server after its deadline (the command timeout), nothing was applied',
    );
  }
  return (reply as unknown[]).map((value) => (value instanceof Error ? [value, undefined] : [null, value]));
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
      // `invalid_value` for WRONGTYPE, as a plain get says it (it was `backend`, the code of an
      // outage or a refused command, for the same key).
      throw new CacheError(
        codeOf(err) === 'invalid_value' ? 'invalid_value' : 'backend',
        `redis transaction was applied, but ${op.kind} of "${op.key}" failed: ${toCacheError('transaction', err, secrets).message}`,
        { cause: err },
      );
    }
    if (op.kind === 'get') return (value as Buffer | null) ?? undefined;
    if (op.kind === 'set') return true;
    return Number(value) > 0;
  });
}
