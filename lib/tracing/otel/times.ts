/**
 * The times a span is given (`SpanOptions.startTime`, `end(endTime)`, `addEvent(…, time)`), checked
 * before the SDK sees them. The SDK (2.x and 3.x alike) takes any number or `Date` as it is: `NaN`,
 * `Infinity` or an invalid `Date` became `NaN` times in the export (Jaeger showed 1970, or the
 * whole export request failed), a negative number was read as a `performance.now()` time (an event
 * at `-1e12` landed in 1995), nanoseconds passed as ms gave a span lasting 56 000 years; only a
 * value of another type (a string) was ignored, silently. Here a usable time is a number in
 * [0, MAX_SPAN_TIME_MS] ms since the epoch or a `Date` holding such a time; any other value means
 * now, with one warning per tracer and place, never an exception.
 */
import type { SpanTime } from '../../core/contracts.js';
import type { AttributeFilter } from './attributes.js';

/**
 * The latest usable span time, ms since the epoch: 2262-04-11T23:47:16.854Z, the last whole ms
 * whose count of nanoseconds fits a signed 64-bit integer — what Jaeger and the OpenTelemetry
 * Collector hold a time in. The limit used to be 8.64e15 ms (the last time a `Date` holds, year
 * 275760): a later time went out wrong without a word. OTLP carries unsigned 64-bit nanoseconds,
 * so one past 2554-07-21 wrapped (an end or event time in 2600 arrived as one in 2015), and Jaeger
 * showed one past 2262 as a span of duration 0 with its event at a meaningless time.
 */
export const MAX_SPAN_TIME_MS = 9_223_372_036_854;

/** Where a time was given, for the warning. */
export type TimePlace = 'startTime' | 'end time' | 'event time';

/**
 * `t` when it is a usable time (a number as it is, a `Date` as a plain copy), else `undefined` (now)
 * with a warning. Never throws: a `Proxy` whose traps throw, or one around a `Date` (no date inside
 * for `getTime`), is not a usable time. The copy of a `Date` is what the SDK reads, so a subclass
 * or a `Proxy` cannot throw inside it.
 */
export function checkedTime(t: unknown, place: TimePlace, filter: AttributeFilter): SpanTime | undefined {
  let ms: number;
  try {
    ms = typeof t === 'number' ? t : isDate(t) ? Date.prototype.getTime.call(t) : Number.NaN;
  } catch {
    ms = Number.NaN;
  }
  if (ms >= 0 && ms <= MAX_SPAN_TIME_MS) return typeof t === 'number' ? t : new Date(ms);
  filter.badTime(place, describe(t));
  return undefined;
}

/** `v instanceof Date`, false where that throws (a `Proxy` whose `getPrototypeOf` trap throws). */
export function isDate(v: unknown): v is Date {
  try {
    return v instanceof Date;
  } catch {
    return false;
  }
}

/**
 * The time `t` (as `checkedTime` returned it) in ms since the epoch, or `undefined` for a number
 * no larger than `performance.now()`: the SDK reads that as a `performance.now()` reading, shifted
 * by the offset between the wall clock and the monotonic one that it measured when the span
 * started (a private field), unknown here. Taken as `t + performance.timeOrigin`, it was off by
 * that offset once the wall clock had moved against the monotonic one since the process started (a
 * host resumed from suspend, a clock stepped: the monotonic clock counts neither): an end 10
 * minutes "before" the start, and the span was cut to duration 0 where the SDK records its length.
 */
export function epochMs(t: SpanTime): number | undefined {
  if (typeof t !== 'number') return t.getTime();
  return t <= performance.now() ? undefined : t;
}

/** The latest usable time, as the warnings name it. */
const LAST = new Date(MAX_SPAN_TIME_MS).toISOString();

function describe(t: unknown): string {
  try {
    if (typeof t === 'number')
      return Number.isFinite(t)
        ? t < 0
          ? 'negative'
          : `beyond ${MAX_SPAN_TIME_MS} ms (${LAST})`
        : String(t);
    if (isDate(t)) {
      const ms = Date.prototype.getTime.call(t);
      return Number.isNaN(ms) ? 'an invalid Date' : ms < 0 ? 'a Date before 1970' : `a Date after ${LAST}`;
    }
    if (Array.isArray(t)) return 'an array (an OpenTelemetry HrTime? give ms: s * 1e3 + ns / 1e6)';
    return t === null ? 'null' : `a ${typeof t}`;
  } catch {
    return 'unreadable (a Proxy threw)';
  }
}
