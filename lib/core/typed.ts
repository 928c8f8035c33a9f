/**
 * Typed views over a byte `Cache`: JSON encoding, optionally validated on read by any Standard
 * Schema (valibot, zod, arktype…), so data read back from a shared cache is never trusted blindly.
 * The core only knows the Standard Schema shape; it imports no validation library.
 */
import type { Cache, Loader } from './contracts.js';
import { CacheError } from './errors.js';

/** The subset of the Standard Schema v1 interface this module uses. */
export interface StandardSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: Output; readonly issues?: undefined }
      | { readonly issues: ReadonlyArray<{ readonly message: string }> }
      | Promise<unknown>;
  };
}

export interface TypedCache<T> {
  get(key: string): Promise<T | undefined>;
  set(key: string, value: T, ttl?: number): Promise<boolean>;
  getOrSet(key: string, loader: Loader<T>, ttl?: number): Promise<T>;
  delete(key: string): Promise<boolean>;
}

export interface TypedCacheOptions<T> {
  /** Validates values on read. A value that fails is treated per `onInvalid`. */
  schema?: StandardSchema<T>;
  /**
   * What to do with a cached value that fails to decode or validate: `miss` (default) deletes it
   * and reports a miss, so `getOrSet` reloads; `throw` rejects with `CacheError('decode_failed')`.
   */
  onInvalid?: 'miss' | 'throw';
}

const encoder = new TextEncoder();
// Fatal: bytes that are not UTF-8 are a decode failure (the `onInvalid` path), never U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A JSON view of `cache`. Values must be JSON-serialisable. */
export function jsonCache<T>(cache: Cache, options: TypedCacheOptions<T> = {}): TypedCache<T> {
  const onInvalid = options.onInvalid ?? 'miss';
  const encode = (value: T): Uint8Array => {
    const text = JSON.stringify(value);
    if (text === undefined) throw new CacheError('invalid_value', 'value is not JSON-serialisable');
    return encoder.encode(text);
  };
  const decode = async (key: string, bytes: Uint8Array): Promise<T | undefined> => {
    let problem: string;
    try {
      const parsed: unknown = JSON.parse(decoder.decode(bytes));
      if (!options.schema) return parsed as T;
      const result = (await options.schema['~standard'].validate(parsed)) as {
        value?: T;
        issues?: ReadonlyArray<{ message: string }>;
      };
      if (!result.issues) return result.value as T;
      problem = result.issues.map((i) => i.message).join('; ');
    } catch (err) {
      if (onInvalid === 'throw')
        throw new CacheError('decode_failed', `cached value of "${key}" is not valid UTF-8 JSON`, {
          cause: err,
        });
      problem = 'invalid UTF-8 JSON';
    }
    if (onInvalid === 'throw')
      throw new CacheError('decode_failed', `cached value of "${key}" failed validation: ${problem}`);
    await cache.delete(key);
    return undefined;
  };

  return {
    async get(key) {
      const bytes = await cache.get(key);
      return bytes === undefined ? undefined : decode(key, bytes);
    },
    set: (key, value, ttl) => cache.set(key, encode(value), ttl),
    delete: (key) => cache.delete(key),
    async getOrSet(key, loader, ttl) {
      const existing = await this.get(key);
      if (existing !== undefined) return existing;
      // The byte cache's singleflight shares the loader; `fresh` keeps the loader's own object
      // so the caller that ran it gets it without a decode round trip.
      let fresh: { value: T } | undefined;
      const bytes = await cache.getOrSet(
        key,
        async () => {
          const value = await loader();
          fresh = { value };
          return encode(value);
        },
        ttl,
      );
      if (fresh) return fresh.value;
      const decoded = await decode(key, bytes);
      if (decoded === undefined)
        throw new CacheError('decode_failed', `value loaded for "${key}" failed validation`);
      return decoded;
    },
  };
}
