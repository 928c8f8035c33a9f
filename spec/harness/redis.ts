/**
 * Real Redis for tests and benchmarks: a standalone server, a 6-node cluster (3 masters + 3
 * replicas) and a sentinel set (1 master, 1 replica, 3 sentinels), each on free 127.0.0.1 ports
 * in a temp dir. Every starter returns `stop()`, which is idempotent and removes the temp dir;
 * call it from `after`/`t.after` so it runs even when a test fails. A starter that fails half-way
 * stops what it already started before rethrowing.
 *
 *   describeWithServers('x', skipRedis(), () => {
 *     let redis: RedisStandalone;
 *     before(async () => { redis = await startRedis({ password: 's3cret' }); });
 *     after(() => redis?.stop());
 *   });
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Redis } from 'iovalkey';
import {
  findBinary,
  freePort,
  type ServerProcess,
  skipUnless,
  startAll,
  startProcess,
  tempDir,
  waitFor,
} from './process.js';

const HOST = '127.0.0.1';
/** A cluster node's bus port is its port + this (Redis's default, no `cluster-port` set). */
const CLUSTER_BUS_OFFSET = 10_000;

/**
 * TLS of a test server: it listens with TLS only (`port 0`, `tls-port`), presents `cert`/`key`
 * and checks client certificates against `ca` when `authClients` is `yes` (the default `no`
 * accepts clients without one). Cluster bus and replication links use TLS too.
 */
export interface RedisServerTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly authClients?: 'yes' | 'no' | 'optional';
}

/** How the harness itself reaches a server (readiness checks, setup commands). */
export interface RedisAdminAuth {
  password?: string | undefined;
  username?: string | undefined;
  tls?: ConnectionOptions | undefined;
}

/** redis.conf lines for `tls` on `port`. */
function tlsLines(tls: RedisServerTls, port: number): string[] {
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${q(tls.cert)}`,
    `tls-key-file ${q(tls.key)}`,
    `tls-ca-cert-file ${q(tls.ca)}`,
    `tls-auth-clients ${tls.authClients ?? 'no'}`,
    'tls-replication yes',
  ];
}

/**
 * Client TLS options the harness itself uses against a server set up with `tls`: it presents the
 * server certificate (also valid for client auth) and does not verify the server's, so that
 * servers with a deliberately bad certificate (expired, wrong host) can be started and checked.
 * The code under test never gets these options.
 */
export function adminTls(tls: RedisServerTls | undefined): ConnectionOptions | undefined {
  if (!tls) return undefined;
  return {
    ca: readFileSync(tls.ca),
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    rejectUnauthorized: false,
  };
}

/** Skip reason for describe blocks needing Redis, or `false` when redis-server and redis-cli exist. */
export function skipRedis(): string | false {
  return skipUnless(['redis-server', 'redis-cli'], 'apt-get install -y redis-server redis-tools');
}

/** A running redis-server (or sentinel) process with its address. */
export interface RedisServer extends ServerProcess {
  readonly host: string;
  readonly port: number;
}

export interface RedisStandalone {
  readonly host: string;
  readonly port: number;
  /** `redis://[:password@]127.0.0.1:port`. */
  readonly url: string;
  readonly password: string | undefined;
  readonly server: RedisServer;
  /** Stops the server and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /** Sets `requirepass`. */
  password?: string;
  /** `maxmemory`, e.g. `'2mb'`. */
  maxmemory?: string;
  /** `maxmemory-policy`, e.g. `'noeviction'` or `'allkeys-lru'`. */
  maxmemoryPolicy?: string;
  /** Extra redis.conf lines, appended verbatim (e.g. `user app on >pw ~app:* +get`). */
  extraConfig?: readonly string[];
  /** Listen with TLS only. */
  tls?: RedisServerTls;
}

