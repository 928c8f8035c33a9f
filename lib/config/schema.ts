/**
 * The whole config file: `service`, `logging`, `tracing`, `cache`, `metrics`, each optional. The
 * `cache:` section takes one of three shapes chosen by its `type`, so its schema is picked from
 * the input before validating; that keeps errors about the shape the user meant (a plain union
 * would only say "matches none").
 */
import * as v from 'valibot';
import { oneOf, type SectionRule, section } from './primitives.js';
import { memorySection } from './sections/memory.js';
import {
  checkBuiltinNames,
  failDefaultLabel,
  metricsNamePrefix,
  metricsSection,
} from './sections/metrics.js';
import { redisSection } from './sections/redis.js';
import { redisL2TimeoutRule, replicaReadsRule, tieredFields } from './sections/tiered.js';
import { tracingSection } from './sections/tracing.js';

export const loggingSection = section(
  {
    /** Lowest level written. Default info. */
    level: v.optional(oneOf(['debug', 'info', 'warn', 'error'])),
  },
  'logging settings',
);

export const serviceSection = section(
  {
    /**
     * Service name; the default for `tracing.service_name` and a `service` field on log records.
     * Trimmed, as `tracing.service_name` is: a blank name would only fail in the tracer factory.
     */
    name: v.pipe(v.string('a non-empty name'), v.trim(), v.minLength(1, 'a non-empty name')),
  },
  'service settings',
);

const CACHE_TYPES = ['memory', 'redis', 'tiered'] as const;
const TYPE_PHRASE = 'memory, redis or tiered';

/** The original plan's name of the in-memory cache; here it is `type: memory`. */
const RISTRETTO_HINT =
  ' (`ristretto` in the original plan is `memory` here: the same TinyLFU in-memory cache, same keys)';

/** The schema when `type` is missing or unknown: only `type` is checked, with the allowed values. */
function cacheTypeSchema(hint = '') {
  return v.pipe(
    v.custom<Record<string, unknown>>(
      (x) => typeof x === 'object' && x !== null && !Array.isArray(x),
      `a mapping of cache settings starting with \`type: ${TYPE_PHRASE}\``,
    ),
    v.object({
      type: v.picklist(CACHE_TYPES, `the cache type: ${TYPE_PHRASE}${hint}`),
      // `cache: { enabled: false }`, written as `tracing:` and `metrics:` are turned off, was told
      // only that `type` is required: the section has no `enabled`, and no cache is no section.
      enabled: v.optional(
        v.pipe(
          v.unknown(),
          v.rawCheck(({ addIssue }) =>
            addIssue({
              message: 'is not a field of the cache section: for no cache, leave the `cache:` section out',
              expected: 'no `enabled` key (a part without its section is its no-op)',
            }),
          ),
        ),
      ),
    }),
  );
}
const cacheType = cacheTypeSchema();
const ristrettoType = cacheTypeSchema(RISTRETTO_HINT);

function typeOf(raw: unknown): string | undefined {
  const t = (raw as { type?: unknown } | null)?.type;
  return typeof t === 'string' ? t : undefined;
}

function levelSchema(raw: unknown, allowed: readonly ('memory' | 'redis')[]) {
  const t = typeOf(raw);
  if (t === 'redis' && allowed.includes('redis')) return redisSection;
  if (t === 'memory' && allowed.includes('memory')) return memorySection;
  const phrase = allowed.join(' or ');
  const hint = t === 'ristretto' && allowed.includes('memory') ? RISTRETTO_HINT : '';
  return v.pipe(
    v.custom<Record<string, unknown>>(
      (x) => typeof x === 'object' && x !== null && !Array.isArray(x),
      `a mapping of cache settings starting with \`type: ${phrase}\``,
    ),
    v.object({ type: v.picklist(allowed, `the cache type: ${phrase}${hint}`) }),
  );
}

