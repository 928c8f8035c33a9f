/** The resource attributes of a tracer's spans: the configured ones plus the service identity. */
import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '../../core/contracts.js';
import { given, type ResolvedOptions } from './options.js';

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
  // A blank `service.version` / `service.instance.id` among the attributes does not count, as a
  // blank `service.name` does not: an empty instance id was sent as it was, one id shared by every
  // process of the service.
  delete out['service.version'];
  const version = o.serviceVersion ?? given(a['service.version']);
  if (version !== undefined) out['service.version'] = version;
  out['service.instance.id'] = o.serviceInstanceId ?? given(a['service.instance.id']) ?? randomUUID();
  return out;
}
