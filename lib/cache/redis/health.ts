/** `health()`: a timed PING plus the topology the client sees. Never throws. */
import type { Cluster, Redis, RedisOptions } from 'iovalkey';
import { withTimeout } from '../../core/timeout.js';
import { nodeLoading, OPEN_SENTINEL, quietAuth } from './client.js';
import { OOM_RECENT_MS } from './deadline.js';
import { loadingTimeoutError, toCacheError } from './errors.js';
import { closing } from './gate.js';
import { describeNodes, nodeAddress, nodeKeyAddress } from './nodes.js';
import type { RedisMode } from './options.js';
import { iovalkey } from './peer.js';
import { steadyNow } from './steady.js';
import type { WriteProbe } from './write-probe.js';

export interface RedisNodeHealth {
  /** `host:port` as the client knows the node. */
  readonly address: string;
  readonly role: 'master' | 'replica';
  /**
   * The node answered this probe's PING (the probe connects a connection the client opened lazily,
   * e.g. to a replica that rejoined after a failover and serves no reads yet).
   */
  readonly connected: boolean;
  /** Why it did not answer, when it did not. */
  readonly error?: string | undefined;
}

export interface RedisHealth {
  readonly ok: boolean;
  readonly mode: RedisMode;
  /**
   * PING round trip in ms (cluster: the slowest master). Present when `ok`. In a cluster, `ok` means
   * every master answered and every slot's owner in the client's slot map answered (a killed
   * master not yet failed over is in no node list but still owns its slots); `nodes` then lists every node with its own answer, so a replica that does
   * not answer shows `connected: false` next to `ok: true` only when it really did not answer.
   */
  readonly latencyMs?: number | undefined;
  /** Role reported by the server the client is connected to (standalone/sentinel), from `ROLE`. */
  readonly role?: string | undefined;
  readonly nodes: readonly RedisNodeHealth[];
  /** Why it is not ok (no secrets). */
  readonly error?: string | undefined;
  /**
   * `true` when the server answers (reads work, `latencyMs` and `nodes` are filled) but the cache is
   * impaired, so `ok` is `false` and `error` says why: a master out of memory (`maxmemory` reached
   * under `noeviction` or a `volatile-*` policy with nothing left to evict: every write fails with
   * `oom`), a master whose writes are held back (`CLIENT PAUSE … WRITE`, a failover in progress:
   * PING and reads answer, every write times out; seen by a write probe on a connection of the
   * health check's own, see ./write-probe.ts), or in sentinel mode no sentinel answering (the
   * master serves, but nothing can fail over).
   */
  readonly degraded?: true | undefined;
  /** Sentinel mode: each sentinel's answer to a PING on a short-lived connection of its own. */
  readonly sentinels?: readonly RedisSentinelHealth[] | undefined;
}

export interface RedisSentinelHealth {
  readonly address: string;
  readonly connected: boolean;
  readonly error?: string | undefined;
}

/** Like the client's own command timeout, so that it maps to CacheError('timeout'). */
const timedOut = () => new Error('Command timed out');
const noop = () => {};
const sleepUnref = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

async function timedPing(node: Redis, ms: number): Promise<number> {
  const start = performance.now();
  await withTimeout(node.ping(), ms, timedOut, { unref: true });
  return performance.now() - start;
}