/** Quotes a redis.conf argument (double quotes, backslash escapes). */
function q(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function wrap(server: ServerProcess, host: string, port: number): RedisServer {
  return {
    name: server.name,
    child: server.child,
    output: server.output,
    stop: server.stop,
    kill: server.kill,
    get exited() {
      return server.exited;
    },
    host,
    port,
  };
}

const adminCommand = (port: number, args: readonly string[], auth: RedisAdminAuth) =>
  redisCommand(port, args, auth);

/** One short-lived connection: runs `args`, returns the reply, always disconnects. */
export async function redisCommand(
  port: number,
  args: readonly (string | number)[],
  options: RedisAdminAuth & { host?: string; timeoutMs?: number } = {},
): Promise<unknown> {
  const client = new Redis({
    host: options.host ?? HOST,
    port,
    password: options.password,
    username: options.username,
    tls: options.tls,
    lazyConnect: true,
    connectTimeout: options.timeoutMs ?? 1000,
    commandTimeout: options.timeoutMs ?? 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    // Without this, a NOAUTH during the ready check surfaces as a vague "Connection is closed".
    enableReadyCheck: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const [cmd, ...rest] = args;
    return await client.call(String(cmd), ...rest.map(String));
  } finally {
    client.disconnect();
  }
}

/**
 * Puts a marker into the replication stream of the master on `port` (`PUBLISH` on a harness
 * channel: Redis replicates it, and it touches no key) and waits, on that same connection, until
 * `replicas` replicas acknowledged it (`WAIT`). Every write the master acknowledged before is then
 * on those replicas too. Resolves with `WAIT`'s reply: how many did, fewer when `timeoutMs` ran out.
 *
 * Redis replicates asynchronously and neither a failover nor `master_link_status:up` waits for
 * the replica: see `startRedisSentinel`.
 */
export async function waitForReplicas(
  port: number,
  options: RedisAdminAuth & { replicas?: number; timeoutMs?: number } = {},
): Promise<number> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = new Redis({
    host: HOST,
    port,
    password: options.password,
    username: options.username,
    tls: options.tls,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: timeoutMs + 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.call('PUBLISH', '__hyperion_harness__:replicated', 'marker');
    return Number(await client.call('WAIT', String(options.replicas ?? 1), String(timeoutMs)));
  } finally {
    client.disconnect();
  }
}

async function ping(port: number, auth: RedisAdminAuth): Promise<boolean> {
  try {
    return (await redisCommand(port, ['PING'], { ...auth, timeoutMs: 500 })) === 'PONG';
  } catch {
    return false;
  }
}

/**
 * Spawns `redis-server` with `lines` as its config in `dir`, on a fresh free port. Retries on a
 * port race (another process took the port between `freePort()` and the bind).
 */
async function spawnRedis(
  name: string,
  dir: string,
  lines: (port: number) => string[],
  opts: { auth?: RedisAdminAuth; sentinel?: boolean; tls?: RedisServerTls | undefined } = {},
): Promise<RedisServer> {
  const bin = findBinary('redis-server') ?? 'redis-server';
  // A cluster node also listens on port + 10000, its cluster bus: free and out of the ephemeral
  // range too (see freePort), and the child's own once ready.
  const bus = lines(0).some((l) => /^cluster-enabled\s+yes\b/i.test(l)) ? CLUSTER_BUS_OFFSET : 0;
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort({ alsoFree: bus });
    const conf = join(dir, `${name}-${port}.conf`);
    const base = [
      `bind ${HOST}`,
      ...(opts.tls ? tlsLines(opts.tls, port) : [`port ${port}`]),
      `dir ${q(dir)}`,
      'protected-mode no',
      'daemonize no',
      'loglevel notice',
      'logfile ""',
    ];
    await writeFile(conf, `${[...base, ...lines(port)].join('\n')}\n`);
    try {
      const server = await startProcess({
        name: `${name}:${port}`,
        command: bin,
        args: opts.sentinel ? [conf, '--sentinel'] : [conf],
        cwd: dir,
        ready: () => ping(port, { ...opts.auth, tls: adminTls(opts.tls) }),
        ports: bus ? [port, port + bus] : [port],
        readyTimeoutMs: 10_000,
      });
      return wrap(server, HOST, port);
    } catch (err) {
      lastError = err;
      if (!/Address already in use/i.test(String((err as Error).message))) throw err;
    }
  }
  throw lastError;
}

/** Runs every stop function (in parallel), then `after`; collects nothing, never throws. */
function stopper(parts: () => RedisServer[], after: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      await Promise.allSettled(parts().map((p) => p.stop(2000)));
      await after().catch(() => {});
    })();
    return stopping;
  };
}

