/** The resource attributes of a tracer's spans: the configured ones plus the service identity. */
import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '../../core/contracts.js';
import type { ResolvedOptions } from './options.js';

/**
 * `attributes` plus `service.name`, `service.version` (when known) and `service.instance.id`
 * (a random UUID per tracer when not given, as the resource conventions recommend: two
 * processes of one service must not share it).
 */
export function serviceResource(
  o: Pick<ResolvedOptions, 'attributes' | 'serviceName' | 'serviceVersion' | 'serviceInstanceId'>,
): Record<string, AttributeValue> {
  const a = o.attributes;
  const out: Record<string, AttributeValue> = { ...a, 'service.name': o.serviceName };
  const version = o.serviceVersion ?? a['service.version'];
  if (version !== undefined) out['service.version'] = version;
  out['service.instance.id'] = o.serviceInstanceId ?? a['service.instance.id'] ?? randomUUID();
  return out;
}