function cacheSchema(raw: unknown) {
  switch (typeOf(raw)) {
    case 'memory':
      return memorySection;
    case 'redis':
      return redisSection;
    case 'tiered': {
      const r = raw as { l1?: unknown; l2?: unknown };
      return section(
        {
          ...tieredFields,
          l1: levelSchema(r.l1, ['memory']),
          l2: levelSchema(r.l2, ['redis', 'memory']),
        },
        'tiered cache settings',
        [replicaReadsRule, redisL2TimeoutRule],
      );
    }
    case 'ristretto':
      return ristrettoType;
    default:
      return cacheType;
  }
}

const isMapping = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A tiered cache registers its metrics (`cache_tracking_confirmed_age_seconds`…) under
 * `namespace_subsystem_` even when `metrics.prefix` renames the built-in ones: those names must
 * fit createMetrics' limit too, or createAppFromConfig failed with a MetricsError.
 */
const tieredMetricNames: SectionRule = (root, fail) => {
  const { cache, metrics } = root;
  if (!isMapping(cache) || cache.type !== 'tiered' || !isMapping(metrics) || metrics.enabled === false)
    return;
  if (typeof metrics.prefix !== 'string') return; // the metrics section's own rule covers this prefix
  const ns = typeof metrics.namespace === 'string' ? metrics.namespace : '';
  const sub = typeof metrics.subsystem === 'string' ? metrics.subsystem : '';
  checkBuiltinNames(
    metricsNamePrefix(metrics),
    ['metrics', ns.length >= sub.length ? 'namespace' : 'subsystem'],
    fail,
    "the tiered cache's metric names",
  );
};

/**
 * The labels a tiered cache's metrics add (lib/cache/tiered/metrics.ts; `cache` is a built-in
 * metric's label too, refused by the metrics section's own rule): as a default label,
 * watchTieredCoherence was refused and createAppFromConfig failed with a MetricsError.
 */
const TIERED_LABELS: Readonly<Record<string, string>> = { source: 'cache_invalidations_total' };

const tieredMetricLabels: SectionRule = (root, fail) => {
  const { cache, metrics } = root;
  if (!isMapping(cache) || cache.type !== 'tiered' || !isMapping(metrics) || metrics.enabled === false)
    return;
  const labels = metrics.default_labels;
  if (!isMapping(labels)) return;
  for (const [label, metric] of Object.entries(TIERED_LABELS))
    if (Object.hasOwn(labels, label) && labels[label] !== '')
      failDefaultLabel(fail, ['metrics', 'default_labels', label], `the tiered cache's metric ${metric}`);
};

/**
 * The label of the span export counters `createApp` registers for a tracer that counts its
 * exports (lib/core/tracer-metrics.ts): as a default label, neither `spans_dropped_total{reason}`
 * nor `spans_exported_total` was registered (one warning) while the file loaded. Not with
 * `exporter: none`, whose tracer exports nothing to count.
 */
const TRACER_LABELS: Readonly<Record<string, string>> = { reason: 'spans_dropped_total' };

const tracerMetricLabels: SectionRule = (root, fail) => {
  const { tracing, metrics } = root;
  if (!isMapping(tracing) || tracing.enabled === false || tracing.exporter === 'none') return;
  if (!isMapping(metrics) || metrics.enabled === false) return;
  const labels = metrics.default_labels;
  if (!isMapping(labels)) return;
  for (const [label, metric] of Object.entries(TRACER_LABELS))
    if (Object.hasOwn(labels, label) && labels[label] !== '')
      failDefaultLabel(fail, ['metrics', 'default_labels', label], `the tracer's metric ${metric}`);
};

/** The schema for one concrete input (the `cache:` shape depends on `cache.type`). */
export function configSchemaFor(raw: unknown) {
  const cache = (raw as { cache?: unknown } | null)?.cache;
  return section(
    {
      service: v.optional(serviceSection),
      logging: v.optional(loggingSection),
      tracing: v.optional(tracingSection),
      cache: v.optional(cacheSchema(cache)),
      metrics: v.optional(metricsSection),
    },
    'sections',
    [tieredMetricNames, tieredMetricLabels, tracerMetricLabels],
  );
}

