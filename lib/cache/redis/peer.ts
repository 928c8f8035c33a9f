/** iovalkey, loaded on first use (see core/peer.ts): `hyperion/cache/redis` imports without it. */
import type * as Iovalkey from 'iovalkey';
import { CacheError } from '../../core/errors.js';
import { requirePeer } from '../../core/peer.js';

let loaded: typeof Iovalkey | undefined;

/** The iovalkey module; a `CacheError` (`peer_missing`) naming it when it is not installed. */
export function iovalkey(): typeof Iovalkey {
  loaded ??= requirePeer<typeof Iovalkey>(
    'iovalkey',
    'hyperion/cache/redis',
    (message, cause) => new CacheError('peer_missing', message, { cause }),
  );
  return loaded;
}
