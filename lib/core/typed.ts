/**
 * Typed views over a byte `Cache`: JSON encoding, optionally validated on read by any Standard
 * Schema (valibot, zod, arktype…), so data read back from a shared cache is never trusted blindly.
 * The core only knows the Standard Schema shape; it imports no validation library.
 */
import type { Bytes, Cache, Loader, WriteOptions } from './contracts.js';
import { CacheError, ConfigError, type ConfigIssue, typeName } from './errors.js';
import { type LoadFrame, loadChain, runIn } from './load-chain.js';
import { optionKeys, unknownKeyMessage, unknownOptionIssues } from './options.js';
import { assertKey, assertLoader, assertTtl } from './validate.js';

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

/**
 * The per-call options of a typed `set`: the byte cache's `WriteOptions`, with `ifEquals` given as
 * a value of `T` (compared by its JSON encoding, see {@link TypedCache.set}).
 */
export interface TypedWriteOptions<T> extends Omit<WriteOptions, 'ifEquals'> {
  /**
   * Store only when the key holds exactly the JSON encoding of this value now (compare-and-set);
   * `set` otherwise resolves `false`. The comparison is on bytes: it matches a value this view
   * stored (or returned from `get` without a schema that transforms it).
   */
  readonly ifEquals?: T | undefined;
}

/**
 * A typed view of a byte `Cache`. Every per-call option of the `Cache` contract reaches the
 * underlying cache unchanged: the TTL, and the `WriteOptions` of `set` and `delete` (`timeout`,
 * `ifAbsent`, `ifEquals` encoded as the stored bytes).
 */
export interface TypedCache<T> {
  get(key: string): Promise<T | undefined>;
  /**
   * Encodes `value` as JSON and stores it with `ttl` and `options` (see `Cache.set`): `timeout` is
   * the write's budget (a write reported as timed out never lands later), `ifAbsent` and `ifEquals`
   * make it conditional (it then resolves `false` when not stored).
   */
  set(key: string, value: T, ttl?: number, options?: TypedWriteOptions<T>): Promise<boolean>;
  getOrSet(key: string, loader: Loader<T>, ttl?: number): Promise<T>;
  /** Removes `key`; `options.timeout` is the delete's budget, as for `set` (see `Cache.delete`). */
  delete(key: string, options?: Pick<WriteOptions, 'timeout'>): Promise<boolean>;
}

export interface TypedCacheOptions<T> {
  /** Validates values on read. A value that fails is treated per `onInvalid`. */
  schema?: StandardSchema<T> | undefined;
  /**
   * What to do with a cached value that fails to decode or validate: `miss` (default) deletes it
   * and reports a miss, so `getOrSet` reloads; `throw` rejects with `CacheError('decode_failed')`.
   */
  onInvalid?: 'miss' | 'throw' | undefined;
}

const KNOWN = optionKeys<TypedCacheOptions<unknown>>({ schema: true, onInvalid: true });
const ON_INVALID = ['miss', 'throw'];
/** The `Cache` methods the view calls. */
const CACHE_METHODS = ['get', 'set', 'delete', 'getOrSet'] as const;

/**
 * Checks the cache and options up front. Without it a schema that is not a Standard Schema (e.g. a
 * library version older than the standard) failed inside the decode, so with `onInvalid: 'miss'`
 * every cached value was deleted and reported as a miss; an `onInvalid` typo (`'Throw'`) meant
 * `miss`; a wrong `cache` failed on the first call.
 */
function checkArguments(cache: unknown, options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new ConfigError('jsonCache: options must be an object', [
      { path: '', expected: 'an options object', received: typeName(options), message: 'has the wrong type' },
    ]);
  const o = options as Record<keyof TypedCacheOptions<unknown>, unknown>;
  const issues: ConfigIssue[] = [];
  const bad = (path: string, expected: string, value: unknown, message: string) =>
    issues.push({ path, expected, received: typeName(value), message });
  const c = cache as Record<string, unknown> | null | undefined;
  const missing = CACHE_METHODS.filter((m) => typeof c?.[m] !== 'function');
  if (typeof c !== 'object' || c === null)
    bad('cache', `a Cache (${CACHE_METHODS.join(', ')})`, cache, 'the first argument must be a Cache');
  else if (missing.length > 0)
    bad(
      'cache',
      `a Cache (${CACHE_METHODS.join(', ')})`,
      cache,
      `not a Cache: no ${missing.join(', ')} method`,
    );
  issues.push(...unknownOptionIssues(options, KNOWN));
  const std = (o.schema as { '~standard'?: { version?: unknown; validate?: unknown } } | null | undefined)?.[
    '~standard'
  ];
  if (o.schema !== undefined && (std?.version !== 1 || typeof std.validate !== 'function'))
    bad(
      'schema',
      "a Standard Schema v1 (an object with '~standard': { version: 1, validate })",
      o.schema,
      'schema is not a Standard Schema v1 (a validation library too old to implement it?)',
    );
  if (o.onInvalid !== undefined && !(typeof o.onInvalid === 'string' && ON_INVALID.includes(o.onInvalid)))
    bad(
      'onInvalid',
      `one of ${ON_INVALID.join(', ')}`,
      o.onInvalid,
      typeof o.onInvalid === 'string'
        ? unknownKeyMessage(o.onInvalid, ON_INVALID, 'onInvalid value')
        : 'must be a string',
    );
  if (issues.length > 0) throw new ConfigError('jsonCache: invalid arguments', issues);
}