type Out<S extends v.GenericSchema> = v.InferOutput<S>;

/** A validated config file. */
export interface HyperionConfig {
  service?: Out<typeof serviceSection> | undefined;
  logging?: Out<typeof loggingSection> | undefined;
  tracing?: Out<typeof tracingSection> | undefined;
  cache?: CacheSection | undefined;
  metrics?: Out<typeof metricsSection> | undefined;
}

/**
 * What a schema of this module accepts: the file's forms (`"5m"` or a number of ms for a duration,
 * a number for a label value), as `createAppFromConfig` takes them in an object written in code.
 * The output types (`HyperionConfig`) hold what validation makes of them (`300000`, `"1.5"`).
 * Sections (`section()`: a mapping check piped into the object) and mappings (`mapOf`) are followed
 * into their fields; every other schema is valibot's own input type.
 */
type In<S> =
  S extends v.OptionalSchema<infer W, infer _D>
    ? In<W> | undefined
    : S extends { readonly pipe: readonly [{ readonly type: 'custom' }, infer Inner, ...unknown[]] }
      ? Inner extends v.LooseObjectSchema<infer E, infer _N>
        ? EntriesIn<E>
        : Inner extends v.RecordSchema<infer K, infer V, infer _N>
          ? Record<v.InferInput<K>, In<V>>
          : Record<string, unknown>
      : S extends v.UnionSchema<infer O, infer _N>
        ? In<O[number]>
        : S extends v.GenericSchema
          ? ReadonlyLists<v.InferInput<S>>
          : never;

/**
 * A list as written may be read-only: validation only reads it. A config written `as const` (to
 * keep `type: 'redis'` a literal in a variable) has read-only lists, and its `addresses`,
 * `propagators` or a list attribute value was TS4104 ("'readonly' … cannot be assigned to the
 * mutable type") although the code takes such an object, frozen or not.
 */
type ReadonlyLists<T> = T extends readonly (infer U)[] ? readonly ReadonlyLists<U>[] : T;

/** The fields of a section as written: a field whose schema is optional may be left out. */
type EntriesIn<E extends v.ObjectEntries> = {
  [K in keyof E as E[K] extends v.OptionalSchema<v.GenericSchema, unknown> ? K : never]?: In<E[K]>;
} & {
  [K in keyof E as E[K] extends v.OptionalSchema<v.GenericSchema, unknown> ? never : K]: In<E[K]>;
};

/** A `cache:` section as written (`type: memory`, `redis` or `tiered` with its `l1`/`l2`). */
export type CacheSectionInput =
  | In<typeof memorySection>
  | In<typeof redisSection>
  | (EntriesIn<typeof tieredFields> & {
      l1: In<typeof memorySection>;
      l2: In<typeof redisSection> | In<typeof memorySection>;
    });

/**
 * A config as `createAppFromConfig` takes it written in code (or from `JSON.parse`): the file's
 * keys and forms (`default_ttl: '5m'`), validated as a file is. A loaded `HyperionConfig` is one.
 */
export interface HyperionConfigInput {
  service?: In<typeof serviceSection> | undefined;
  logging?: In<typeof loggingSection> | undefined;
  tracing?: In<typeof tracingSection> | undefined;
  cache?: CacheSectionInput | undefined;
  metrics?: In<typeof metricsSection> | undefined;
}

export type MemorySection = Out<typeof memorySection>;
export type RedisSectionOut = Out<typeof redisSection>;
export type TieredSectionOut = Out<v.ObjectSchema<typeof tieredFields, undefined>> & {
  l1: MemorySection;
  l2: RedisSectionOut | MemorySection;
};
export type CacheSection = MemorySection | RedisSectionOut | TieredSectionOut;
