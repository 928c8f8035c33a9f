/**
 * A consecutive-failure circuit breaker. `closed`: calls pass. After `threshold` failures in a row
 * it opens: calls are refused for `cooldown` ms. Then one call is let through as a probe
 * (`half-open`): success closes the breaker, failure opens it again for another cool-down.
 */

import type { BreakerState } from './types.js';

export interface Breaker {
  /** True when a call may go ahead now. In half-open, only the first caller gets `true` (the probe). */
  allow(): boolean;
  success(): void;
  failure(): void;
  state(): BreakerState;
  /**
   * Evidence that L2 answers again (the bus subscribed, tracking confirmed): an open breaker lets
   * its probe through now instead of at the end of the cool-down. Nothing changes when closed.
   */
  probeNow(): void;
  /**
   * The probe's call ended without a verdict on L2 (it timed out on its caller's own budget,
   * shorter than `l2Timeout`): the breaker stays open and the next call probes, at once. Nothing
   * changes when no probe is out.
   */
  release(): void;
  /** How many times the breaker opened. */
  readonly opens: number;
}

export function createBreaker(threshold: number, cooldown: number, now: () => number): Breaker {
  let failures = 0;
  let openedAt = 0;
  let open = false;
  let probing = false;
  let opens = 0;

  const trip = () => {
    open = true;
    probing = false;
    openedAt = now();
    opens++;
  };

  return {
    allow() {
      if (!open) return true;
      if (probing || now() - openedAt < cooldown) return false;
      probing = true;
      return true;
    },
    success() {
      failures = 0;
      open = false;
      probing = false;
    },
    failure() {
      if (open) {
        // A failed probe re-opens; failures of calls admitted before the breaker opened do not
        // extend the cool-down.
        if (probing) trip();
        return;
      }
      if (++failures >= threshold) trip();
    },
    probeNow() {
      if (open && !probing) openedAt = now() - cooldown;
    },
    release() {
      probing = false;
    },
    state() {
      if (!open) return 'closed';
      return probing || now() - openedAt >= cooldown ? 'half-open' : 'open';
    },
    get opens() {
      return opens;
    },
  };
}

/** A breaker that never opens (`breaker: false`). */
export const NEVER_OPEN: Breaker = {
  allow: () => true,
  success() {},
  failure() {},
  state: () => 'closed',
  probeNow() {},
  release() {},
  opens: 0,
};
