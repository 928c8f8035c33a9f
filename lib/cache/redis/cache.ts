/**
 * The Redis `Cache`: byte values under an optional key prefix, on a standalone server, a sentinel
 * set or a cluster. Bad input throws a typed CacheError before anything is sent; backend failures
 * become CacheError('timeout' | 'unavailable' | 'oom' | 'backend' …) with the client's error as
 * `cause`. `getOrSet` fails open: when Redis cannot answer, the loader's value is returned.
 *
 * This file wires the parts: the connection gate (./gate.ts) and the dispatcher (./dispatch.ts)
 * that every command goes through, the commands (./commands.ts, ./many.ts, ./pipeline.ts,
 * ./clear.ts), transactions (./transaction/), health (./health.ts) and close (./close.ts).
 */
import type { Cluster } from 'iovalkey';
import type { Logger, WriteOptions } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { adaptLogger, quietLogger } from '../../core/log-binding.js';
import { noopLogger } from '../../core/noop.js';
import { checkBudget } from './checks.js';
import { clearPrefix } from './clear.js';
import { adoptInjectedClient, buildClient, NO_INFO, OPEN_SENTINEL, OPEN_SERVER } from './client.js';
import { closeCache } from './close.js';
import { createKeyCommands } from './commands.js';
import { createGuardedWrites } from './deadline.js';
import { type CacheContext, createDispatcher, type Dispatcher } from './dispatch.js';
import { toCacheError } from './errors.js';
import { createConnectionGate, isReady } from './gate.js';
import { probeHealth, type RedisHealth } from './health.js';
import { registerCacheClient } from './lease.js';
import { makeListenerRoom } from './listeners.js';
import { createManyCommands } from './many.js';
import { describeNodes } from './nodes.js';
import { type RedisCacheOptions, resolveOptions } from './options.js';
import { createPipeline } from './pipeline.js';
import { createReporter, reportConnectionErrors } from './report.js';
import { createCounters, snapshot } from './stats.js';
import { steadyNow } from './steady.js';
import { createFaultWatch, handshakeBound } from './tls.js';
import { createTransactionRunner, type TransactionRunner } from './transaction/index.js';
import { watchedKeys } from './transaction/options.js';
import type { RedisCache } from './types.js';
import { createWriteProbe } from './write-probe.js';

/**
 * The most listeners one cache adds to a single event of its client ('error' and 'ready': the
 * gate, the error reporter, the TLS fault watch, and on 'ready' the restored-connection record);
 * spec/cache/redis/shared-client.test.ts counts them.
 */
const LISTENERS_PER_CACHE = 4;