/** A field of an `INFO` reply, or `undefined`. */
function infoField(text: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*?)\\r?$`, 'm').exec(text)?.[1];
}

/**
 * Why writes to `node` fail for lack of memory, or `undefined`. Redis refuses every write (`OOM`)
 * while its memory, less what it does not count for eviction (replication and AOF buffers), is
 * over `maxmemory` and the policy cannot evict: `noeviction`, or a `volatile-*` policy whose keys
 * with a TTL are all gone (under a `volatile-*` policy that can still evict, and under `allkeys-*`,
 * each command evicts back below the limit first, so memory does not stay over it). An `INFO`
 * the ACL refuses (or any other failure) reports nothing: the PING decides reachability.
 */
async function outOfMemory(
  node: Redis,
  ms: number,
  lastOom?: number,
  largest?: number,
): Promise<string | undefined> {
  const m = await memoryOf(node, ms);
  if (!m) return undefined;
  if (m.used > m.max) return m.full;
  // Redis counts the incoming command in its check: a large value is refused while memory is still
  // a little below the limit. So a refusal this cache met recently counts too.
  return nearlyFull(m, lastOom, largest);
}

interface Memory {
  readonly used: number;
  readonly max: number;
  /** The report when `used > max`. */
  readonly full: string;
  readonly where: string;
}

/** A node's memory against a limit it cannot evict under; `undefined` when writes cannot fail for it. */
async function memoryOf(node: Redis, ms: number): Promise<Memory | undefined> {
  let text: string;
  try {
    text = String(await withTimeout(node.info('memory'), ms, timedOut, { unref: true }));
  } catch {
    return undefined;
  }
  const max = Number(infoField(text, 'maxmemory'));
  const used =
    Number(infoField(text, 'used_memory')) - Number(infoField(text, 'mem_not_counted_for_evict') ?? 0);
  const policy = infoField(text, 'maxmemory_policy') ?? '';
  if (!(max > 0) || policy.startsWith('allkeys-')) return undefined;
  const where = `on ${nodeAddress(node)} (used_memory ${used}, maxmemory ${max}, maxmemory-policy ${policy})`;
  const full = `out of memory ${where}: every write fails with oom (reads and deletes still work)`;
  return { used, max, full, where };
}

/**
 * The memory a write of `bytes` needs below the limit: Redis holds the command in the connection's
 * query buffer (which grows by doubling, from 16 KiB) and in its parsed arguments at once when it
 * checks `maxmemory`.
 */
const roomFor = (bytes: number) => 4 * bytes + 64 * 1024;

/**
 * A write refused with `oom` lately (`lastOom`) while the server is still short of room for the
 * largest write sent lately (`largest` bytes; unknown: any room counts as short). With room again —
 * the limit raised, keys deleted — it is ok at once: it said "nearly out of memory … maxmemory
 * 104857600" for 10 s after the limit went from 2 MB to 100 MB, while every write worked.
 */
function nearlyFull(m: Memory, lastOom: number | undefined, largest?: number): string | undefined {
  const ago = lastOom === undefined ? Number.POSITIVE_INFINITY : steadyNow() - lastOom;
  if (largest !== undefined && m.max - m.used >= roomFor(largest)) return undefined;
  if (ago <= OOM_RECENT_MS)
    return `nearly out of memory ${m.where}: a write was refused with oom ${Math.round(ago)} ms ago (reads and deletes still work)`;
  return undefined;
}

/**
 * PINGs every sentinel the client was given, each on a short-lived connection of its own with the
 * sentinels' credentials and TLS (the client's own sentinel connections reconnect only once a
 * minute, so their state says little). Never rejects. Once one sentinel answered and `settled`
 * (the master's own checks) is done, the others still silent are cut and reported as not
 * answering: failover is known to be possible, and one hung sentinel must not hold every
 * readiness probe for the whole command timeout.
 */
/** How long the disconnect of a sentinel probe waits for its socket to close (ms). */
const PROBE_DISCONNECT_MS = 100;

async function probeSentinels(
  redis: Redis,
  ms: number,
  secrets: readonly (string | undefined)[],
  settled: Promise<unknown>,
) {
  const o = redis.options as {
    sentinels: { host?: string; port?: number }[];
    sentinelUsername?: string | null;
    sentinelPassword?: string | null;
    sentinelTLS?: RedisOptions['tls'];
  };
  const { Redis: Client } = iovalkey();
  const start = performance.now();
  let firstAnswerMs = 0;
  let answered!: () => void;
  const oneAnswered = new Promise<void>((resolve) => {
    answered = () => {
      firstAnswerMs ||= performance.now() - start;
      resolve();
    };
  });
  let cutShort = false;
  // The others get a grace after that (4× the first answer's time, at least 250 ms): a sentinel a
  // little slower than the first is not a silent one.
  const cut = Promise.all([oneAnswered, settled.then(noop, noop)])
    .then(() => sleepUnref(Math.max(250, 4 * firstAnswerMs)))
    .then(() => {
      cutShort = true;
      throw new Error(
        `no answer within ${Math.round(performance.now() - start)} ms, while another sentinel answered`,
      );
    });
  cut.catch(noop);
  return Promise.all(
    o.sentinels.map(async (s): Promise<RedisSentinelHealth> => {
      const address = `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`;
      const sentinel = new Client({
        host: s.host,
        port: s.port ?? 26379,
        username: o.sentinelUsername ?? undefined,
        password: o.sentinelPassword ?? undefined,
        tls: o.sentinelTLS,
        lazyConnect: true,
        enableReadyCheck: false,
        enableOfflineQueue: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        connectTimeout: ms,
        commandTimeout: ms,
        connectionName: 'hyperion:health',
        // iovalkey's disconnect() arms a ref'd timer of this length waiting for the socket to
        // close, also when it never opened (a sentinel that refused): the default 2 s kept the
        // process of a closed cache alive ~2 s after a health() with one sentinel down.
        disconnectTimeout: PROBE_DISCONNECT_MS,
      });
      // A sentinel password the sentinel does not need: said once by the cache (./cache.ts),
      // not printed by iovalkey on every probe.
      quietAuth(sentinel, (err) => redis.emit(OPEN_SENTINEL, err, address));
      // The connection's own error (e.g. ECONNREFUSED) says more than the rejected connect().
      let last: unknown;
      sentinel.on('error', (err: unknown) => {
        last = err;
      });
      try {
        await Promise.race([
          withTimeout(
            sentinel.connect().then(() => sentinel.ping()),
            ms,
            timedOut,
            { unref: true },
          ),
          cut,
        ]);
        answered();
        return { address, connected: true };
      } catch (err) {
        if (cutShort && err instanceof Error && err.message.startsWith('no answer within'))
          return { address, connected: false, error: `${address}: ${err.message}` };
        const error = toCacheError('health', last ?? err, secrets, address).message;
        return { address, connected: false, error };
      } finally {
        sentinel.disconnect();
      }
    }),
  );
}

/** PINGs one cluster node (connecting it if the client opened it lazily); never rejects. */
async function probeNode(
  node: Redis,
  role: 'master' | 'replica',
  ms: number,
  secrets: readonly (string | undefined)[],
  writeProbe?: WriteProbe,
): Promise<
  RedisNodeHealth & {
    latency?: number | undefined;
    oom?: string | undefined;
    memory?: Memory | undefined;
    paused?: string | undefined;
  }
> {
  const address = nodeAddress(node);
  // One budget for the node: connecting, PING and INFO together.
  const end = steadyNow() + ms;
  const left = () => Math.max(0, end - steadyNow());
  try {
    if (node.status === 'wait') await withTimeout(node.connect(), ms, timedOut, { unref: true });
    const full = role === 'master' ? memoryOf(node, left()) : undefined;
    const held = role === 'master' ? writeProbe?.check(node, left()) : undefined;
    const latency = await timedPing(node, left()).finally(() => Promise.all([full, held]));
    const memory = await full;
    const paused = await held;
    const oom = memory && memory.used > memory.max ? memory.full : undefined;
    return {
      address,
      role,
      connected: true,
      latency,
      ...(oom ? { oom } : {}),
      ...(memory ? { memory } : {}),
      ...(paused ? { paused } : {}),
    };
  } catch (err) {
    // A node whose server is still loading its data (./client.ts `nodeLoading`) says so.
    const loading = nodeLoading(node);
    const error = loading
      ? loadingTimeoutError('health', err, loading, address)
      : toCacheError('health', err, secrets, address);
    return { address, role, connected: false, error: error.message };
  }
}

/**
 * Slot ranges whose owner (per the client's slot map) is not a node that answered: a master the
 * client dropped after its connection ended (killed, not yet failed over) is in no node list, but
 * its slots still point to it and every command on them fails. `undefined` when all are served.
 */
function unservedSlots(cluster: Cluster, answered: ReadonlySet<string>): string | undefined {
  const ranges: string[] = [];
  let start = -1;
  let owner: string | undefined;
  const flush = (end: number) => {
    if (start >= 0)
      ranges.push(`${start}-${end} on ${owner === undefined ? 'no node' : nodeKeyAddress(owner)}`);
    start = -1;
  };
  for (let slot = 0; slot < 16384; slot++) {
    const o = cluster.slots[slot]?.[0];
    const served = o !== undefined && answered.has(o);
    if (!served && (start < 0 || o !== owner)) {
      flush(slot - 1);
      start = slot;
      owner = o;
    } else if (served) flush(slot - 1);
  }
  flush(16383);
  return ranges.length === 0 ? undefined : `slots whose owner did not answer: ${ranges.join(', ')}`;
}

/** Least time left in the budget for `health()` to re-check a cluster after a not-ok probe (ms). */
const MIN_RECHECK_MS = 50;

/**
 * Waits (at most `ms`) for a fresh read of the slot map: one in flight (iovalkey calls a second
 * caller back at once instead of when it ends), then one of our own. Never rejects.
 */
export async function refreshTopology(cluster: Cluster, ms: number): Promise<void> {
  const end = steadyNow() + ms;
  const c = cluster as unknown as { isRefreshing?: boolean };
  while (c.isRefreshing && steadyNow() < end) await new Promise((r) => setTimeout(r, 5).unref());
  await withTimeout(
    new Promise<void>((resolve) => cluster.refreshSlotsCache(() => resolve())),
    Math.max(0, end - steadyNow()),
    timedOut,
    { unref: true },
  ).catch(() => {});
}

/** One probe of every cluster node and of the slot map's owners (see `RedisHealth.latencyMs`). */
async function probeCluster(
  cluster: Cluster,
  mode: RedisMode,
  timeoutMs: number,
  secrets: readonly (string | undefined)[],
  lastOom: number | undefined,
  writeProbe: WriteProbe | undefined,
  because: () => string = () => '',
  largest?: number,
): Promise<RedisHealth> {
  const nodes: RedisNodeHealth[] = [];
  const masters = cluster.nodes('master');
  if (cluster.status !== 'ready' || masters.length === 0) {
    for (const n of masters)
      nodes.push({ address: nodeAddress(n), role: 'master', connected: n.status === 'ready' });
    for (const n of cluster.nodes('slave'))
      nodes.push({ address: nodeAddress(n), role: 'replica', connected: n.status === 'ready' });
    return { ok: false, mode, nodes, error: `cluster not connected (${cluster.status})${because()}` };
  }
  const replicas = cluster.nodes('slave');
  writeProbe?.keepOnly(masters);
  const probed = await Promise.all([
    ...masters.map((n) => probeNode(n, 'master', timeoutMs, secrets, writeProbe)),
    ...replicas.map((n) => probeNode(n, 'replica', timeoutMs, secrets)),
  ]);
  for (const { latency: _latency, oom: _oom, memory: _memory, paused: _paused, ...n } of probed)
    nodes.push(n);
  const down = probed.filter((n) => n.role === 'master' && !n.connected);
  if (down.length > 0)
    return { ok: false, mode, nodes, error: down.map((n) => n.error ?? n.address).join('; ') };
  // A stale owner that answered (e.g. demoted by CLUSTER FAILOVER, not yet re-read) still
  // serves its slots through a MOVED reply, which the client follows: only a silent or unknown
  // owner leaves them unserved.
  const answered = new Set(
    [...masters, ...replicas]
      .filter((_, i) => probed[i]?.connected)
      .map((n) => `${n.options.host}:${n.options.port}`),
  );
  const unserved = unservedSlots(cluster, answered);
  if (unserved) return { ok: false, mode, nodes, error: unserved };
  const latencyMs = Math.max(...probed.filter((n) => n.role === 'master').map((n) => n.latency!));
  const full = probed.flatMap((n) => (n.oom ? [n.oom] : []));
  // A write refused with oom lately while no master is over its limit: Redis counts the incoming
  // command, so the refusing master sat just below it (a 16 KiB value against 3 MB: health said
  // ok in 1 run of 5). Which master refused is not known here; the fullest one is named.
  if (full.length === 0) {
    const fullest = probed
      .flatMap((n) => (n.memory ? [n.memory] : []))
      .sort((a, b) => b.used / b.max - a.used / a.max)[0];
    const nearly = fullest && nearlyFull(fullest, lastOom, largest);
    if (nearly) full.push(nearly);
  }
  full.push(...probed.flatMap((n) => (n.paused ? [n.paused] : [])));
  if (full.length > 0) return { ok: false, degraded: true, mode, latencyMs, nodes, error: full.join('; ') };
  return { ok: true, mode, latencyMs, nodes };
}

export async function probeHealth(
  client: Redis | Cluster,
  mode: RedisMode,
  timeoutMs: number,
  secrets: readonly (string | undefined)[],
  lastOom?: number,
  why?: () => string | undefined,
  writeProbe?: WriteProbe,
  largest?: number,
): Promise<RedisHealth> {
  const nodes: RedisNodeHealth[] = [];
  // Why the client is not connected (the connection fault or its last error), secrets masked.
  const because = (): string => {
    let reason = why?.();
    if (!reason) return '';
    for (const s of secrets) if (s) reason = reason.split(s).join('***');
    return `: ${reason.length > 300 ? `${reason.slice(0, 300)}…` : reason}`;
  };
  try {
    if (client.isCluster) {
      const cluster = client as Cluster;
      const end = steadyNow() + timeoutMs;
      const first = await probeCluster(
        cluster,
        mode,
        timeoutMs,
        secrets,
        lastOom,
        writeProbe,
        because,
        largest,
      );
      // Right after a failover the client may be replacing a node's connection or re-reading the
      // slot map while the probe runs: the slot map then names a node the probe did not see (or
      // saw closing), and the check reported its slots unserved for a moment (1 probe in ~3,600
      // during failovers under CPU load). Before saying not ok, re-read the topology and probe
      // again, within what is left of the one budget; a master that is really down fails again.
      if (first.ok || first.degraded || cluster.status !== 'ready') return first;
      const left = () => end - steadyNow();
      if (left() < MIN_RECHECK_MS) return first;
      await refreshTopology(cluster, left());
      if (left() < MIN_RECHECK_MS || cluster.status !== 'ready') return first;
      return await probeCluster(cluster, mode, left(), secrets, lastOom, writeProbe, undefined, largest);
    }
    const redis = client as Redis;
    // A socket being closed (iovalkey reconnecting after a READONLY reply) is a reconnection: the
    // probe sent on it failed with "Stream isn't writeable and enableOfflineQueue options is false".
    if (redis.status !== 'ready' || closing(redis))
      return {
        ok: false,
        mode,
        nodes,
        error: `not connected to ${describeNodes(redis)} (${redis.status === 'ready' ? 'reconnecting' : redis.status})${because()}`,
      };
    // Sent together, so the whole probe takes one command timeout at most (the PING goes first:
    // its round trip is the latency). The memory check and the sentinel probes never reject.
    const ping = timedPing(redis, timeoutMs);
    const asked = withTimeout(redis.call('ROLE'), timeoutMs, timedOut, { unref: true });
    asked.catch(() => {});
    const memory = outOfMemory(redis, timeoutMs, lastOom, largest);
    const held = writeProbe?.check(redis, timeoutMs);
    const checks = Promise.all([
      memory,
      held,
      mode === 'sentinel' && Array.isArray((redis.options as { sentinels?: unknown }).sentinels)
        ? probeSentinels(redis, timeoutMs, secrets, Promise.allSettled([ping, asked, memory, held]))
        : undefined,
    ]);
    let latencyMs: number;
    let role: string;
    try {
      latencyMs = await ping;
      role = String(((await asked) as unknown[])[0]);
    } finally {
      await checks; // no connection of a sentinel probe outlives the call
    }
    nodes.push({
      address: nodeAddress(redis),
      role: role === 'master' ? 'master' : 'replica',
      connected: true,
    });
    const [oom, paused, sentinels] = await checks;
    // A sentinel's own port given as the server (26379 for 6379): it answers PING and ROLE, but
    // every command of the cache fails there ("unknown command"). It read as a replica, degraded
    // ("reads work"), whose writes fail with READONLY.
    if (role === 'sentinel')
      return {
        ok: false,
        mode,
        latencyMs,
        role,
        nodes,
        ...(sentinels ? { sentinels } : {}),
        error: `the server at ${nodeAddress(redis)} is a Redis Sentinel (ROLE sentinel), not a data server: every command of the cache fails there ("unknown command"); to use it, give its address in sentinel.sentinelAddresses with mode 'sentinel' and sentinel.masterName`,
      };
    const problems = [oom];
    // A standalone server turned replica (REPLICAOF), or a sentinel master demoted and not yet
    // switched from: reads answer, every write fails with READONLY. It used to say ok.
    if (role !== 'master')
      problems.push(`the server is a replica (ROLE ${role}), not a master: every write fails with READONLY`);
    else problems.push(paused);
    if (sentinels && !sentinels.some((s) => s.connected))
      problems.push(
        `no sentinel answered, so a failure of this master cannot be failed over (${sentinels.map((s) => s.error ?? s.address).join('; ')})`,
      );
    const error = problems.filter(Boolean).join('; ');
    const extra = sentinels ? { sentinels } : {};
    if (error) return { ok: false, degraded: true, mode, latencyMs, role, nodes, ...extra, error };
    return { ok: true, mode, latencyMs, role, nodes, ...extra };
  } catch (err) {
    return {
      ok: false,
      mode,
      nodes,
      error: toCacheError('health', err, secrets, describeNodes(client, err)).message,
    };
  }
}
