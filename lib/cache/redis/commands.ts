/**
 * The single-key operations of the cache: get, set, delete, has, and getOrSet (which fails open:
 * when Redis cannot answer, the loader's value is returned). Bad input rejects with a typed
 * CacheError before anything is sent.
 */
import type { Bytes, Loader } from '../../core/contracts.js';
import { CacheError } from '../../core/errors.js';
import { createSingleflight } from '../../core/singleflight.js';
import { assertKey, checkTtl, checkValue } from './checks.js';
import type { CacheContext } from './dispatch.js';
import { countReply } from './stats.js';
import type { RedisCache } from './types.js';

export type KeyCommands = Pick<RedisCache, 'get' | 'set' | 'delete' | 'has' | 'getOrSet'>;

/** Runs synchronous input checks so that misuse rejects (async contract) instead of throwing. */
function checked<R>(check: () => Promise<R>): Promise<R> {
  try {
    return check();
  } catch (err) {
    return Promise.reject(err);
  }
}

const stored = () => true;
const positive = (n: number) => n > 0;

export function createKeyCommands(ctx: CacheContext): KeyCommands {
  const { client, prefix, defaultTtl, counters, dispatch } = ctx;
  const flights = createSingleflight<Bytes>();
  const count = (value: Buffer | null) => countReply(counters, value);
  const setCommand = (key: string, value: Buffer, px: number | undefined) =>
    px === undefined ? client.set(key, value) : client.set(key, value, 'PX', px);
  const failGet = dispatch.fail('get');
  const failSet = dispatch.fail('set');
  const failDelete = dispatch.fail('delete');
  const failHas = dispatch.fail('has');

  async function getOrSet(key: string, loader: Loader<Bytes>, ttl?: number): Promise<Bytes> {
    assertKey(key);
    const px = checkTtl(ttl, defaultTtl);
    if (typeof loader !== 'function')
      throw new CacheError('invalid_value', 'getOrSet expects a loader function');
    let cached: Buffer | null = null;
    try {
      cached = await dispatch.run('get', () => client.getBuffer(prefix + key), true);
    } catch (err) {
      if ((err as CacheError).code === 'closed') throw err;
      // Fail open: already counted and reported by run(); the loader answers instead.
    }
    if (cached !== null) {
      counters.hits++;
      return cached;
    }
    counters.misses++;
    return flights.do(key, async () => {
      const value = await loader();
      const buf = checkValue(value);
      try {
        await dispatch.run('set', () => setCommand(prefix + key, buf, px), true);
      } catch {
        // Fail open, as above: the value is still the right answer.
      }
      return value;
    });
  }

  return {
    get(key) {
      return checked(() => {
        assertKey(key);
        return dispatch.exec('get', () => client.getBuffer(prefix + key), count, failGet);
      });
    },
    set(key, value, ttl) {
      return checked(() => {
        assertKey(key);
        const px = checkTtl(ttl, defaultTtl);
        const buf = checkValue(value);
        return dispatch.exec('set', () => setCommand(prefix + key, buf, px), stored, failSet);
      });
    },
    delete(key) {
      return checked(() => {
        assertKey(key);
        return dispatch.exec('delete', () => client.unlink(prefix + key), positive, failDelete);
      });
    },
    has(key) {
      return checked(() => {
        assertKey(key);
        return dispatch.exec('has', () => client.exists(prefix + key), positive, failHas);
      });
    },
    getOrSet,
  };
}
