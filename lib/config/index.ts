/**
 * `hyperion/config`: load a YAML/JSON file with environment overrides, validate it (every bad field
 * reported with its path and what it accepts, secrets never echoed, nothing printed by the YAML
 * parser), and build an app from it in one call. An empty file means all defaults; a file over
 * 1 MiB, nested deeper than 32 levels or holding more than 100 000 values is refused.
 */
import {
  checkLoadOptions,
  checkParsed,
  collectEnvOverrides,
  type LoadOptions,
  loadConfigFile,
  loadConfigText,
  newFound,
  validateConfig,
} from './load.js';
import { shownSource } from './printed.js';
import { configSchemaFor, type HyperionConfig } from './schema.js';
import { withValidationEnv } from './sections/tracing.js';

export type { MemoryCacheOptions } from '../cache/memory/options.js';
export type { RedisConnectionOptions } from '../cache/redis/connection-options.js';
export type { TieredCacheOptions } from '../cache/tiered/types.js';
// What createAppFromConfig and the …OptionsFromConfig mappings return (also exported by their own
// subpaths): a module importing only hyperion/config that exports their results needs them here
// to emit its declarations (TS2742 otherwise). From the files that declare them, so that the
// declarations of hyperion/config still import no adapter's peer (iovalkey, prom-client).
export type { App } from '../core/index.js';
// The tracing section's exporter and propagator names (also in hyperion/tracing/otel): a library
// whose declarations hold a loaded config's `tracing` section names them through this subpath.
// Without them, exporting `config.tracing` failed with TS2742 (a reference to dist/tracing/otel/names.js).
export type { ExporterName, PropagatorName } from '../tracing/otel/names.js';
export { type AppFromConfigOptions, createAppFromConfig } from './app.js';
export {
  type ConfigFormat,
  type LoadOptions,
  MAX_CONFIG_BYTES,
  MAX_CONFIG_DEPTH,
  MAX_CONFIG_VALUES,
} from './load.js';
export { redactConfig } from './printed.js';
export type { CacheSection, CacheSectionInput, HyperionConfig, HyperionConfigInput } from './schema.js';
export { memoryOptionsFromConfig, memorySection } from './sections/memory.js';
// The helpers' result types are exported so a declaration emitted for their results can name them.
export {
  type MetricsOptionsFromConfig,
  metricsOptionsFromConfig,
  metricsSection,
} from './sections/metrics.js';
export { redisOptionsFromConfig, redisSection } from './sections/redis.js';
export { tieredOptionsFromConfig } from './sections/tiered.js';
export {
  type TracingOptionsFromConfig,
  tracingOptionsFromConfig,
  tracingSection,
} from './sections/tracing.js';

/**
 * Validates an already-parsed config object (environment overrides applied if `env` is given).
 * `undefined` means all defaults; anything else must be a mapping.
 */
export function parseConfig(
  raw: unknown,
  options: Omit<LoadOptions, 'format'> & { source?: string | undefined } = {},
): HyperionConfig {
  checkLoadOptions(options, ['env', 'envPrefix', 'source'], 'parseConfig');
  const source = shownSource(options.source ?? 'config');
  const given = newFound();
  checkParsed(raw, source, given);
  const inEnv = newFound();
  const { value, origins } = options.env
    ? collectEnvOverrides(raw, options.env, options.envPrefix, source, inEnv)
    : { value: raw ?? {}, origins: [] };
  return withValidationEnv(options.env, () =>
    validateConfig(configSchemaFor(value), value, source, origins, [
      { what: 'in the object', found: given },
      { what: 'in environment variables', found: inEnv },
    ]),
  ) as HyperionConfig;
}

/**
 * Reads `path` (YAML, or JSON by extension), applies `HYPERION__…` environment overrides and
 * validates the result. Throws one `ConfigError` listing every bad field. An empty file (only
 * whitespace or comments) means all defaults.
 */
export function loadConfig(path: string | URL, options: LoadOptions = {}): Promise<HyperionConfig> {
  return loadConfigFile(path, configSchemaFor, options) as Promise<HyperionConfig>;
}

/** `loadConfig` for text already in memory (`source` names it in messages). */
export function loadConfigFromText(
  text: string,
  options: LoadOptions & { source?: string | undefined } = {},
): HyperionConfig {
  return loadConfigText(text, configSchemaFor, options) as HyperionConfig;
}
