/**
 * Deadline-guarded writes and deletes: a SET or UNLINK that reaches Redis after the client gave up
 * on it is refused by the server, so a write or delete the caller was told failed (`timeout`) can
 * never land later over a newer acknowledged write (a late delete would remove the newer value, and
 * another instance's `getOrSet` could then store an older one again).
 *
 * Every SET and every delete of the cache runs as a small Lua script (EVALSHA; iovalkey loads it on
 * first use) that reads the server's clock (`TIME`) and applies the command only if that is not past
 * its deadline, given in server milliseconds. The deadline is the time the caller called the
 * command (client clock) translated to the server's clock, plus the command timeout, minus a safety
 * margin:
 *
 *   deadline = calledAt + offset + commandTimeout - uncertainty - margin
 *
 * `calledAt`, not the time the command finally leaves: a command may first wait for a connection
 * (the cache's readiness gate) or for the first clock measurement, and the caller's budget (the
 * tiered cache's `l2Timeout`) runs during that wait too. A deadline counted from the send would
 * give such a command a fresh budget after the caller was told it timed out, so it could land
 * after a newer write or delete (found by the faulted tiered model test, seed 870581875).
 *
 * `offset` (server clock − client clock) is measured with `TIME` on every (re)connect and every
 * 30 s; `uncertainty` is half the round trip of that measurement. So the skew between the client's
 * and the server's clocks does not matter, only how much it changes between two measurements
 * (drift, a step of the server's clock), which `margin` (10 % of the limit, at least 5 ms)
 * absorbs. The client side is the monotonic clock ({@link steadyNow}), not `Date.now()`: an NTP
 * step of the client's wall clock between two measurements used to move every deadline by the
 * step — stepped back 1 h, every SET and delete was refused as late (`timeout`) until the next
 * measurement (up to 30 s); stepped forward, deadlines lay 1 h out, so a write reported as timed
 * out could still land. The caller's `at` is taken on the same steady clock. In a cluster the smallest offset of the masters is used: every node's check is then at
 * least as strict as needed (nodes whose clocks run ahead refuse a little early).
 *
 * The SET script also does the conditional store of `getOrSet` (`NX`: only when the key is still
 * absent, i.e. nobody wrote it since the miss) and the compare-and-set of `ifEquals` (a fifth
 * argument: store only when the key still holds exactly those bytes).
 */
import type { ChainableCommander, Cluster, Redis } from 'iovalkey';
import { steadyNow } from './steady.js';

/**
 * How long a write refused with `oom` keeps `health()` degraded while the server is at its limit
 * (./health.ts), and the window of the largest write sent that it is weighed against (here, so
 * that health.ts → errors.ts → deadline.ts is no import cycle).
 */
export const OOM_RECENT_MS = 10_000;

/** The Lua body of a guarded SET (exported for the benchmark's fair peer: raw iovalkey running it). */
export const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] ~= '' and now > tonumber(ARGV[2]) then return -1 end
if ARGV[5] ~= nil and redis.call('GET', KEYS[1]) ~= ARGV[5] then return 0 end
local r
if ARGV[3] == '' then
  if ARGV[4] == '1' then r = redis.call('SET', KEYS[1], ARGV[1], 'NX') else r = redis.call('SET', KEYS[1], ARGV[1]) end
else
  if ARGV[4] == '1' then r = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3], 'NX')
  else r = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
