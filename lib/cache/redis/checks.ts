/**
 * Input checks of the Redis adapter, shared by the cache, its pipeline and its transactions: the
 * core checks every cache makes (so all caches fail alike) plus the limits Redis itself sets. Each
 * throws a CacheError before anything is sent.
 */
import type { Bytes, WriteOptions } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import {
  assertBudgetOptions,
  assertBytes,
  assertKey,
  assertTtl,
  MAX_CALL_TTL_MS,
  ofKey,
} from '../../core/validate.js';

export { assertKey };

/** Largest value Redis stores (a bulk string is at most 512 MiB). */
export const MAX_VALUE_BYTES = 512 * 1024 * 1024;
/**
 * Largest TTL accepted (ms); beyond this `PX` / `PEXPIRE` would not be an exact integer. The core
 * check every cache makes (`assertTtl`) refuses anything longer, so all caches agree.
 */
export const MAX_TTL_MS = MAX_CALL_TTL_MS;

/**
 * A valid TTL in whole ms (rounded up: `PX` takes integers), or `fallback` (the default TTL,
 * rounded likewise) when `ttl` is `undefined`; `undefined` means no expiry.
 */
export function checkTtl(ttl: unknown, fallback?: number): number | undefined {
  assertTtl(ttl);
  const t = ttl ?? fallback;
  return t === undefined ? undefined : Math.ceil(t);
}

/** A valid value as a Buffer (a view on the same memory, no copy). */
export function checkValue(value: unknown, key?: string): Buffer {
  assertBytes(value, key);
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new CacheError(
      'too_large',
      `cache value${ofKey(key)} is larger than ${MAX_VALUE_BYTES} bytes (Redis limit)`,
    );
  }
  return toBuffer(value);
}

/**
 * `set`'s `ifEquals` bytes (already checked to be bytes by `assertWriteOptions`). Over Redis's
 * limit it was refused as "cache value is larger than …", though the value written was small.
 */
export function checkIfEquals(expected: Bytes, key: string): Buffer {
  if (expected.byteLength > MAX_VALUE_BYTES)
    throw new CacheError(
      'too_large',
      `set: ifEquals of ${JSON.stringify(key)} is larger than ${MAX_VALUE_BYTES} bytes (Redis limit): no value Redis holds can equal it`,
    );
  return toBuffer(expected);
}

/**
 * A valid value copied into a Buffer of its own, for the operations that are queued now and sent
 * later (`tx.set`, `pipeline().set`): the caller's call has returned, so it may reuse its buffer
 * at once (one scratch buffer filled per key in a loop). Kept as a view, every key of such a
 * transaction or pipeline was stored with the buffer's last contents, reported as success.
 * A refusal names `key`, as `set`'s does (it named none: "cache value must be a Uint8Array …").
 */
export function queuedValue(value: unknown, key: string): Buffer {
  return Buffer.from(checkValue(value, key));
}

/** An array of valid keys; `message` says what was expected when `keys` is not an array. */
export function checkKeys(keys: unknown, message: string): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) throw new CacheError('invalid_key', message);
  for (const k of keys) assertKey(k);
}

function toBuffer(value: Bytes): Buffer {
  if (Buffer.isBuffer(value)) return value;
  // A view whose ArrayBuffer was transferred (postMessage, structuredClone) reads as 0 bytes, and
  // is stored as the empty value, as the memory cache stores it: Buffer.from of its detached
  // buffer threw a raw TypeError ("Cannot perform Construct on a detached ArrayBuffer").
  if (value.byteLength === 0) return Buffer.alloc(0);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * The write budget of `options` (`undefined`: the command timeout alone); bad options are refused
 * as in every cache (`assertBudgetOptions`: a bad timeout is `invalid_ttl`).
 */
export function checkBudget(options: WriteOptions | undefined): number | undefined {
  assertBudgetOptions(options);
  return options?.timeout;
}