/** A standalone redis-server without persistence. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisStandalone> {
  const dir = await tempDir('redis');
  try {
    const server = await spawnRedis(
      'redis',
      dir.path,
      () => {
        const lines = ['save ""', 'appendonly no'];
        if (options.password !== undefined) lines.push(`requirepass ${q(options.password)}`);
        if (options.maxmemory !== undefined) lines.push(`maxmemory ${options.maxmemory}`);
        if (options.maxmemoryPolicy !== undefined) lines.push(`maxmemory-policy ${options.maxmemoryPolicy}`);
        lines.push(...(options.extraConfig ?? []));
        return lines;
      },
      { auth: { password: options.password }, tls: options.tls },
    );
    const auth = options.password !== undefined ? `:${encodeURIComponent(options.password)}@` : '';
    return {
      host: HOST,
      port: server.port,
      url: `${options.tls ? 'rediss' : 'redis'}://${auth}${HOST}:${server.port}`,
      password: options.password,
      server,
      stop: stopper(() => [server], dir.remove),
    };
  } catch (err) {
    await dir.remove().catch(() => {});
    throw err;
  }
}

// ------------------------------------------------------------------------------------ cluster

export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  readonly server: RedisServer;
}

export interface RedisCluster {
  /** All six nodes (seeds for a cluster client). Roles change after a failover; ask the cluster. */
  readonly nodes: readonly RedisClusterNode[];
  /** The three nodes that were masters when the cluster formed. */
  readonly masters: readonly RedisClusterNode[];
  /** The three nodes that were replicas when the cluster formed. */
  readonly replicas: readonly RedisClusterNode[];
  /** Stops every node and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** `cluster-node-timeout` in ms: how soon a dead master is failed over. Default 3000. */
  nodeTimeoutMs?: number;
  /** Extra redis.conf lines for every node. */
  extraConfig?: readonly string[];
  /** TLS only, also on the cluster bus (`tls-cluster yes`) and replication. */
  tls?: RedisServerTls;
  /** `requirepass` + `masterauth` of every node (the harness's own admin access). */
  password?: string;
}

function infoField(info: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return m?.[1]?.trim();
}

/**
 * A 6-node cluster (3 masters + 3 replicas), made as `redis-cli --cluster create` would make it
 * (see `createCluster`). Resolves once every node reports `cluster_state:ok` and knows all six nodes, and every replica's link to its
 * master is up. While forming, every node pings its replicas every second and uses a 1 s
 * cluster-node-timeout (see `formingFast`); each gets its own values back before this resolves.
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const dir = await tempDir('redis-cluster');
  const servers: RedisServer[] = [];
  const stop = stopper(() => servers, dir.remove);
  const admin: RedisAdminAuth = { password: options.password, tls: adminTls(options.tls) };
  const secured = [
    ...(options.tls ? ['tls-cluster yes'] : []),
    ...(options.password !== undefined
      ? [`requirepass ${q(options.password)}`, `masterauth ${q(options.password)}`]
      : []),
  ];
  try {
    // startAll, not Promise.all: when one node fails to start, the stop() below ran while the others
    // were still starting; they were left running (in the removed temp dir), and their child
    // processes kept the test file's process alive for good.
    const started = await startAll(
      Array.from({ length: 6 }, (_, i) =>
        spawnRedis(
          `cluster${i}`,
          dir.path,
          (port) => [
            'save ""',
            'appendonly no',
            'cluster-enabled yes',
            `cluster-config-file nodes-${port}.conf`,
            `cluster-node-timeout ${options.nodeTimeoutMs ?? 3000}`,
            'repl-diskless-sync yes',
            'repl-diskless-sync-delay 0',
            'repl-diskless-load disabled',
            ...secured,
            ...(options.extraConfig ?? []),
          ],
          { auth: { password: options.password }, tls: options.tls },
        ).then((s) => {
          servers.push(s);
          return s;
        }),
      ),
    );
    const restore = await formingFast(started, admin);
    await createCluster(started, admin);
    const roles = await waitFor(async () => clusterReady(started, admin), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'the Redis cluster to be ok and replicas synced',
    });
    await restore();
    const nodes = started.map((s) => ({ host: HOST, port: s.port, server: s }));
    return {
      nodes,
      masters: nodes.filter((n) => roles.get(n.port) === 'master'),
      replicas: nodes.filter((n) => roles.get(n.port) === 'slave'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Settings that make a cluster form faster, set on every node until it is formed; the returned
 * function puts each node's own values back, so tests see the config they asked for.
 *
 * CLUSTER SLOTS lists a replica only once the node knows a non-zero replication offset for it.
 * On an idle fresh master the offset first moves with the PING it sends its replicas every
 * repl-ping-replica-period (10 s by default), and a node learns another's offset only from a
 * ping or pong exchanged with that very node, which may wait up to cluster-node-timeout / 2 for
 * a pair the random gossip did not pick. Forming took ~11.5 s with the default 3000 ms timeout
 * (~9 s of it for the replicas to show), and ~10 s with a 60 s timeout even with the fast pings;
 * with both settings fast while forming, ~2.5 s whatever the timeout asked for.
 */