/** Creates a Redis-backed cache. Throws ConfigError for invalid options (every bad field at once). */
export function createRedisCache(options: RedisCacheOptions = {}): RedisCache {
  const o = resolveOptions(options);
  const owned = options.client === undefined || options.ownClient === true;
  const faults = createFaultWatch({
    handshakeTimeoutMs: handshakeBound(o.dialTimeout, o.commandTimeout),
    tls: o.tls !== undefined,
    sentinelTls: o.sentinelTls !== undefined,
  });
  const client = options.client ?? buildClient(o, faults);
  // A lease built on this client derives its key prefix from ours (./lease.ts).
  registerCacheClient(client, o.keyPrefix);
  if (options.client) {
    faults.attach(options.client);
    // A sentinel client of the user's: the workarounds safe on a client we do not own (./client.ts).
    adoptInjectedClient(options.client);
  }
  // adaptLogger, as createApp applies it: a pino instance given as it is takes fields first, so
  // through the option's message-first calls every record lost its fields (`redis connection
  // error` without the error); a logger without `child` (`console`) is given one.
  // Quiet: it logs from connection events and command callbacks, where a logger that threw was an
  // uncaught exception (the process ended at the first connection error).
  const given: Logger = options.logger == null ? noopLogger : quietLogger(adaptLogger(options.logger));
  const logger: Logger = given.child({ component: 'cache', cache: o.name });
  const secrets = [o.password, o.sentinelPassword, o.tls?.passphrase, o.sentinelTls?.passphrase];
  if (options.client === undefined) {
    const unverified = [
      o.tls?.rejectUnauthorized === false && 'tls',
      o.mode === 'sentinel' &&
        o.sentinelTls !== o.tls &&
        o.sentinelTls?.rejectUnauthorized === false &&
        'sentinel.tls',
    ].filter(Boolean);
    if (unverified.length > 0) {
      const message = `redis: ${unverified.join(' and ')} has rejectUnauthorized: false, so server certificates and host names are not verified: anyone on the network path can pose as the server and read the password and the data (for tests only)`;
      // Without a logger of the user's the warning went to the no-op logger: an insecure setting
      // was silent. It is then a process warning, printed on stderr by default.
      if (options.logger === undefined)
        process.emitWarning(message, { type: 'HyperionCacheWarning', code: 'HYPERION_REDIS_TLS' });
      else logger.warn(message);
    }
  }
  // Set once the key commands exist (below): transactional writes mark the loads in flight too.
  let markWritten: (keys: readonly string[]) => void = () => {};
  const transactions = createTransactionRunner({
    client,
    keyPrefix: o.keyPrefix,
    mode: o.mode,
    commandTimeout: o.commandTimeout,
    defaultTtl: o.defaultTtl,
    onWrite: (keys) => markWritten(keys),
  });

  // An injected client may serve several caches: room for this one's listeners (./listeners.ts).
  const releaseListenerRoom = owned ? () => {} : makeListenerRoom(client, LISTENERS_PER_CACHE);
  // A client of ours whose ACL user may not run INFO (./client.ts): said once, through the logger.
  const onNoInfo = (err: Error) =>
    logger.warn(
      'redis: the ACL user may not run INFO, so the ready check (waiting while a server loads its data) is skipped and health() cannot read memory: grant +info (see aclRules())',
      { error: toCacheError('connection', err, secrets).message },
    );
  client.once(NO_INFO, onNoInfo);
  // A password the server does not need (./client.ts): said once, through the logger (a process
  // warning without one, as for rejectUnauthorized: false) — the server is open to anyone.
  const onOpenServer = () => {
    const message =
      'redis: a password was given but the server requires none (its default user is open): anyone who reaches it can read and write; set requirepass or an ACL user on the server, or drop the password';
    if (options.logger === undefined)
      process.emitWarning(message, { type: 'HyperionCacheWarning', code: 'HYPERION_REDIS_OPEN_SERVER' });
    else logger.warn(message);
  };
  client.once(OPEN_SERVER, onOpenServer);
  // Likewise `sentinel.password` given to sentinels that need none (./client.ts, ./health.ts):
  // anyone who reaches a sentinel may reconfigure it or fail the master over.
  const onOpenSentinel = (_err: Error, sentinel: string) => {
    const message = `redis: a sentinel password was given but the sentinel ${sentinel} requires none (its default user is open): anyone who reaches it can reconfigure it or fail the master over; set requirepass (or an ACL user) on the sentinels, or drop sentinel.password`;
    if (options.logger === undefined)
      process.emitWarning(message, { type: 'HyperionCacheWarning', code: 'HYPERION_REDIS_OPEN_SENTINEL' });
    else logger.warn(message);
  };
  client.once(OPEN_SENTINEL, onOpenSentinel);
  const gate = createConnectionGate(client, o.commandTimeout, faults);
  const report = createReporter(logger);
  /** close() is ending the owned client: what it emits from then on is that ending, not news. */
  let ending = false;
  const stopReporting = reportConnectionErrors(
    client,
    (message, fields) => {
      if (ending) return;
      report(message, fields);
      watchRecovery();
    },
    secrets,
  );
  // An outage that was logged ends with a line too: its warnings stopped when the quiet time held
  // them back or the client reconnected, and the log never said which (the last line read
  // "redis connection error" until the next outage). Once per logged outage, so a server that
  // flaps adds no more than its warnings (at most one per 5 s).
  const onReady = () => {
    if (!ending && report.settle())
      logger.info('redis connection restored', { server: describeNodes(client) });
  };
  client.on('ready', onReady);
  // A cluster failover (a master killed, its replica promoted) ends an outage without a 'ready'
  // event: iovalkey emits none then, so the outage's warnings were never followed by 'restored'
  // (and a reconnect days later printed a stale one). After a connection error on a cluster, the
  // client's slot map is looked at once a second (unref'd, until then or close): once every slot's
  // owner has a ready connection — the promoted replica answering the commands sent to it — the
  // outage is over. Nothing is added to the command paths.
  let recovery: NodeJS.Timeout | undefined;
  const stopRecovery = () => {
    clearInterval(recovery);
    recovery = undefined;
  };
  const watchRecovery = () => {
    if (!client.isCluster || recovery !== undefined || ending) return;
    recovery = setInterval(() => {
      if (ending) return stopRecovery();
      if (!allSlotsServed(client as Cluster)) return;
      stopRecovery();
      onReady();
    }, RECOVERY_CHECK_MS);
    recovery.unref();
  };
  // A Cluster's command timeout is its nodes' (`redisOptions.commandTimeout`): read at the top of
  // its options, one Cluster with a timeout was warned of as having none, and one that had none
  // only at the top (where iovalkey does not read it) was not warned of.
  if (options.client !== undefined && clientTimeout(client) === undefined) {
    logger.warn(
      `injected redis client has no commandTimeout: its commands are not time-bounded (a get against a hung server waits as long as the connection stays open); set ${client.isCluster ? 'redisOptions.commandTimeout' : 'commandTimeout'} on the client — the cache's commandTimeout bounds only its own waits (connection, health, transactions, close)`,
    );
  }
  const counters = createCounters();
  const dispatch = createDispatcher(client, gate, counters, report, secrets);
  // An injected client keeps its own command timeout (none: writes have no deadline).
  const timeout = owned && options.client === undefined ? o.commandTimeout : clientTimeout(client);
  const writes = createGuardedWrites(client, timeout);
  dispatch.holdWhile(() => writes.pending());
  const ctx: CacheContext = {
    client,
    prefix: o.keyPrefix,
    defaultTtl: o.defaultTtl,
    loadTimeout: o.loadTimeout,
    counters,
    dispatch,
    writes,
    timeout,
  };

  let closing: Promise<void> | undefined;
  let probing: Promise<RedisHealth> | undefined;
  // health()'s write probe connections (./write-probe.ts), closed with the cache.
  const writeProbe = createWriteProbe(o.keyPrefix);
  const { wrote, releaseLoads, ...keyCommands } = createKeyCommands(ctx);
  markWritten = wrote;
  const many = createManyCommands(ctx);
  return {
    name: o.name,
    mode: o.mode,
    keyPrefix: o.keyPrefix,
    defaultTtl: o.defaultTtl,
    client,
    ...keyCommands,
    getMany: many.getMany,
    getManyWithTtl: many.getManyWithTtl,
    // Multi-key writes tell the loads in flight (getOrSet) that their keys were written. The
    // options carry the caller's budget, which sets the server-side deadline (./deadline.ts).
    // Async, so that what these lines throw rejects like every other misuse: `String(e?.key)` of
    // a key with no string form (an object without a prototype) threw a raw TypeError
    // synchronously from `setMany`, where the key check rejects with `invalid_key`.
    async setMany(entries, options) {
      if (Array.isArray(entries)) wrote(entries.map((e: { key?: string } | undefined) => e?.key as string));
      return many.setMany(entries, options);
    },
    async deleteMany(keys, options) {
      if (Array.isArray(keys)) wrote(keys);
      return many.deleteMany(keys, options);
    },
    // `{ timeout }`: one deadline for every round, counted from this call (./clear.ts), and the
    // caller's wait bounded by it like the other writes: unbounded, a clear against a paused,
    // stopped or unreachable server settled only at the command timeout (1 s for a 200 ms budget;
    // the tiered cache's l2Timeout too). Rounds still in flight then are refused by their deadline.
    async clear(options?: Pick<WriteOptions, 'timeout'>) {
      const at = steadyNow();
      const budget = checkBudget(options);
      wrote('all');
      await dispatch.bounded(
        dispatch.run('clear', () => clearPrefix(client, o.keyPrefix, writes, budget, at)),
        'clear',
        budget,
        at,
      );
    },
    transaction: counted(transactions, dispatch),
    pipeline: () => createPipeline(ctx, wrote),
    stats: () => snapshot(counters),
    health() {
      if (gate.closed)
        return Promise.resolve({ ok: false, mode: o.mode, error: 'cache is closed', nodes: [] });
      // Concurrent calls share one probe (and its result): each probe opens a short connection
      // per sentinel, so 100 readiness checks at once opened 300 sentinel connections.
      probing ??= probe().finally(() => {
        probing = undefined;
      });
      return probing;
    },
    close() {
      writes.stop();
      releaseLoads();
      closing ??= closeCache({
        client,
        owned,
        gate,
        dispatch,
        commandTimeout: o.commandTimeout,
        closeTransactions: () => transactions.close(),
        // A probe in flight (bounded, never rejects) ends its sentinel connections before close() resolves.
        health: () => probing,
        ending() {
          ending = true;
          stopRecovery();
          report.stop();
        },
        stopReporting() {
          stopReporting();
          client.off('ready', onReady);
          stopRecovery();
          report.stop();
          faults.detach();
          // A closed cache left these three on an injected client, which kept it (and its
          // logger) for the client's life: one set per cache ever made over it.
          client.off(NO_INFO, onNoInfo);
          client.off(OPEN_SERVER, onOpenServer);
          client.off(OPEN_SENTINEL, onOpenSentinel);
          releaseListenerRoom();
        },
      }).finally(() => writeProbe.close());
      return closing;
    },
  };

  async function probe(): Promise<RedisHealth> {
    // A lazy client (minIdleConns 0) not used yet: health() is a use, so it connects, waiting
    // like any command (bounded). Before, it reported `not connected (wait)` until some other
    // command connected — for ever, if a readiness check held traffic back until health was ok.
    // Likewise a client still making its first connection (minIdleConns 1, health() called right
    // after createRedisCache): it waits for it as a command does, where it reported `not connected
    // (connecting)` while a get called beside it succeeded. A connection that was up and is lost
    // (or a first one that already ran out its wait) is reported at once (fail-fast).
    // (Its refusal, e.g. too many callers waiting, is left to the probe to report: never throws.)
    // The probe then gets a command timeout of its own, as a command does after its wait: given
    // what the wait left (down to 1 ms), a first connection that took most of it (a slow link:
    // 270 ms of 500 ms, each round trip 270 ms) made health() report `Command timed out` while a
    // get called beside it succeeded. Without a wait the probe is the whole call, one timeout.
    if (!isReady(client)) {
      try {
        await gate.pass('health', client.status !== 'wait');
      } catch {}
    }
    return probeHealth(
      client,
      o.mode,
      o.commandTimeout,
      secrets,
      dispatch.lastOom(),
      () => gate.why(),
      writeProbe,
      dispatch.lastOomTransaction() ? undefined : writes.largest(),
    );
  }
}

