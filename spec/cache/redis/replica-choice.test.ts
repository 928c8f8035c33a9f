/**
 * `cluster.readOnly`'s choice of node (replicaOrMaster, lib/cache/redis/replica-reads.ts), on
 * stand-in node connections: no server needed. A replica whose connection is still lazy (`wait`:
 * one that joined the slot's replicas, or came back after a restart, after the first reads) must
 * be connected although another replica of the slot is ready. It was connected only when no
 * replica was ready: from outside, a second replica added to a running 6-node cluster got none of
 * 200 reads of its slot (the first replica all 200); with it connected, about half.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Redis } from 'iovalkey';
import { replicaOrMaster } from '../../../lib/cache/redis/replica-reads.js';

/** A node connection as replicaOrMaster sees it: a status, and `connect()` counted. */
function node(status: string): Redis & { connects: number } {
  const n = {
    status,
    connects: 0,
    connect() {
      n.connects++;
      n.status = 'connecting';
      return Promise.resolve();
    },
  };
  return n as unknown as Redis & { connects: number };
}

it('connects a lazy replica while another replica of the slot serves the reads', () => {
  const master = node('ready');
  const ready = node('ready');
  const lazy = node('wait');
  assert.equal(replicaOrMaster([master, ready, lazy]), ready);
  assert.equal(lazy.connects, 1);
  // Connecting now: not asked again, and not chosen until it is ready.
  assert.equal(replicaOrMaster([master, ready, lazy]), ready);
  assert.equal(lazy.connects, 1);
});

it('with no replica ready, connects the lazy ones and sends the read to the master', () => {
  const master = node('ready');
  const lazy = [node('wait'), node('wait')];
  assert.equal(replicaOrMaster([master, ...lazy]), master);
  assert.deepEqual(
    lazy.map((n) => n.connects),
    [1, 1],
  );
});

it('once ready, both replicas take reads', () => {
  const master = node('ready');
  const a = node('ready');
  const b = node('ready');
  const chosen = new Set<unknown>();
  for (let i = 0; i < 200 && chosen.size < 2; i++) chosen.add(replicaOrMaster([master, a, b]));
  assert.deepEqual(chosen, new Set([a, b]));
});