async function formingFast(
  servers: readonly RedisServer[],
  admin: RedisAdminAuth,
): Promise<() => Promise<void>> {
  const fast: Record<string, number> = { 'repl-ping-replica-period': 1, 'cluster-node-timeout': 1000 };
  const saved = await Promise.all(
    servers.map(async (s) => {
      const own: [string, string][] = [];
      for (const [name, value] of Object.entries(fast)) {
        const reply = (await adminCommand(s.port, ['CONFIG', 'GET', name], admin)) as string[];
        const was = String(reply[1]);
        own.push([name, was]);
        if (Number(was) > value) await adminCommand(s.port, ['CONFIG', 'SET', name, String(value)], admin);
      }
      return own;
    }),
  );
  return async () => {
    await Promise.all(
      servers.map(async (s, i) => {
        for (const [name, was] of saved[i] ?? [])
          await adminCommand(s.port, ['CONFIG', 'SET', name, was], admin);
      }),
    );
  };
}

/**
 * What `redis-cli --cluster create … --cluster-replicas 1` does with six empty nodes on one host,
 * without its fixed one-second sleeps (~2 s of a ~2.5 s start): nodes 0-2 become the masters of
 * slots 0-5460, 5461-10922 and 10923-16383, each node gets its own config epoch (1-6), all meet,
 * and once every node knows all six, node 3+i replicates master i.
 */
async function createCluster(servers: readonly RedisServer[], admin: RedisAdminAuth): Promise<void> {
  const cmd = (s: RedisServer, args: readonly (string | number)[]) =>
    adminCommand(s.port, args.map(String), admin);
  const ranges = [
    [0, 5460],
    [5461, 10922],
    [10923, 16383],
  ] as const;
  const masters = servers.slice(0, 3);
  const replicas = servers.slice(3);
  await Promise.all(masters.map((m, i) => cmd(m, ['CLUSTER', 'ADDSLOTSRANGE', ...ranges[i]!])));
  await Promise.all(servers.map((s, i) => cmd(s, ['CLUSTER', 'SET-CONFIG-EPOCH', i + 1])));
  const first = servers[0]!;
  await Promise.all(servers.slice(1).map((s) => cmd(s, ['CLUSTER', 'MEET', HOST, first.port])));
  const ids = await Promise.all(masters.map(async (m) => String(await cmd(m, ['CLUSTER', 'MYID']))));
  await waitFor(
    async () => {
      for (const s of servers) {
        const lines = String(await cmd(s, ['CLUSTER', 'NODES']))
          .trim()
          .split('\n');
        if (lines.length !== 6 || lines.some((l) => /handshake|noaddr/.test(l))) return false;
      }
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'the six Redis cluster nodes to meet' },
  );
  await Promise.all(replicas.map((r, i) => cmd(r, ['CLUSTER', 'REPLICATE', ids[i]!])));
}