/** A Standard Schema issue as the view reads it: `path` (Standard Schema v1) and, from valibot
 * and arktype, `expected`. */
interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
  readonly expected?: unknown;
}

const MAX_ISSUES_SHOWN = 5;
const MAX_PART = 100;
const bounded = (text: string) => (text.length > MAX_PART ? `${text.slice(0, MAX_PART)}…` : text);

/**
 * What failed, without the value: each issue's path and, when the library gives it, what was
 * expected (a type or a literal of the schema). The issues' messages are left out: valibot's say
 * `Expected number but received "<the value read back>"`, so a cached token ended up in logs.
 */
function describeIssues(issues: readonly StandardIssue[]): string {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => {
    const path = Array.isArray(issue.path)
      ? issue.path
          .map((p: PropertyKey | { key: PropertyKey }) =>
            String(typeof p === 'object' && p !== null ? p.key : p),
          )
          .join('.')
      : '';
    const expected = typeof issue.expected === 'string' ? ` (expected ${bounded(issue.expected)})` : '';
    return `${path === '' ? '(root)' : bounded(path)}${expected}`;
  });
  const more = issues.length > MAX_ISSUES_SHOWN ? ` and ${issues.length - MAX_ISSUES_SHOWN} more` : '';
  return `${issues.length === 1 ? 'issue at' : 'issues at'} ${shown.join(', ')}${more} (see err.issues)`;
}

const encoder = new TextEncoder();
// Fatal: bytes that are not UTF-8 are a decode failure (the `onInvalid` path), never U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The byte cache's options of a typed `set`: every field passed on as given (the cache checks
 * them), `ifEquals` encoded as the bytes a `set` of that value stores.
 */
function writeOptions<T>(
  options: TypedWriteOptions<T>,
  encode: (value: T, what: string) => Bytes,
  key: string,
): WriteOptions {
  if (options === null || typeof options !== 'object') return options;
  if (options.ifEquals === undefined) return options as WriteOptions;
  return { ...options, ifEquals: encode(options.ifEquals, `ifEquals of ${JSON.stringify(key)}`) };
}

/**
 * Refuses a Map, Set, WeakMap or WeakSet anywhere in `value` (one without a `toJSON`: the replacer
 * sees what `toJSON` returned): JSON writes each as `{}`, dropping its entries. Names the property
 * that holds it, never a value.
 */
function assertNoCollection(value: unknown, what: string): void {
  // The first call is for the value itself, with the key '' that a property named '' has too: a
  // Map under '' was reported as the value itself.
  let root = true;
  const replacer = (key: string, v: unknown) => {
    const atRoot = root;
    root = false;
    const [kind, hint] =
      v instanceof Map
        ? ['a Map', '; convert it first, e.g. Object.fromEntries(map) or [...map]']
        : v instanceof Set
          ? ['a Set', '; convert it first, e.g. [...set]']
          : v instanceof WeakMap
            ? ['a WeakMap', '']
            : v instanceof WeakSet
              ? ['a WeakSet', '']
              : [undefined, ''];
    if (kind === undefined) return v;
    const at = atRoot ? '' : ` (at ${JSON.stringify(key)})`;
    throw new CacheError(
      'invalid_value',
      `${what} is not JSON-serialisable: ${kind}${at} has no JSON form (JSON writes it as {}, its entries lost)${hint}`,
    );
  };
  try {
    JSON.stringify(value, replacer);
  } catch (err) {
    if (err instanceof CacheError) throw err;
    // This second pass reads the value again and takes more stack per level: a value nested a few
    // levels short of V8's limit, or a getter or toJSON that throws on its second read, escaped as
    // a bare RangeError or the getter's error instead of the typed refusal of the first pass.
    const why = err instanceof Error ? `: ${err.message.split('\n')[0]}` : '';
    throw new CacheError('invalid_value', `${what} is not JSON-serialisable${why}`, { cause: err });
  }
}

