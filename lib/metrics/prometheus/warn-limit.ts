/**
 * Warnings about a recurring condition of one collect callback or one metric of other code (it
 * did not finish within the scrape's bound, or failed with the same error message): the first is
 * logged at once, then at most one per 5 s for that callback or metric and condition, with the
 * count of those left out (`suppressed`); another condition (another error) is logged at once. What
 * the quiet time held back (the latest record, with the count of the others) is written when it
 * ends. Before, each scrape logged one: anyone who could reach the endpoint, sending
 * `X-Prometheus-Scrape-Timeout-Seconds: 0.000001`, had every async callback time out and got a
 * warning per scrape (492 for 500 requests).
 */
import type { Logger } from '../../core/contracts.js';
import { MetricsError } from '../../core/errors.js';

export const WARN_QUIET_MS = 5000;

const MAX_CONDITIONS = 32;

export interface WarnLimiter {
  /** `condition`: what failed, e.g. the error's message (a timeout is one condition, whatever its bound). */
  warn(key: object, condition: string, message: string, fields: Record<string, unknown>): void;
  /**
   * The adapter is closing: what is held back is dropped, and nothing more is held back (a
   * scrape still finishing logs as before, the first warning of each callback or metric).
   */
  stop(): void;
}

interface State {
  lastLog: number;
  suppressed: number;
  held?: { message: string; fields: Record<string, unknown> } | undefined;
  timer?: NodeJS.Timeout | undefined;
}

export function createWarnLimiter(logger: Pick<Logger, 'warn'>): WarnLimiter {
  // Weak: a callback removed, or a metric unregistered, takes its state with it.
  const states = new WeakMap<object, Map<string, State>>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const write = (s: State, message: string, fields: Record<string, unknown>) => {
    s.lastLog = performance.now();
    const n = s.suppressed;
    s.suppressed = 0;
    logger.warn(message, n ? { ...fields, suppressed: n } : fields);
  };
  return {
    warn(key, condition, message, fields) {
      const now = performance.now();
      let byCondition = states.get(key);
      if (byCondition === undefined) {
        byCondition = new Map();
        states.set(key, byCondition);
      }
      let s = byCondition.get(condition);
      if (s === undefined) {
        // A callback's conditions are few (its errors); a bound keeps one that throws a new
        // message each time from growing the map without end.
        if (byCondition.size >= MAX_CONDITIONS) byCondition.clear();
        s = { lastLog: now, suppressed: 0 };
        byCondition.set(condition, s);
      } else if (now - s.lastLog < WARN_QUIET_MS) {
        if (stopped) return;
        s.suppressed++;
        s.held = { message, fields };
        if (s.timer === undefined) {
          const state = s;
          const timer = setTimeout(
            () => {
              timers.delete(timer);
              state.timer = undefined;
              const held = state.held;
              state.held = undefined;
              if (stopped || !held) return;
              state.suppressed--; // the held-back record itself is written
              write(state, held.message, held.fields);
            },
            s.lastLog + WARN_QUIET_MS - now,
          );
          timer.unref();
          timers.add(timer);
          s.timer = timer;
        }
        return;
      }
      // A timer due about now but not run yet: this record carries the count instead.
      s.held = undefined;
      if (s.timer !== undefined) {
        clearTimeout(s.timer);
        timers.delete(s.timer);
        s.timer = undefined;
      }
      write(s, message, fields);
    },
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

/** The condition of a failure: a timeout (whatever its bound, which the scraper's header sets), or the error's message. */
export function conditionOf(err: unknown): string {
  if (err instanceof MetricsError && err.code === 'collect_timeout') return 'timeout';
  // Whatever was thrown: a value String() throws on (Object.create(null)) must not fail the scrape.
  try {
    return err instanceof Error ? `${String(err.name)}: ${String(err.message)}` : String(err);
  } catch {
    return typeof err;
  }
}