/** Map port → role once the cluster is fully formed, else `undefined`. */
async function clusterReady(
  servers: readonly RedisServer[],
  admin: RedisAdminAuth,
): Promise<Map<number, string> | undefined> {
  const redisCommand = (port: number, args: readonly string[]) => adminCommand(port, args, admin);
  const roles = new Map<number, string>();
  for (const s of servers) {
    const info = String(await redisCommand(s.port, ['CLUSTER', 'INFO']));
    if (infoField(info, 'cluster_state') !== 'ok') return undefined;
    if (infoField(info, 'cluster_known_nodes') !== '6') return undefined;
    if (infoField(info, 'cluster_slots_ok') !== '16384') return undefined;
    const repl = String(await redisCommand(s.port, ['INFO', 'replication']));
    const role = infoField(repl, 'role');
    if (role === 'slave' && infoField(repl, 'master_link_status') !== 'up') return undefined;
    if (role === 'master' && infoField(repl, 'connected_slaves') !== '1') return undefined;
    // Every node must also see the final roles of all others (gossip lags a little behind).
    const view = String(await redisCommand(s.port, ['CLUSTER', 'NODES']))
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[2] ?? '');
    const masters = view.filter((f) => /(^|,)master(,|$)/.test(f)).length;
    const replicas = view.filter((f) => /(^|,)slave(,|$)/.test(f)).length;
    if (masters !== 3 || replicas !== 3 || view.some((f) => /fail|handshake|noaddr/.test(f)))
      return undefined;
    // Clients learn the topology from CLUSTER SLOTS, which lists a replica only once it is fully
    // attached: wait until every slot range names its master and its replica. A node lists a
    // replica only once its replication offset is non-zero (the replica's own, or as gossiped),
    // and the fresh masters' full syncs leave it at 0: so this also waits until every replica has
    // received some of its master's stream — the master may hold that stream after a full sync
    // while the replica already says `master_link_status:up` (see startRedisSentinel, which needs
    // waitForReplicas for it). Measured: every replica at its master's offset at readiness and a
    // marker + WAIT answered in 1-4 ms, in 8 starts, and in 5 more with this check left out (the
    // checks above take longer). Checked by the cluster test of redis.test.ts.
    const slots = (await redisCommand(s.port, ['CLUSTER', 'SLOTS'])) as unknown[][];
    if (slots.length !== 3 || slots.some((range) => range.length < 4)) return undefined;
    roles.set(s.port, role ?? '');
  }
  const masters = [...roles.values()].filter((r) => r === 'master').length;
  return masters === 3 ? roles : undefined;
}

// ----------------------------------------------------------------------------------- sentinel

export interface RedisSentinelSet {
  /** The name the sentinels monitor (`sentinel.master_name`). */
  readonly masterName: string;
  /** Sentinel addresses (seeds for a sentinel client). */
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** The data node that was master at start; `kill()` it to force a failover. */
  readonly master: RedisServer;
  /** The data node that was a replica at start (the one promoted on failover). */
  readonly replica: RedisServer;
  /** The three sentinel processes. */
  readonly sentinelServers: readonly RedisServer[];
  /** `requirepass`/`masterauth` of the data nodes, when given. */
  readonly password: string | undefined;
  /** `requirepass` of the sentinels, when given. */
  readonly sentinelPassword: string | undefined;
  /** Stops every process and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartRedisSentinelOptions {
  /** Default `mymaster`. */
  masterName?: string;
  /** Password of the data nodes (sentinels themselves need none). */
  password?: string;
  /** `sentinel down-after-milliseconds`: how soon the master is considered down. Default 1000. */
  downAfterMs?: number;
  /** `sentinel failover-timeout`. Default 3000. */
  failoverTimeoutMs?: number;
  /** `requirepass` of the sentinels themselves (and `sentinel sentinel-pass` between them). */
  sentinelPassword?: string;
  /** Extra config lines for the data nodes (e.g. ACL `user` lines). */
  dataExtraConfig?: readonly string[];
  /** Extra config lines for the sentinels (e.g. ACL `user` lines). */
  sentinelExtraConfig?: readonly string[];
  /** TLS only on every data node and sentinel; replication and sentinel links use TLS too. */
  tls?: RedisServerTls;
}

