/** Input checks shared by every cache implementation, so all of them fail the same way. */

import { types } from 'node:util';
import type { Bytes, WriteOptions } from './contracts.js';
import { CacheError, typeName } from './errors.js';
import { optionKeys, shownDuration, unknownKeyMessage } from './options.js';

/** The keys of `WriteOptions`, as `set` accepts them. */
const WRITE_OPTION_KEYS = optionKeys<WriteOptions>({ timeout: true, ifAbsent: true, ifEquals: true });

/** Largest key accepted by the byte caches (Redis allows 512 MiB; nobody should come close). */
export const MAX_KEY_BYTES = 64 * 1024;

/** `String.prototype.isWellFormed` (Node 20+; its type is in the ES2024 lib, newer than ours). */
type WellFormed = string & { isWellFormed(): boolean };

export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string')
    throw new CacheError('invalid_key', `cache key must be a string, received ${typeName(key)}`);
  if (key.length === 0) throw new CacheError('invalid_key', 'cache key must not be empty');
  // Every UTF-16 unit is at least one UTF-8 byte, so a longer key is refused without encoding it.
  if (
    key.length > MAX_KEY_BYTES ||
    (key.length > MAX_KEY_BYTES / 4 && Buffer.byteLength(key) > MAX_KEY_BYTES)
  ) {
    throw new CacheError('invalid_key', `cache key is longer than ${MAX_KEY_BYTES} bytes`);
  }
  // A lone surrogate has no UTF-8 form: encoders replace it with U+FFFD, so 's\uD800' and
  // 's\uDBFF' would be one key on Redis and two in a memory L1. Every cache refuses them alike.
  if (!(key as WellFormed).isWellFormed()) {
    throw new CacheError('invalid_key', 'cache key is not well-formed UTF-16 (it has a lone surrogate)');
  }
}

/** Checks `keys` is an array of valid keys (getMany, deleteMany). */
export function assertKeys(keys: unknown, what = 'keys'): asserts keys is readonly string[] {
  if (!Array.isArray(keys))
    throw new CacheError('invalid_key', `${what} must be an array of keys, received ${typeName(keys)}`);
  for (const k of keys) assertKey(k);
}

/**
 * Largest TTL (ms) a cache call accepts, on every implementation: 2^52 ms (about 142,700 years).
 * Redis's `PX` / `PEXPIRE` take an integer, and above 2^52 a double no longer holds every whole
 * number of ms; the memory and no-op caches refuse the same range so a TTL that works in tests on
 * one works on the others. (Factory and config defaults stop at 365 days, `MAX_TTL_MS`.)
 */
export const MAX_CALL_TTL_MS = 2 ** 52;

/** Whether `value` is an object holding a `ttl` key (false for a revoked Proxy, whose `in` throws). */
function hasTtlKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return 'ttl' in value;
  } catch {
    return false;
  }
}

/**
 * A TTL is `undefined` (no expiry) or a positive, finite number of milliseconds up to
 * `MAX_CALL_TTL_MS`; anything else is a `CacheError` `invalid_ttl`.
 */
export function assertTtl(ttl: unknown): asserts ttl is number | undefined {
  if (ttl === undefined) return;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    // Duration text (`set(k, v, '5s')`) is shown with the number to give; it read "received string".
    // An options object with a `ttl` (`set(k, v, { ttl: 5000 })`, as the memory cache's sync face
    // and lru-cache take it) read "received object", not saying where the TTL goes.
    const shown = hasTtlKey(ttl)
      ? 'an object with a ttl: a TTL argument is the number of milliseconds itself (set(key, value, 5000)); write options come after it'
      : shownDuration(ttl);
    throw new CacheError(
      'invalid_ttl',
      `ttl must be a positive finite number of milliseconds, received ${shown}`,
    );
  }
  if (ttl > MAX_CALL_TTL_MS) {
    throw new CacheError(
      'invalid_ttl',
      `ttl must be at most ${MAX_CALL_TTL_MS} ms (2^52), received ${String(ttl)}`,
    );
  }
}

/** ` of "<key>"` for a value error's message, when the key is known (only on the refusal path). */
export const ofKey = (key: string | undefined): string =>
  key === undefined ? '' : ` of ${JSON.stringify(key)}`;

/** Checks `value` is bytes; `key`, when given, is named in the refusal. */
export function assertBytes(value: unknown, key?: string): asserts value is Bytes {
  // Not `instanceof`: a Uint8Array made in another realm (a `node:vm` context, a test runner's
  // jsdom environment: `new TextEncoder().encode(s)` there) was refused as "received object".
  if (!types.isUint8Array(value)) {
    throw new CacheError(
      'invalid_value',
      `cache value${ofKey(key)} must be a Uint8Array or Buffer, received ${typeName(value)}`,
    );
  }
}

/**
 * Checks the entries of `setMany`: an array (`invalid_value` otherwise) of `{ key, value, ttl? }`
 * with a valid key (`invalid_key`, also for a missing entry), bytes and TTL.
 */
export function assertEntries(
  entries: unknown,
): asserts entries is readonly { key: string; value: Bytes; ttl?: number | undefined }[] {
  if (!Array.isArray(entries))
    throw new CacheError('invalid_value', `entries must be an array, received ${typeName(entries)}`);
  for (const e of entries as ({ key?: unknown; value?: unknown; ttl?: unknown } | null | undefined)[]) {
    assertKey(e?.key);
    assertBytes(e!.value, e!.key as string);
    assertTtl(e!.ttl);
    assertEntryFields(e!);
  }
}

