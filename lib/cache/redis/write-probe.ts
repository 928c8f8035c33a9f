/**
 * The write probe of `health()`: does a master run write commands, not only answer PING? Under
 * `CLIENT PAUSE <ms> WRITE` (also what `FAILOVER` and a cluster's manual failover do for a while)
 * PING, GET and ROLE answer at once while every write waits for the pause to end, so the cache's
 * writes time out and `health()` used to say ok. Redis 7.0 shows the pause nowhere (no INFO field,
 * no CLIENT INFO flag), so the probe sends a command the pause holds back: `EVAL "return 1" 0`
 * (every EVAL may replicate, so it is paused; with no key it is served by any node, writes nothing
 * and needs only the `+eval` the cache's ACL has already).
 *
 * It goes on a connection of its own per master, opened on the first probe and kept until
 * `close()`: a paused command holds back everything after it on its connection, so on the cache's
 * own connection one probe would have stalled the reads that still work during the pause.
 *
 * The same script asks the server whether the ACL user may run what the cache sends
 * (`redis.acl_check_cmd`, Redis 7+, on a key under the cache's prefix): a user missing `+get` or
 * `+set` (or a key pattern not covering the prefix) failed every get or every write with NOPERM
 * while `health()` said ok.
 */
import type { Redis, RedisOptions } from 'iovalkey';
import { withTimeout } from '../../core/timeout.js';
import { codeOf } from './errors.js';
import { nodeAddress } from './nodes.js';
import { steadyNow } from './steady.js';

/**
 * Returns the commands the cache needs that the ACL user may not run on key ARGV[1] (none on a
 * server without `redis.acl_check_cmd`). SET, UNLINK and TIME run inside the cache's scripts,
 * GET/MGET/TYPE/PTTL are its reads, SCAN its clear().
 */
const PROBE_SCRIPT = `if not redis.acl_check_cmd then return {} end
local k, refused = ARGV[1], {}
local checks = {{'GET', k}, {'MGET', k}, {'TYPE', k}, {'PTTL', k}, {'SET', k, 'v'}, {'UNLINK', k}, {'TIME'}, {'SCAN', '0'}}
for _, c in ipairs(checks) do
  if not redis.acl_check_cmd(unpack(c)) then refused[#refused + 1] = c[1] end
end
return refused`;

/** How long the disconnect of a probe connection waits for its socket to close (ms). */
const DISCONNECT_MS = 100;
const noop = () => {};

export interface WriteProbe {
  /**
   * Why writes on `node` do not complete although it answers (they are held back longer than
   * `ms`), or `undefined`: they complete, or the probe could not tell (its connection failed —
   * PING decides reachability).
   */
  check(node: Redis, ms: number): Promise<string | undefined>;
  /** Drops the connections of nodes not in `nodes` (a cluster's masters changed). */
  keepOnly(nodes: readonly Redis[]): void;
  /** Closes every probe connection; later checks report nothing. */
  close(): void;
}

/** `keyPrefix`: the cache's, under which the ACL user's key permissions are checked. */
export function createWriteProbe(keyPrefix = ''): WriteProbe {
  const links = new Map<Redis, Redis>();
  let closed = false;
  const drop = (node: Redis) => {
    links.get(node)?.disconnect();
    links.delete(node);
  };
  function linkFor(node: Redis): Redis {
    let link = links.get(node);
    // A link still on another server than the node's connection (a sentinel client that followed
    // a failover while the link stayed on the old master) is replaced.
    const moved =
      link?.status === 'ready' && node.status === 'ready' && nodeAddress(link) !== nodeAddress(node);
    if (link && !moved && link.status !== 'end' && link.status !== 'close') return link;
    drop(node);
    const overrides: RedisOptions & { failoverDetector?: boolean } = {
      lazyConnect: true,
      // No INFO ready check: an ACL user without +info made iovalkey print to the console.
      enableReadyCheck: false,
      enableOfflineQueue: true,
      // No reconnecting in the background: an ended link is replaced at the next probe.
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: false,
      connectionName: `${node.options.connectionName ?? 'hyperion'}:health`,
      disconnectTimeout: DISCONNECT_MS,
      failoverDetector: false,
      // Not cut for silence (./client.ts silenceLimit): a paused write probe is the answer sought,
      // and a probe cut while awaiting its reply would report nothing while writes are held back.
      socketTimeout: undefined,
    };
    link = node.duplicate(overrides);
    link.on('error', noop);
    links.set(node, link);
    return link;
  }
  return {
    async check(node, ms) {
      if (closed) return undefined;
      const end = steadyNow() + ms;
      const link = linkFor(node);
      try {
        if (link.status === 'wait')
          await withTimeout(link.connect(), ms, () => new Error('connect timed out'), { unref: true });
      } catch {
        drop(node);
        return undefined;
      }
      const left = Math.max(1, end - steadyNow());
      const refusedBy = (commands: string) =>
        `the ACL user may not run ${commands} on ${nodeAddress(node)} (${keyPrefix ? `keys under the prefix '${keyPrefix}'` : 'any key'}): the cache's operations that send it fail with NOPERM; grant the rules of aclRules()`;
      try {
        const refused = await withTimeout(
          link.eval(PROBE_SCRIPT, 0, `${keyPrefix}health-probe`),
          left,
          () => new Error('Command timed out'),
          { unref: true },
        );
        return Array.isArray(refused) && refused.length > 0 ? refusedBy(refused.join(', ')) : undefined;
      } catch (err) {
        if (/^NOPERM\b/.test((err as Error)?.message ?? '')) return refusedBy('EVAL');
        if (codeOf(err) !== 'timeout') return undefined;
        return `writes are held back on ${nodeAddress(node)}: a write probe got no answer within ${ms} ms while reads answer (the server is paused for writes, e.g. CLIENT PAUSE WRITE or a failover in progress): every write times out`;
      }
    },
    keepOnly(nodes) {
      const keep = new Set(nodes);
      for (const node of [...links.keys()]) if (!keep.has(node)) drop(node);
    },
    close() {
      closed = true;
      for (const node of [...links.keys()]) drop(node);
    },
  };
}