/**
 * One master, one replica and three sentinels (quorum 2). Resolves once every sentinel knows the
 * master, the replica and both other sentinels (each connected), so a failover can be voted at
 * once.
 *
 * Sentinels find each other from the hello each publishes every 2 s (a fixed period; ~2 of a
 * ~2.2 s start went to waiting for it). So once they are up, each sentinel's hello (its address
 * and SENTINEL MYID, the master's address, epochs 0 as on a fresh set) is also handed to the two
 * others at once with PUBLISH __sentinel__:hello, the very command sentinels send each other;
 * their own hellos follow every 2 s as usual.
 *
 * It also resolves only once the master streams its writes to the replica (`waitForReplicas`), not
 * merely once the replica says `master_link_status:up`: after the replica's (diskless) full sync,
 * the master holds its command stream back until the replica's first `REPLCONF ACK`, and when that
 * ACK arrives before the RDB child that streamed the sync has exited, until the next one — sent
 * once a second (seen in 1 of 30 starts: the wait took 983 ms, 1-157 ms in the others).
 * Meanwhile writes are acknowledged by the master but reach the replica only then, and a failover
 * in that window (sentinel does not wait for the replica) drops them: a key written right after
 * the start was missing on the promoted replica after a `SENTINEL FAILOVER` in 2 of 8 runs of
 * `tracking-sentinel-failover.test.ts` once the set was ready in ~0.4 s (replica at offset 0,
 * master at 112); the ~2 s the sentinels took to find each other by their own hellos hid it.
 */
