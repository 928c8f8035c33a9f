/** prom-client, loaded on first use (see core/peer.ts): `hyperion/metrics/prometheus` imports without it. */
import type * as PromClient from 'prom-client';
import { MetricsError } from '../../core/errors.js';
import { requirePeer } from '../../core/peer.js';

let loaded: typeof PromClient | undefined;

/** The prom-client module; a `MetricsError` (`peer_missing`) naming it when it is not installed. */
export function promClient(): typeof PromClient {
  loaded ??= requirePeer<typeof PromClient>(
    'prom-client',
    'hyperion/metrics/prometheus',
    (message, cause) => new MetricsError('peer_missing', message, { cause }),
  );
  return loaded;
}
