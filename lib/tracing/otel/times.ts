/**
 * The times a span is given (`SpanOptions.startTime`, `end(endTime)`, `addEvent(…, time)`), checked
 * before the SDK sees them. The SDK (2.x and 3.x alike) takes any number or `Date` as it is: `NaN`,
 * `Infinity` or an invalid `Date` became `NaN` times in the export (Jaeger showed 1970, or the
 * whole export request failed), a negative number was read as a `performance.now()` time (an event
 * at `-1e12` landed in 1995), nanoseconds passed as ms gave a span lasting 56 000 years; only a
 * value of another type (a string) was ignored, silently. Here a usable time is a number in
 * [0, 8.64e15] ms since the epoch (the range a `Date` holds) or a `Date` holding such a time; any
 * other value means now, with one warning per tracer and place, never an exception.
 */
import type { SpanTime } from '../../core/contracts.js';
import type { AttributeFilter } from './attributes.js';

/** The largest time a `Date` can hold, ms from the epoch either way. */
export const MAX_DATE_MS = 8.64e15;

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
  if (ms >= 0 && ms <= MAX_DATE_MS) return typeof t === 'number' ? t : new Date(ms);
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

function describe(t: unknown): string {
  try {
    if (typeof t === 'number')
      return Number.isFinite(t) ? (t < 0 ? 'negative' : 'beyond 8.64e15 ms') : String(t);
    if (isDate(t)) return 'an invalid Date';
    if (Array.isArray(t)) return 'an array (an OpenTelemetry HrTime? give ms: s * 1e3 + ns / 1e6)';
    return t === null ? 'null' : `a ${typeof t}`;
  } catch {
    return 'unreadable (a Proxy threw)';
  }
}
