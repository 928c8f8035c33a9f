/**
 * Key checks of the tiered cache: the shared `assertKey`, and no key in the lease's own key space.
 * A Redis lease over an L2 without a key prefix keeps its locks at `hyperion:lease:<key>`, in the
 * L2's key space: the key `hyperion:lease:x` read the token of the lease of `x` as its value (a
 * UUID served as a hit), and a write of it replaced that lease. Such keys are refused.
 */
import { CacheError, typeName } from '../../core/errors.js';
import { assertKey } from '../../core/validate.js';

/** `assertKey`, and `invalid_key` for a key that starts with `reserved` (the lease's key space). */
export function assertTieredKey(key: unknown, reserved: string | undefined): asserts key is string {
  assertKey(key);
  if (reserved !== undefined && key.startsWith(reserved))
    throw new CacheError(
      'invalid_key',
      `cache key starts with ${JSON.stringify(reserved)}: keys there are the loader lease's own keys in L2 (give L2 a keyPrefix, or the lease another prefix)`,
    );
}

/** Throws `CacheError('invalid_key')` unless `keys` is an array of keys `assertTieredKey` takes. */
export function assertTieredKeys(
  keys: unknown,
  reserved: string | undefined,
  what = 'keys',
): asserts keys is readonly string[] {
  if (!Array.isArray(keys))
    throw new CacheError('invalid_key', `${what} must be an array of keys, received ${typeName(keys)}`);
  for (const k of keys) assertTieredKey(k, reserved);
}
