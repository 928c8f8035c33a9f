/**
 * The message of whatever a caller's callback threw (`onEvict`, `cost`, the `now` clock), for a
 * warning. Never throws itself: `String()` of a null-prototype object (or of one whose `message`
 * getter throws) throws a TypeError, and the warnings that were to report a hook's error threw it
 * instead — out of `set` and `get` (documented as never throwing for the hook), to the callers of
 * a load that had succeeded, and out of the sweep timer, which ended the process.
 */
export function thrownMessage(err: unknown): string {
  try {
    return String((err as Error | null | undefined)?.message ?? err);
  } catch {
    try {
      return Object.prototype.toString.call(err);
    } catch {
      return typeof err;
    }
  }
}