export async function startRedisSentinel(options: StartRedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const masterName = options.masterName ?? 'mymaster';
  const password = options.password;
  const sentinelPassword = options.sentinelPassword;
  const tls = options.tls;
  const dataAdmin: RedisAdminAuth = { password, tls: adminTls(tls) };
  const sentinelAdmin: RedisAdminAuth = { password: sentinelPassword, tls: adminTls(tls) };
  const dir = await tempDir('redis-sentinel');
  const servers: RedisServer[] = [];
  const stop = stopper(() => servers, dir.remove);
  const track = (s: RedisServer) => {
    servers.push(s);
    return s;
  };
  const dataLines = () => {
    const lines = ['save ""', 'appendonly no', 'repl-diskless-sync yes', 'repl-diskless-sync-delay 0'];
    if (password !== undefined) lines.push(`requirepass ${q(password)}`, `masterauth ${q(password)}`);
    lines.push(...(options.dataExtraConfig ?? []));
    return lines;
  };
  try {
    const master = track(await spawnRedis('master', dir.path, dataLines, { auth: { password }, tls }));
    const replica = track(
      await spawnRedis('replica', dir.path, () => [...dataLines(), `replicaof ${HOST} ${master.port}`], {
        auth: { password },
        tls,
      }),
    );
    await waitFor(
      async () =>
        infoField(
          String(await redisCommand(replica.port, ['INFO', 'replication'], dataAdmin)),
          'master_link_status',
        ) === 'up',
      { timeoutMs: 10_000, what: 'the replica to sync' },
    );
    // While the sentinels start: until the master streams to the replica (see above; ≤ ~1 s).
    const streaming = waitForReplicas(master.port, { ...dataAdmin, timeoutMs: 10_000 }).then((acked) => {
      if (acked < 1) throw new Error('the master did not stream its writes to the replica within 10 s');
    });
    streaming.catch(() => {}); // awaited below; not unhandled if the sentinels fail to start first
    // startAll, not Promise.all: see startRedisCluster.
    const sentinelServers = await startAll(
      [0, 1, 2].map(async (i) =>
        track(
          await spawnRedis(
            `sentinel${i}`,
            dir.path,
            () => {
              const lines = [
                `sentinel monitor ${masterName} ${HOST} ${master.port} 2`,
                `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
                `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 3000}`,
                `sentinel parallel-syncs ${masterName} 1`,
              ];
              if (password !== undefined) lines.push(`sentinel auth-pass ${masterName} ${q(password)}`);
              if (sentinelPassword !== undefined)
                lines.push(
                  `requirepass ${q(sentinelPassword)}`,
                  `sentinel sentinel-pass ${q(sentinelPassword)}`,
                );
              lines.push(...(options.sentinelExtraConfig ?? []));
              return lines;
            },
            { sentinel: true, auth: { password: sentinelPassword }, tls },
          ),
        ),
      ),
    );
    const myids = await Promise.all(
      sentinelServers.map(async (s) =>
        String(await redisCommand(s.port, ['SENTINEL', 'MYID'], sentinelAdmin)),
      ),
    );
    await Promise.all(
      sentinelServers.flatMap((to) =>
        sentinelServers
          .map((from, i) => ({ from, id: myids[i] }))
          .filter(({ from }) => from !== to)
          .map(({ from, id }) =>
            redisCommand(
              to.port,
              [
                'PUBLISH',
                '__sentinel__:hello',
                `${HOST},${from.port},${id},0,${masterName},${HOST},${master.port},0`,
              ],
              sentinelAdmin,
            ),
          ),
      ),
    );
    const ports = sentinelServers.map((s) => s.port);
    await waitFor(
      async () => {
        for (const s of sentinelServers) {
          const replicas = (await redisCommand(
            s.port,
            ['SENTINEL', 'REPLICAS', masterName],
            sentinelAdmin,
          )) as unknown[];
          const peers = (await redisCommand(
            s.port,
            ['SENTINEL', 'SENTINELS', masterName],
            sentinelAdmin,
          )) as string[][];
          if (replicas.length < 1 || peers.length < 2) return false;
          // Exactly the other two sentinels, each connected and not down.
          const field = (p: string[], name: string) => p[p.indexOf(name) + 1];
          const others = ports.filter((p) => p !== s.port).sort();
          if (
            peers
              .map((p) => Number(field(p, 'port')))
              .sort()
              .join() !== others.join()
          )
            return false;
          if (peers.some((p) => field(p, 'flags') !== 'sentinel')) return false;
        }
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the sentinels to discover the replica and each other' },
    );
    await streaming;
    return {
      masterName,
      sentinels: sentinelServers.map((s) => ({ host: HOST, port: s.port })),
      master,
      replica,
      sentinelServers,
      password,
      sentinelPassword,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The master address the sentinel on `sentinelPort` currently reports. */
export async function sentinelMaster(
  sentinelPort: number,
  masterName = 'mymaster',
  auth: RedisAdminAuth = {},
): Promise<{ host: string; port: number } | undefined> {
  const reply = (await redisCommand(
    sentinelPort,
    ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName],
    auth,
  )) as [string, string] | null;
  return reply ? { host: reply[0], port: Number(reply[1]) } : undefined;
}

/** A lone sentinel (no quorum to fail anything over) for connection tests. */
export interface RedisLoneSentinel {
  readonly host: string;
  readonly port: number;
  readonly server: RedisServer;
  /** Stops it and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * One sentinel watching `masters` (name → port on 127.0.0.1), with `tls` or plain. It answers
 * `SENTINEL GET-MASTER-ADDR-BY-NAME` with the configured address whether or not it can reach that
 * master, so a master with a bad certificate or no TLS can sit behind a sound sentinel (and a
 * sentinel with a bad certificate in front of a sound master).
 */
export async function startLoneSentinel(options: {
  masters: Readonly<Record<string, number>>;
  tls?: RedisServerTls;
}): Promise<RedisLoneSentinel> {
  const dir = await tempDir('redis-lone-sentinel');
  try {
    const server = await spawnRedis(
      'sentinel',
      dir.path,
      () =>
        Object.entries(options.masters).flatMap(([name, port]) => [
          `sentinel monitor ${name} ${HOST} ${port} 1`,
          `sentinel down-after-milliseconds ${name} 60000`,
        ]),
      { sentinel: true, tls: options.tls },
    );
    return { host: HOST, port: server.port, server, stop: stopper(() => [server], dir.remove) };
  } catch (err) {
    await dir.remove().catch(() => {});
    throw err;
  }
}