end
if r then return 1 end
return 0
`;

/**
 * The Lua body of a guarded delete: UNLINK of every key in KEYS (ARGV[1] is the deadline), the
 * number removed as reply. A loop, not `unpack(KEYS)`: Lua's unpack fails on very long lists.
 * `allow-oom`: a delete frees memory, so it must run when Redis is out of memory (a script with a
 * shebang and no such flag is refused up front then; see ./transaction/exec.ts).
 */
export const DELETE_SCRIPT = `#!lua flags=allow-oom
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' and now > tonumber(ARGV[1]) then return -1 end
local n = 0
for i = 1, #KEYS do n = n + redis.call('UNLINK', KEYS[i]) end
return n
`;

/** Script replies: stored, not stored (NX and the key existed), arrived after its deadline. */
export const STORED = 1;
export const NOT_STORED = 0;
export const TOO_LATE = -1;

/**
 * The error of a command the server refused (reply TOO_LATE) because it arrived after its deadline.
 * Its message makes it a CacheError('timeout') (./errors.ts), as the caller's own timeout would be.
 */
export const tooLate = () =>
  new Error('Command timed out: it reached Redis after its deadline and was not applied');

/**
 * `reply`, or the TOO_LATE refusal of one command of a pipelined batch: the commands before it in
 * the batch may have been applied (a batch is not atomic), so its message must not say the batch was not.
 */
export function inTimeInBatch(reply: number): number {
  if (reply === TOO_LATE)
    throw new Error(
      'Command timed out: a command of this batch reached Redis after its deadline and was not applied; commands sent before it may have been',
    );
  return reply;
}

/** `reply`, or the TOO_LATE refusal as a rejection (for guarded commands sent through `dispatch.run`). */
export function inTime(reply: number): number {
  if (reply === TOO_LATE) throw tooLate();
  return reply;
}

const COMMAND = 'hyperionSetBefore';
const DELETE_COMMAND = 'hyperionDeleteBefore';
const RESYNC_MS = 30_000;
/** A clock measurement wider than this (ms, half its round trip) is taken again at once, at most {@link REFINES} times. */
const REFINE_ABOVE_MS = 5;
const REFINES = 2;

type Scripted = {
  [COMMAND](...args: unknown[]): Promise<number>;
  [DELETE_COMMAND](...args: unknown[]): Promise<number>;
};

export interface GuardedWrites {
  /**
   * SET with the deadline of a command called at `at` (client ms, default now; `budget` ms when
   * shorter than the command timeout); `nx` stores only when absent. Resolves a reply constant.
   * Pass the time the caller called the write: a write that first waited (for a connection, for
   * the clock measurement) must not get a fresh budget when it is finally sent, or it could land
   * after the caller was told it timed out. `expect`: store only when the key holds exactly these
   * bytes (compare-and-set).
   */
  set(
    key: string,
    value: Buffer,
    px: number | undefined,
    nx?: boolean,
    budget?: number,
    at?: number,
    expect?: Buffer,
  ): Promise<number>;
  /** Queues the same SET on a pipeline (its reply is a reply constant). */
  queue(
    p: ChainableCommander,
    key: string,
    value: Buffer,
    px: number | undefined,
    budget?: number,
    at?: number,
  ): void;
  /**
   * UNLINK of `keys` (all in one hash slot in a cluster) with the deadline of a delete called at
   * `at`, as for `set`. Resolves the number of keys removed, or TOO_LATE (nothing was removed).
   */
  delete(keys: readonly string[], budget?: number, at?: number): Promise<number>;
  /** Queues the same delete on a pipeline (its reply: the number removed, or TOO_LATE). */
  queueDelete(p: ChainableCommander, keys: readonly string[], budget?: number, at?: number): void;
  /** The deadline (server ms) of a write called at `at` (default now), as sent to the script ('' = none). */
  deadline(budget?: number, at?: number): string;
  /**
   * While the first clock measurement is outstanding: the promise of its (single) attempt, which
   * every command of the cache waits for (see ./dispatch.ts), so that a write held back for it is
   * not overtaken by a delete, clear or read called after it. `undefined` once it settled.
   */
  pending(): Promise<void> | undefined;
  /**
   * The largest write (key and value bytes, and the compared value of a compare-and-set) sent in
   * the last 10–20 s: what `health()` weighs a recent `oom` refusal against (./health.ts).
   */
  largest(): number;
  /** Stops the periodic clock measurement. */
  stop(): void;
}

/**
 * The latest server time (ms) at which a write called at `at` (client ms) with `limit` ms to run
 * may still be applied: `offset` is server − client clock, `uncertainty` that measurement's error;
 * the margin (10 % of the limit, at least 5 ms) absorbs clock steps between two measurements.
 */
export function serverDeadline(at: number, limit: number, offset: number, uncertainty: number): number {
  const margin = Math.max(5, limit * 0.1);
  return Math.floor(at + offset + limit - uncertainty - margin);
}

/**
 * The client clock deadlines are counted on: monotonic ({@link steadyNow}, ./steady.ts). Its offset
 * to the server's clock is measured like the wall clock's would be, so a step of the client's wall
 * clock changes no deadline.
 */
export { steadyNow };

/** Server clock − client clock ({@link steadyNow}, ms) measured with one `TIME`, and half its round trip as the error. */
export async function measureClock(node: Redis): Promise<{ offset: number; uncertainty: number }> {
  const before = steadyNow();
  const [s, us] = (await node.call('TIME')) as [string, string];
  const after = steadyNow();
  const server = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  return { offset: server - (before + after) / 2, uncertainty: (after - before) / 2 + 1 };
}

/** The parts of iovalkey's `Script` (a command defined with `defineCommand`) used below. */
interface DefinedScript {
  sha: string;
  lua: string;
  numberOfKeys: number | null;
  keyPrefix: string;
  readOnly: boolean;
  Command: new (name: string, args: unknown[], options: object) => ScriptCommand;
  execute(container: unknown, args: unknown[], options: Record<string, unknown>, callback?: unknown): unknown;
}

interface ScriptCommand {
  name: string;
  args: unknown[];
  promise: Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: Error): void;
  toWritable(socket: unknown): unknown;
}

/** A connection's replies still awaited (iovalkey's `commandQueue`), and its socket. */
type NodeQueue = Redis & { stream?: unknown; commandQueue?: { length: number } | undefined };

/**
 * iovalkey sends a defined script as EVALSHA (EVAL on its first use on a connection) and, when
 * Redis answers `NOSCRIPT` (its script cache was emptied under a live connection: `SCRIPT FLUSH`),
 * resent it as an EVAL once that reply had been handled — after the commands sent behind it on
 * the connection had run. So a guarded SET landed after a delete or a read called after it (in one
 * pipeline, or called back to back): a pipeline `set`, `get`, `delete` of one key read the old
 * value and ended with the set's value in place although the delete came last.
 *
 * Here the command is resent only when that keeps the order: when the `NOSCRIPT` reply comes, no
 * command sent after it on that connection is still unanswered, and the resend is written at once,
 * before anything else. Otherwise it fails with `NOSCRIPT` (./errors.ts: `unavailable`, not
 * applied); either way iovalkey sends the script as EVAL on that connection next time. Left as
 * is if the client has no such script (another iovalkey version).
 */
/**
 * Replies sent before a command runs (cluster routing): the script in an EVAL so answered was not
 * compiled, so not cached by that server.
 */
const NOT_RUN = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

/**
 * The error of a guarded command whose connection was lost before its reply, that iovalkey then
 * sent again on the next connection (standalone and sentinel: its resend of unanswered commands;
 * a cluster: its retry after "Connection is closed."), and whose second copy answered "not
 * stored" (a conditional SET) or removed fewer keys than it named (a delete): the first copy may
 * have been applied, so that answer may be about the first copy's own effect. Before, `set` with
 * `ifAbsent` (or `ifEquals`) resolved `false` although its value was stored, `delete` `false` and
 * `deleteMany` 0 although they had removed the keys (a reply cut off by a reset connection).
 * ./errors.ts makes it a CacheError('unavailable').
 */
export const RESENT_UNKNOWN =
  'the connection was lost before the reply and the command was sent again: its first copy may have been applied, so what it did is unknown';

/**
 * Whether a reply of a command sent twice (see RESENT_UNKNOWN) could be about its first copy's
 * effect: "not stored" of a SET script, fewer keys removed than named by a delete (its first
 * argument after the script is its number of keys, as for the SET's single key).
 */
function ambiguousAfterResend(reply: unknown, args: readonly unknown[]): boolean {
  if (typeof reply !== 'number' || reply === TOO_LATE) return false;
  return reply < Number(args[1]);
}

function resendOnlyInOrder(client: Redis | Cluster, name: string, noOpArgs: readonly string[]): void {
  const script = (client as unknown as { scriptsSet?: Record<string, DefinedScript> }).scriptsSet?.[name];
  if (typeof script?.execute !== 'function' || typeof script.Command !== 'function') return;
  const nodeOf = (socket: unknown): NodeQueue | undefined => {
    const nodes = client.isCluster ? (client as Cluster).nodes('all') : [client as Redis];
    return (nodes as NodeQueue[]).find((n) => socket !== undefined && n.stream === socket);
  };
  const lua = script.lua;
  // iovalkey's own encoding (the Script subclass turns EVAL into EVALSHA once a socket had it).
  const plainToWritable = Object.getPrototypeOf(script.Command.prototype).toWritable as (
    this: ScriptCommand,
    s: unknown,
  ) => unknown;
  // Sockets on which the script went as EVAL and no server has confirmed running it yet (cluster):
  // until then every use on that socket goes as EVAL too. iovalkey counts the script as loaded
  // once the EVAL is written, so the commands pipelined behind a first-use EVAL went as EVALSHA;
  // when that EVAL was redirected (a slot moved: a new master, a failover), they all got NOSCRIPT
  // and failed as "script cache emptied" (a deleteMany right after a slot moved to an added node;
  // `cluster-added-node.test.ts`).
  const unconfirmed = new WeakSet<object>();
  script.execute = function (this: DefinedScript, container, args, options, callback) {
    if (typeof this.numberOfKeys === 'number') args.unshift(this.numberOfKeys);
    if (this.keyPrefix) options.keyPrefix = this.keyPrefix;
    if (this.readOnly) options.readOnly = true;
    const Command = this.Command;
    const sent = [this.sha, ...args];
    const command = new Command('evalsha', sent, options);
    // The socket it is written to (iovalkey passes it to toWritable, which also wraps `reject`
    // to forget that the script is loaded there when NOSCRIPT comes back).
    let socket: unknown;
    // Written again after the connection it was written to was lost (see RESENT_UNKNOWN); a
    // redirection (MOVED/ASK …) writes it again too, but its first connection is still open.
    let resentAfterLoss = false;
    const toWritable = command.toWritable;
    command.toWritable = function (this: ScriptCommand, s: unknown) {
      if (socket !== undefined && socket !== s && (socket as { destroyed?: unknown }).destroyed === true)
        resentAfterLoss = true;
      socket = s;
      const again = client.isCluster && typeof s === 'object' && s !== null && unconfirmed.has(s);
      if (again) {
        this.name = 'eval';
        this.args[0] = lua;
      }
      const written = again ? plainToWritable.call(this, s) : toWritable.call(this, s);
      if (this.name === 'eval' && client.isCluster && typeof s === 'object' && s !== null) {
        unconfirmed.add(s);
        const settled = this.resolve;
        this.resolve = (value: unknown) => {
          unconfirmed.delete(s);
          settled.call(this, value);
        };
      }
      // Written as EVAL (its first use on this connection): iovalkey now counts the script as
      // loaded there. A redirection (MOVED/ASK/TRYAGAIN — a slot moving) is answered before the
      // script is compiled, so the server does not have it, and every later EVALSHA on the
      // connection got NOSCRIPT; those pipelined behind others failed as "script cache emptied"
      // (seen during a live slot migration: deleteMany's first use on a connection got TRYAGAIN).
      // Load it there with a no-op run of the script (EVAL, 0 keys, a deadline already passed:
      // nothing is written; EVAL is in the cache's ACL where SCRIPT LOAD is not), sent before any
      // command written from now on.
      if (this.name === 'eval') {
        const inner = this.reject;
        this.reject = (err: Error) => {
          if (NOT_RUN.test(String(err?.message))) {
            const node = nodeOf(s);
            if (node?.status === 'ready')
              node
                .call('EVAL', lua, '0', ...noOpArgs)
                .then(() => unconfirmed.delete(s as object))
                .catch(() => {});
          } else if (err?.name === 'ReplyError' && typeof s === 'object' && s !== null) {
            unconfirmed.delete(s); // the server answered it (a script error, OOM …): it has the script
          }
          inner.call(this, err);
        };
      }
      return written;
    };
    const settled = command.resolve;
    const reject = command.reject;
    const resolve = (value: unknown) => {
      if (resentAfterLoss && ambiguousAfterResend(value, command.args)) reject(new Error(RESENT_UNKNOWN));
      else settled(value);
    };
    command.resolve = resolve;
    command.reject = (err: Error) => {
      if (/^NOSCRIPT\b/.test(String(err?.message))) {
        // Called while the reply is handled: every command written after this one on the
        // connection is still in its queue of awaited replies.
        const node = nodeOf(socket);
        if (node?.status === 'ready' && node.commandQueue?.length === 0) {
          const again = new Command('evalsha', [...sent], options);
          again.promise.then(resolve, reject);
          node.sendCommand(again as never);
          return;
        }
      }
      reject(err);
    };
    if (typeof callback === 'function')
      command.promise.then(
        (value) => callback(null, value),
        (err: unknown) => callback(err),
      );
    return (container as { sendCommand(c: unknown): unknown }).sendCommand(command);
  };
}

export function createGuardedWrites(
  client: Redis | Cluster,
  commandTimeout: number | undefined,
): GuardedWrites {
  client.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
  // No fixed number of keys: the first argument says how many (one delete, or a deleteMany group).
  client.defineCommand(DELETE_COMMAND, { lua: DELETE_SCRIPT });
  // No-op runs (see resendOnlyInOrder): no key, and a deadline of 0 ms that has always passed.
  resendOnlyInOrder(client, COMMAND, ['', '0']);
  resendOnlyInOrder(client, DELETE_COMMAND, ['0']);
  let offset = 0;
  let uncertainty = 0;
  // The first write waits for one measurement (a single TIME round trip, once per cache): before
  // it the offset is unknown, and a client clock behind the server's would make every deadline
  // look passed, one ahead would let late writes in.
  let first: Promise<void> | undefined;
  let measured = false;
  // The first attempt settled (measured or not): from then on nothing waits for it.
  let firstDone = false;
  const startFirst = () => {
    first ??= sync()
      .catch(() => {})
      .finally(() => {
        firstDone = true;
      });
    return first;
  };

  // Bumped by every measurement: a refinement (below) adopts its result only if no measurement
  // began after it (a reconnect, perhaps to a promoted replica with another clock).
  let generation = 0;
  async function measureAll(): Promise<{ offset: number; uncertainty: number } | undefined> {
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
    const results = await Promise.allSettled(nodes.filter((n) => n.status === 'ready').map(measureClock));
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (ok.length === 0) return undefined;
    return {
      offset: Math.min(...ok.map((r) => r.offset)),
      uncertainty: Math.max(...ok.map((r) => r.uncertainty)),
    };
  }
  async function sync(): Promise<void> {
    const gen = ++generation;
    const m = await measureAll();
    if (m === undefined) return;
    offset = m.offset;
    uncertainty = m.uncertainty;
    measured = true;
    if (m.uncertainty > REFINE_ABOVE_MS) refine(gen, m.uncertainty, REFINES);
  }
  // A round trip stretched by a stall of this process (synchronous start-up work while the TIME
  // reply waited in the socket) or of the network gives a wide measurement, and each deadline is
  // shortened by up to twice its width: past the command timeout, Redis refused every SET and
  // delete as late (`timeout`) until the next measurement, 30 s later (`npm run demo` with a
  // REDIS_URL: a stall of ~90 ms as its embedded database started left a 200 ms L2 with 0 % hits
  // for the run). Measured again at once, in the background (nothing waits for it), and the
  // narrower result kept; again while that keeps halving the width.
  const refine = (gen: number, width: number, left: number) => {
    measureAll().then(
      (m) => {
        if (m === undefined || gen !== generation || m.uncertainty >= width) return;
        offset = m.offset;
        uncertainty = m.uncertainty;
        if (left > 1 && m.uncertainty > REFINE_ABOVE_MS && m.uncertainty < width / 2)
          refine(gen, m.uncertainty, left - 1);
      },
      () => {},
    );
  };
  const resync = () => {
    sync().catch(() => {});
  };
  const timer = setInterval(resync, RESYNC_MS).unref();
  client.on('ready', resync);
  if (client.status === 'ready') resync();

  // `at` is when the caller sent the write (client clock): a write that first waited for the clock
  // measurement keeps the deadline it had when it was called, so the wait never extends its budget.
  // `at` is on the steady clock too (callers take steadyNow()): a wall-clock step during the wait
  // neither spends the budget (forward) nor, stepped back, restarts it from the send — the write
  // would then land after its caller was told it timed out.
  const deadline = (budget?: number, at?: number) => {
    const limit =
      budget === undefined ? commandTimeout : Math.min(budget, commandTimeout ?? Number.POSITIVE_INFINITY);
    if (limit === undefined) return '';
    const waited = at === undefined ? 0 : Math.max(0, steadyNow() - at);
    return String(serverDeadline(steadyNow() - waited, limit, offset, uncertainty));
  };
  const px = (ms: number | undefined) => (ms === undefined ? '' : String(ms));
  // The largest write of the current and of the previous OOM_RECENT_MS window (see `largest`).
  let windowAt = steadyNow();
  let largestNow = 0;
  let largestBefore = 0;
  const roll = () => {
    const now = steadyNow();
    if (now - windowAt < OOM_RECENT_MS) return;
    largestBefore = now - windowAt < 2 * OOM_RECENT_MS ? largestNow : 0;
    largestNow = 0;
    windowAt = now;
  };
  const note = (key: string, value: Buffer, expect?: Buffer) => {
    roll();
    const bytes = key.length + value.length + (expect?.length ?? 0);
    if (bytes > largestNow) largestNow = bytes;
  };
  // Whether commands go out at once (else they first wait for the first clock measurement).
  const ready = () => measured || firstDone || commandTimeout === undefined;

  const send = (
    key: string,
    value: Buffer,
    ttl: number | undefined,
    nx: boolean,
    budget?: number,
    at?: number,
    expect?: Buffer,
  ) => {
    note(key, value, expect);
    const args = [key, value, deadline(budget, at), px(ttl), nx ? '1' : ''];
    if (expect !== undefined) args.push(expect);
    return (client as unknown as Scripted)[COMMAND](...args);
  };
  // The keys go as one array (iovalkey flattens it): spread into the call, a deleteMany of
  // ~150,000 keys overflowed the JS stack ('Maximum call stack size exceeded').
  const sendDelete = (keys: readonly string[], budget?: number, at?: number) =>
    (client as unknown as Scripted)[DELETE_COMMAND]([keys.length, ...keys, deadline(budget, at)]);

  return {
    set(key, value, ttl, nx = false, budget, at = steadyNow(), expect) {
      if (ready()) return send(key, value, ttl, nx, budget, at, expect);
      // Not measured yet: one shared attempt; if it gets no answer the write goes on with offset 0.
      // The deadline still counts from the call: a write the caller was told timed out while it
      // waited here must not be sent later with a fresh budget (it would land after the failure).
      return startFirst().then(() => send(key, value, ttl, nx, budget, at, expect));
    },
    delete(keys, budget, at = steadyNow()) {
      if (ready()) return sendDelete(keys, budget, at);
      // As for set: wait for the one measurement, keeping the deadline of the call.
      return startFirst().then(() => sendDelete(keys, budget, at));
    },
    pending() {
      if (ready()) return undefined;
      return startFirst();
    },
    queue(p, key, value, ttl, budget, at) {
      note(key, value);
      (p as unknown as Scripted)[COMMAND](key, value, deadline(budget, at), px(ttl), '');
    },
    queueDelete(p, keys, budget, at) {
      (p as unknown as Scripted)[DELETE_COMMAND]([keys.length, ...keys, deadline(budget, at)]);
    },
    deadline,
    largest() {
      roll();
      return Math.max(largestNow, largestBefore);
    },
    stop() {
      clearInterval(timer);
      client.off('ready', resync);
    },
  };
}