/**
 * An entry that gives no `ttl` may hold a misspelt one (`tll`, `TTL`, `expiry`…), which stored
 * the entry without expiry, reported as a success. Only then are its other fields looked at, as
 * the sync face's `set` does with its options: an entry with a `ttl` pays nothing. Every cache's
 * `setMany` calls it (Redis and tiered check their entries on their own otherwise).
 */
export function assertEntryFields(e: { key?: unknown; ttl?: unknown }): void {
  if (e.ttl === undefined)
    for (const field of Object.keys(e))
      if (field !== 'key' && field !== 'value' && field !== 'ttl')
        throw new CacheError(
          'invalid_value',
          `setMany: field \`${field}\` of the entry of ${JSON.stringify(e.key)} ${unknownKeyMessage(field, ENTRY_FIELDS, 'entry field')} (an entry is { key, value, ttl? })`,
        );
}

/** The fields of a `setMany` entry (`CacheEntry`). */
const ENTRY_FIELDS: readonly string[] = ['key', 'value', 'ttl'];

/**
 * A write's budget (`WriteOptions.timeout`) is `undefined` (the cache's own bound) or a positive
 * number of ms; `Infinity` means no budget of the caller's own, like `undefined`. Anything else
 * (0, negative, NaN, a string, `null`) is a `CacheError` `invalid_ttl`, in every cache — also in
 * those that write synchronously and have nothing to bound, so a call that works on one cache
 * works on all of them.
 */
export function assertTimeout(timeout: unknown): asserts timeout is number | undefined {
  if (timeout === undefined) return;
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    const shown = shownDuration(timeout);
    throw new CacheError('invalid_ttl', `write timeout must be a positive number of ms, received ${shown}`);
  }
}

/** `undefined`, `null` or an object whose `timeout` passes `assertTimeout`. */
function assertOptionsObject(options: unknown): asserts options is WriteOptions | undefined {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options))
    throw new CacheError('invalid_value', `write options must be an object, received ${typeName(options)}`);
  assertTimeout((options as WriteOptions).timeout);
}

/**
 * The options of `delete`, `deleteMany`, `setMany`: `undefined`, `null` or `{ timeout }` whose
 * `timeout` passes `assertTimeout` (`invalid_value` for options that are not an object, or hold
 * another key). Any other key used to be ignored in every cache: `setMany(entries, { ifAbsent:
 * true })` overwrote the values it was meant to keep and `delete(key, { ifEquals })` deleted
 * whatever the key held, both reported as success.
 */
export function assertBudgetOptions(
  options: unknown,
): asserts options is Pick<WriteOptions, 'timeout'> | undefined {
  assertOptionsObject(options);
  if (options === undefined || options === null) return;
  for (const key of Object.keys(options)) {
    if (key === 'timeout') continue;
    throw new CacheError(
      'invalid_value',
      key === 'ifAbsent' || key === 'ifEquals'
        ? `\`${key}\` is an option of set only: setMany, delete and deleteMany are unconditional and take { timeout }`
        : `write option \`${key}\` ${unknownKeyMessage(key, ['timeout'], 'option here')} (setMany, delete and deleteMany take { timeout })`,
    );
  }
}

/**
 * The options of `set`: as `assertBudgetOptions`, and `ifAbsent` a boolean, `ifEquals` bytes, not
 * both (`invalid_value`). A truthy non-boolean `ifAbsent` used to mean "only if absent" on one
 * cache and "unconditionally" on another.
 */
export function assertWriteOptions(options: unknown): asserts options is WriteOptions | undefined {
  assertOptionsObject(options);
  if (options === undefined || options === null) return;
  // An unknown key is refused: a typo (`{ ifabsent: true }`) made a conditional write an
  // unconditional one, silently overwriting the value it was meant to keep.
  for (const key of Object.keys(options))
    if (!WRITE_OPTION_KEYS.includes(key))
      throw new CacheError(
        'invalid_value',
        `set: write option \`${key}\` ${unknownKeyMessage(key, WRITE_OPTION_KEYS, 'write option')}`,
      );
  const { ifAbsent, ifEquals } = options as WriteOptions;
  if (ifAbsent !== undefined && typeof ifAbsent !== 'boolean')
    throw new CacheError('invalid_value', `ifAbsent must be a boolean, received ${typeName(ifAbsent)}`);
  if (ifEquals !== undefined) {
    // Named as the option it is: the refusal read "cache value must be a Uint8Array or Buffer",
    // about a value that was bytes, and sent the caller looking at the wrong argument.
    if (!types.isUint8Array(ifEquals))
      throw new CacheError(
        'invalid_value',
        `set: ifEquals must be a Uint8Array or Buffer (the bytes the key must hold), received ${typeName(ifEquals)}`,
      );
    if (ifAbsent === true)
      throw new CacheError('invalid_value', 'set: ifAbsent and ifEquals cannot be combined');
  }
}

/** A loader must be a function (`invalid_value`), checked before any lookup so a hit does not hide it. */
export function assertLoader(loader: unknown): void {
  if (typeof loader !== 'function')
    throw new CacheError('invalid_value', `loader must be a function, received ${typeName(loader)}`);
}

export function hitRatio(hits: number, misses: number): number {
  const reads = hits + misses;
  return reads === 0 ? 0 : hits / reads;
}