/** A JSON view of `cache`. Values must be JSON-serialisable. Bad arguments are a `ConfigError`. */
export function jsonCache<T>(cache: Cache, options: TypedCacheOptions<T> = {}): TypedCache<T> {
  checkArguments(cache, options);
  const onInvalid = options.onInvalid ?? 'miss';
  // `what` names the key, as every value refusal of the caches does (`value of "user:1"`): the
  // message was only "value is not JSON-serialisable", which left a loader returning `undefined`
  // (a row not found) to be found among every key of the service.
  const encode = (value: T, what: string): Uint8Array => {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      // A BigInt, a cycle, a throwing toJSON or a string past V8's limit: a typed refusal like the
      // one for `undefined` (these used to escape as a bare TypeError or RangeError).
      const why = err instanceof Error ? `: ${err.message.split('\n')[0]}` : '';
      throw new CacheError('invalid_value', `${what} is not JSON-serialisable${why}`, { cause: err });
    }
    // `undefined`, a function or a symbol: JSON has no form for them. The type only, never a value.
    if (text === undefined)
      throw new CacheError('invalid_value', `${what} is not JSON-serialisable (received ${typeName(value)})`);
    // A Map or Set is encoded as `{}` whatever it holds: it was stored so, and every read (the
    // loading caller's too) got `{}` back. Only a text with an empty object can hold one, so the
    // common value pays one scan of its text.
    if (text.includes('{}')) assertNoCollection(value, what);
    return encoder.encode(text);
  };
  /**
   * The value of `bytes` read for `key`, or (`onInvalid: 'miss'`) `undefined` once it was deleted;
   * `failed` is then told why, for a `getOrSet` that must report it (see there).
   */
  const decode = async (
    key: string,
    bytes: Uint8Array,
    failed?: (error: CacheError) => void,
  ): Promise<T | undefined> => {
    let problem: string | undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(bytes));
    } catch {
      // No `cause`: V8's JSON.parse message quotes the text it read (the stored value).
      if (onInvalid === 'throw')
        throw new CacheError(
          'decode_failed',
          `cached value of ${JSON.stringify(key)} is not valid UTF-8 JSON`,
        );
      problem = 'invalid UTF-8 JSON';
    }
    // A schema that throws (or rejects) instead of returning issues — a valibot `transform` that
    // throws on this value, a validator's own bug — fails the value like an issue does. Its error
    // used to be reported as "is not valid UTF-8 JSON", naming bytes that were JSON.
    let thrown: { err: unknown } | undefined;
    let issues: readonly StandardIssue[] | undefined;
    if (problem === undefined) {
      if (!options.schema) return parsed as T;
      try {
        const result = (await options.schema['~standard'].validate(parsed)) as {
          value?: T;
          issues?: readonly StandardIssue[];
        };
        if (!result.issues) return result.value as T;
        issues = result.issues;
        problem = describeIssues(result.issues);
      } catch (err) {
        thrown = { err };
        problem = `the schema threw (${err instanceof Error ? err.name : typeof err}; see err.cause)`;
      }
    }
    const error = (what: string) => {
      const err = new CacheError(
        'decode_failed',
        `${what} ${JSON.stringify(key)} failed validation: ${problem}`,
        thrown ? { cause: thrown.err } : undefined,
      );
      // The schema's own issues, for debugging: not in the message, and not enumerable, so a
      // logger serialising the error's fields leaves them out (their text may quote the value).
      if (issues) Object.defineProperty(err, 'issues', { value: issues, enumerable: false });
      return err;
    };
    if (onInvalid === 'throw') throw error('cached value of');
    // What a `getOrSet` whose loaded value failed rejects with: the same paths, issues and cause
    // (it said only `value loaded for "k" failed validation`, leaving nothing to debug with).
    failed?.(error('value loaded for'));
    // The read itself worked and its value is unusable: a miss, also when the delete fails (a
    // Redis refusing writes, NOREPLICAS or OOM, made the read reject); the next read tries again.
    await cache.delete(key).catch(() => {});
    return undefined;
  };

  // A plain function, not a method reached through `this`: `getOrSet` read it through `this`, so
  // used detached (`const { getOrSet } = users`, passed as a callback) it threw a TypeError while
  // the view's other methods, and every cache's, work so.
  /** The `getOrSet` calls of each key whose first read is on its way (see `loaded` there). */
  const waiting = new Map<string, Set<{ loaded: boolean }>>();
  /**
   * The bytes this view's loaders gave, each with its number in the order they were given (see
   * `loaded`): a caller that arrived while a load ran got them only if they were given after it
   * came. Weak: the cache holds what it keeps.
   */
  const loadedBytes = new WeakMap<Bytes, number>();
  let loadCount = 0;
  const get = async (key: string): Promise<T | undefined> => {
    const bytes = await cache.get(key);
    return bytes === undefined ? undefined : decode(key, bytes);
  };
  return {
    get,
    async set(key, value, ttl, options) {
      // The key first: the refusal of a value names it.
      assertKey(key);
      const bytes = encode(value, `value of ${JSON.stringify(key)}`);
      // Without options the call stays as it was (three arguments): a cache sees no empty object.
      if (options === undefined) return cache.set(key, bytes, ttl);
      return cache.set(key, bytes, ttl, writeOptions(options, encode, key));
    },
    async delete(key, options) {
      return options === undefined ? cache.delete(key) : cache.delete(key, options);
    },
    async getOrSet(key, loader, ttl) {
      // Checked first, as every cache does: a hit hid a loader that is not a function, and a miss
      // threw a bare TypeError from inside the byte cache's load. The TTL too, in the caches'
      // order: a bad one (`'60000'` from a config) resolved on a hit and rejected only on a miss.
      // The loads whose loaders called this one, read before the first await and passed on to the
      // byte cache's getOrSet: called from a loader of the same key (through this view or not), it
      // is refused as a self-wait. Called after the await below, it saw no loader calling and
      // joined the load it ran in: the two waited for each other for good.
      const chain = loadChain();
      assertKey(key);
      assertTtl(ttl);
      assertLoader(loader);
      // One read of the byte cache per call: its getOrSet, not a get first (that counted every
      // miss twice in the cache's stats — 5 callers of a cold key made 10 misses, 1 hit and 1 miss
      // read as a hit ratio of 1/3 — and on Redis a miss cost two round trips, and an outage
      // rejected the call instead of failing open to the loader as getOrSet does).
      // The byte cache's singleflight shares the loader. Every caller gets the stored bytes
      // decoded, the one that ran the loader too: it used to get the loader's own object, so one
      // call gave a Date (or NaN, an unvalidated value) to it and a string (null, the schema's
      // output) to the callers that joined it and to every later read.
      // `loaded`: a load of this key ran through this view while the first read was on its way
      // (this call's, or one it joined). Only the joiners of a load used to count as "a stored
      // value": each reloaded, so 50 callers of a key whose loader gave an invalid value ran the
      // loader 50 times instead of once. A call made while such a load runs joins it too: the
      // load began before this call was waiting (a loader takes a while: callers keep arriving),
      // and each such caller reloaded once more (11 callers, 10 of them after the loader started:
      // 2 runs of a loader whose value fails). Such a call is told by what it read: the very bytes
      // a loader of this view gave after the call began (the caches hand every caller of a load
      // its bytes). Any other value is a stored one and is reloaded: counting every call made
      // while a load ran as joined, a value another instance or view wrote meanwhile (a rolling
      // deploy's older shape) was `decode_failed` "value loaded", never reloaded.
      const me = { loaded: false, after: loadCount };
      const load = async () => {
        for (const w of waiting.get(key) ?? []) w.loaded = true;
        const bytes = encode(await loader(), `value loaded for ${JSON.stringify(key)}`);
        loadedBytes.set(bytes, ++loadCount);
        return bytes;
      };
      return loadAndDecode(key, load, ttl, chain, me);
    },
  };

  /** The rest of `getOrSet`: its read (loading with `load` on a miss), decoded, reloaded once. */
  async function loadAndDecode(
    key: string,
    load: () => Promise<Bytes>,
    ttl: number | undefined,
    chain: LoadFrame | undefined,
    me: { loaded: boolean; after: number },
  ): Promise<T> {
    let first: Bytes;
    const waiters = waiting.get(key) ?? new Set<{ loaded: boolean }>();
    waiting.set(key, waiters);
    waiters.add(me);
    try {
      first = await runIn(chain, () => cache.getOrSet(key, load, ttl));
    } finally {
      waiters.delete(me);
      if (waiters.size === 0 && waiting.get(key) === waiters) waiting.delete(key);
    }
    if ((loadedBytes.get(first) ?? 0) > me.after) me.loaded = true;
    let failure: CacheError | undefined;
    const failed = (err: CacheError) => {
      failure = err;
    };
    const decoded = await decode(key, first, failed);
    if (decoded !== undefined) return decoded;
    // A stored value that failed validation (`onInvalid: 'miss'`: decode deleted it) is loaded
    // anew, once; a value a loader gave during this call that fails is the loader's fault.
    if (!me.loaded) {
      const again = await runIn(chain, () => cache.getOrSet(key, load, ttl));
      const reloaded = await decode(key, again, failed);
      if (reloaded !== undefined) return reloaded;
    }
    throw (
      failure ?? new CacheError('decode_failed', `value loaded for ${JSON.stringify(key)} failed validation`)
    );
  }
}
