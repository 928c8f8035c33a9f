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

/** `t` when it is a usable time (passed to the SDK as it is), else `undefined` (now) with a warning. */
export function checkedTime(t: unknown, place: TimePlace, filter: AttributeFilter): SpanTime | undefined {
  const ms = typeof t === 'number' ? t : t instanceof Date ? t.getTime() : Number.NaN;
  if (ms >= 0 && ms <= MAX_DATE_MS) return t as SpanTime;
  filter.badTime(place, describe(t));
  return undefined;
}

/** The time `t` (a usable one) in ms since the epoch, as the SDK reads it. */
export function epochMs(t: SpanTime): number {
  if (typeof t !== 'number') return t.getTime();
  // The SDK reads a number no larger than `performance.now()` as a `performance.now()` time.
  return t <= performance.now() ? t + performance.timeOrigin : t;
}

function describe(t: unknown): string {
  if (typeof t === 'number')
    return Number.isFinite(t) ? (t < 0 ? 'negative' : 'beyond 8.64e15 ms') : String(t);
  if (t instanceof Date) return 'an invalid Date';
  if (Array.isArray(t)) return 'an array (an OpenTelemetry HrTime? give ms: s * 1e3 + ns / 1e6)';
  return t === null ? 'null' : `a ${typeof t}`;
}
