/**
 * The server clock as seen from each dedicated connection, for the deadline of EXEC (./exec.ts).
 * Measured with one `TIME` when a connection is first used and again after `RESYNC_MS`, so a
 * transaction pays the round trip at most once per connection every 30 s.
 */
import type { Redis } from 'iovalkey';
import { measureClock, serverDeadline, steadyNow } from '../deadline.js';

const RESYNC_MS = 30_000;

interface Clock {
  readonly offset: number;
  readonly uncertainty: number;
  readonly measuredAt: number;
}

export interface ConnectionClocks {
  /**
   * The deadline (server ms, as the script expects it) of a command sent now on `conn` that the
   * client gives up on after `limitMs()` ms (read once the clock is known, so a `TIME` sent first
   * is not counted twice). Rejects when `TIME` fails (the connection is unusable).
   */
  deadline(conn: Redis, limitMs: () => number): Promise<string>;
}

export function createConnectionClocks(): ConnectionClocks {
  const clocks = new WeakMap<Redis, Clock>();
  return {
    async deadline(conn, limitMs) {
      let clock = clocks.get(conn);
      // The steady clock the offset is measured against (a step of the wall clock moves no deadline).
      if (clock === undefined || steadyNow() - clock.measuredAt > RESYNC_MS) {
        clock = { ...(await measureClock(conn)), measuredAt: steadyNow() };
        clocks.set(conn, clock);
      }
      return String(serverDeadline(steadyNow(), limitMs(), clock.offset, clock.uncertainty));
    },
  };
}
