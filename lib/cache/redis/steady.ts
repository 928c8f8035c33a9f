/**
 * The clock the Redis cache measures time spans on: budgets and deadlines, waits, "how long ago".
 * Monotonic (an NTP step of the wall clock does not move it), in ms on the epoch's scale, so it
 * reads like `Date.now()` but only ever runs forward at its own pace. With `Date.now()` a step of
 * the host's wall clock while a span ran made it look an hour long (a forward step: budgets spent
 * at once, a tracking confirmation 3,600 s old) or negative (a backward step: waits and
 * rate limits stretched by the hour, a write's deadline counted from after its wait).
 * Timestamps that say *when* something happened (the tracker's `confirmedAt`) stay wall-clock time.
 */
export const steadyNow = (): number => performance.timeOrigin + performance.now();
