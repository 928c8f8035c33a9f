/**
 * The tracker's loss reasons name a cluster node as `addresses` takes it: an IPv6 host in
 * brackets. Two of them (a node's connection closed, a node joining) printed iovalkey's bare node
 * key (`connection to ::1:7001 closed`), where the others already said `[::1]:7001`. On stand-ins:
 * the state is closed, so no link is set up and no server is needed.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Redis } from 'iovalkey';
import { addLink } from '../../../lib/cache/redis/tracking-links.js';
import type { TrackingState } from '../../../lib/cache/redis/tracking-state.js';

describe('tracking loss reasons name an IPv6 node in brackets', () => {
  it('a node joining and its connection closing', () => {
    const reasons: string[] = [];
    const state = {
      links: new Map(),
      failedBefore: new Map(),
      handlers: new Set([{ onLost: (reason: string) => reasons.push(reason) }]),
      counts: { losses: 0 },
      confirmed: true,
      epoch: 0,
      closed: true, // nothing is scheduled
      logger: undefined,
    } as unknown as TrackingState;
    const data = new EventEmitter() as unknown as Redis;
    const link = addLink(state, '::1:7001', data);
    state.confirmed = true;
    (data as unknown as EventEmitter).emit('close');
    link.detach();
    assert.deepEqual(reasons, ['tracking [::1]:7001', 'connection to [::1]:7001 closed']);
  });
});