/** How often a cluster's slot map is looked at after a connection error (see `watchRecovery`). */
const RECOVERY_CHECK_MS = 1000;

/** Whether every slot of the client's slot map is owned by a node whose connection is ready. */
function allSlotsServed(cluster: Cluster): boolean {
  if (cluster.status !== 'ready') return false;
  const ready = new Set(
    cluster
      .nodes('all')
      .filter((n) => n.status === 'ready')
      .map((n) => `${n.options.host}:${n.options.port}`),
  );
  for (let slot = 0; slot < 16384; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined || !ready.has(owner)) return false;
  }
  return true;
}

function clientTimeout(client: RedisCache['client']): number | undefined {
  const t = (
    client.isCluster
      ? (client.options as { redisOptions?: { commandTimeout?: unknown } }).redisOptions
      : client.options
  ) as { commandTimeout?: unknown } | undefined;
  return typeof t?.commandTimeout === 'number' ? t.commandTimeout : undefined;
}

/**
 * Transactions whose backend failures count and log like any other command; misuse and the
 * caller's own errors (thrown by `fn`) pass through uncounted. They run on dedicated connections
 * (./transaction/), but first pass the cache's connection gate like every command: a known
 * connection fault (wrong password, untrusted certificate …) fails them at once with the same
 * message, instead of each transaction waiting the command timeout for a dedicated connection
 * that cannot come up and then reporting only "connecting took longer than …".
 */
function counted(runner: TransactionRunner, dispatch: Dispatcher): RedisCache['transaction'] {
  return async (fn, options) => {
    // Misuse is reported as such even while Redis is unreachable (the runner checks it again).
    if (typeof fn !== 'function') throw new CacheError('invalid_value', 'transaction expects a function');
    watchedKeys(options);
    // The transaction's one budget counts from here: the wait for the gate is part of it. The
    // runner awaits the gate itself, so that the transaction is in flight from this call: a
    // close() right after it waits for it (it used to reject with `closed`, unlike a `set`).
    const startedAt = steadyNow();
    let admitted = false;
    const admit = async () => {
      await dispatch.admit('transaction');
      admitted = true;
    };
    return runner.transaction(fn, options, startedAt, admit).catch((err: unknown) => {
      const code = err instanceof CacheError ? err.code : undefined;
      // A refusal at the gate was counted there.
      if (!admitted) throw err;
      if (code === 'timeout' || code === 'unavailable' || code === 'oom' || code === 'backend') {
        dispatch.failed('transaction', err as CacheError);
      }
      throw err;
    });
  };
}
