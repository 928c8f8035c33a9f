/**
 * The one way the memory cache grows its per-slot typed arrays (the store's slot records and main
 * array, the TTL arrays): a zero-filled copy with room for `length` elements.
 */

type Growable = Int32Array | Float64Array;

/** A copy of `array` with `length` elements (≥ its own), the new ones zero. */
export function grown<A extends Growable>(array: A, length: number): A {
  const copy = new (array.constructor as new (n: number) => A)(length);
  copy.set(array);
  return copy;
}
