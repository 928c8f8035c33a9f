/**
 * The whole config file: `service`, `logging`, `tracing`, `cache`, `metrics`, each optional. The
 * `cache:` section takes one of three shapes chosen by its `type`, so its schema is picked from
 * the input before validating; that keeps errors about the shape the user meant (a plain union
 * would only say "matches none").
 */
import * as v from 'valibot';
import { memorySection } from './sections/memory.js';
import { metricsSection } from './sections/metrics.js';
import { redisSection } from './sections/redis.js';
import { tieredFields } from './sections/tiered.js';
import { tracingSection } from './sections/tracing.js';

export const loggingSection = v.strictObject({
  /** Lowest level written. Default info. */
  level: v.optional(v.picklist(['debug', 'info', 'warn', 'error'])),
});

export const serviceSection = v.strictObject({
  /** Service name; the default for `tracing.service_name` and a `service` field on log records. */
  name: v.pipe(v.string(), v.minLength(1, 'a non-empty name')),
});

const CACHE_TYPES = ['memory', 'redis', 'tiered'] as const;
const cacheType = v.object({ type: v.picklist(CACHE_TYPES, 'type memory, redis or tiered') });

function typeOf(raw: unknown): string | undefined {
  const t = (raw as { type?: unknown } | null)?.type;
  return typeof t === 'string' ? t : undefined;
}

function levelSchema(raw: unknown, allowed: readonly ('memory' | 'redis')[]) {
  const t = typeOf(raw);
  if (t === 'redis' && allowed.includes('redis')) return redisSection;
  if (t === 'memory' && allowed.includes('memory')) return memorySection;
  return v.object({ type: v.picklist(allowed, `type ${allowed.join(' or ')}`) });
}

function cacheSchema(raw: unknown) {
  switch (typeOf(raw)) {
    case 'memory':
      return memorySection;
    case 'redis':
      return redisSection;
    case 'tiered': {
      const r = raw as { l1?: unknown; l2?: unknown };
      return v.strictObject({
        ...tieredFields,
        l1: levelSchema(r.l1, ['memory']),
        l2: levelSchema(r.l2, ['redis', 'memory']),
      });
    }
    default:
      return cacheType;
  }
}

/** The schema for one concrete input (the `cache:` shape depends on `cache.type`). */
export function configSchemaFor(raw: unknown) {
  const cache = (raw as { cache?: unknown } | null)?.cache;
  return v.strictObject({
    service: v.optional(serviceSection),
    logging: v.optional(loggingSection),
    tracing: v.optional(tracingSection),
    cache: v.optional(cacheSchema(cache)),
    metrics: v.optional(metricsSection),
  });
}

type Out<S extends v.GenericSchema> = v.InferOutput<S>;

/** A validated config file. */
export interface HyperionConfig {
  service?: Out<typeof serviceSection>;
  logging?: Out<typeof loggingSection>;
  tracing?: Out<typeof tracingSection>;
  cache?: CacheSection;
  metrics?: Out<typeof metricsSection>;
}

export type MemorySection = Out<typeof memorySection>;
export type RedisSectionOut = Out<typeof redisSection>;
export type TieredSectionOut = Out<v.StrictObjectSchema<typeof tieredFields, undefined>> & {
  l1: MemorySection;
  l2: RedisSectionOut | MemorySection;
};
export type CacheSection = MemorySection | RedisSectionOut | TieredSectionOut;
