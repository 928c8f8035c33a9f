/**
 * `hyperion/config`: load a YAML/JSON file with environment overrides, validate it (every bad field
 * reported with its path, secrets never echoed), and build an app from it in one call.
 */
import { applyEnvOverrides, type LoadOptions, loadConfigFile, validateConfig } from './load.js';
import { configSchemaFor, type HyperionConfig } from './schema.js';

export { type AppFromConfigOptions, createAppFromConfig } from './app.js';
export {
  applyEnvOverrides,
  type ConfigFormat,
  isSecretField,
  type LoadOptions,
  loadConfigFile,
  parseConfigText,
  toConfigIssues,
  validateConfig,
} from './load.js';
export { duration, hostPort, httpUrl, parseDuration, port } from './primitives.js';
export type { CacheSection, HyperionConfig } from './schema.js';
export { memoryOptionsFromConfig, memorySection } from './sections/memory.js';
export { metricsOptionsFromConfig, metricsSection } from './sections/metrics.js';
export { redisOptionsFromConfig, redisSection } from './sections/redis.js';
export { tieredOptionsFromConfig } from './sections/tiered.js';
export { tracingOptionsFromConfig, tracingSection } from './sections/tracing.js';

/** Validates an already-parsed config object (environment overrides applied if `env` is given). */
export function parseConfig(
  raw: unknown,
  options: Omit<LoadOptions, 'format'> & { source?: string } = {},
): HyperionConfig {
  const merged = options.env ? applyEnvOverrides(raw ?? {}, options.env, options.envPrefix) : (raw ?? {});
  return validateConfig(configSchemaFor(merged), merged, options.source ?? 'config') as HyperionConfig;
}

/**
 * Reads `path` (YAML, or JSON by extension), applies `HYPERION__…` environment overrides and
 * validates the result. Throws one `ConfigError` listing every bad field.
 */
export function loadConfig(path: string, options: LoadOptions = {}): Promise<HyperionConfig> {
  return loadConfigFile(path, configSchemaFor, options) as Promise<HyperionConfig>;
}
