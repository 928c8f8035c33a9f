/**
 * The `tx` object the caller's function receives: `read` answers at once (watched keys only);
 * `get`/`set`/`delete`/`expire` check their input and queue an operation. Once the function has
 * returned, the builder is sealed: a late call (e.g. from a forgotten callback) throws.
 */
import type { Bytes } from '../../../core/contracts.js';
import { CacheError } from '../../../core/errors.js';
import { assertKey, checkTtl, queuedValue } from '../checks.js';
import type { TransactionBuilder, TransactionFn } from './types.js';

/** One queued operation; keys without the prefix. */
export type Op =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'set'; readonly key: string; readonly value: Buffer; readonly px: number | undefined }
  | { readonly kind: 'delete'; readonly key: string }
  | { readonly kind: 'expire'; readonly key: string; readonly px: number };

export interface BuilderOptions {
  /** The keys under WATCH. */
  readonly watched: ReadonlySet<string>;
  /** Reads a watched key on the leased connection; absent when nothing is watched. */
  readonly read: ((key: string) => Promise<Bytes | undefined>) | undefined;
  /** TTL in ms for `set` without one. */
  readonly defaultTtl: number | undefined;
}

export interface Builder {
  readonly tx: TransactionBuilder;
  /** The operations queued so far, in order. */
  readonly ops: readonly Op[];
  /** Refuses every later call. */
  seal(): void;
}

export function createBuilder(options: BuilderOptions): Builder {
  const { watched, read, defaultTtl } = options;
  const ops: Op[] = [];
  let sealed = false;
  const open = (what: string) => {
    if (sealed) throw new CacheError('closed', `tx.${what}() called after the transaction was sent`);
  };
  const tx: TransactionBuilder = {
    async read(key) {
      open('read');
      assertKey(key);
      if (!watched.has(key) || !read) {
        throw new CacheError(
          'invalid_key',
          `tx.read(${JSON.stringify(key)}): only watched keys can be read before the transaction — add the key to ` +
            '{ watch: [...] } to guard it, or queue tx.get() to read it inside the transaction',
        );
      }
      return read(key);
    },
    get(key) {
      open('get');
      assertKey(key);
      ops.push({ kind: 'get', key });
      return tx;
    },
    set(key, value, ttl) {
      open('set');
      assertKey(key);
      const px = checkTtl(ttl, defaultTtl);
      ops.push({ kind: 'set', key, value: queuedValue(value, key), px });
      return tx;
    },
    delete(key) {
      open('delete');
      assertKey(key);
      ops.push({ kind: 'delete', key });
      return tx;
    },
    expire(key, ttl) {
      open('expire');
      assertKey(key);
      if (ttl === undefined) throw new CacheError('invalid_ttl', 'tx.expire needs a ttl in ms');
      ops.push({ kind: 'expire', key, px: checkTtl(ttl)! });
      return tx;
    },
  };
  return {
    tx,
    ops,
    seal() {
      sealed = true;
    },
  };
}

/** Runs the caller's function on a fresh builder, then seals it; the operations it queued. */
export async function build(fn: TransactionFn, options: BuilderOptions): Promise<readonly Op[]> {
  const builder = createBuilder(options);
  try {
    await fn(builder.tx);
  } finally {
    builder.seal();
  }
  return builder.ops;
}
