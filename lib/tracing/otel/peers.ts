/**
 * The OpenTelemetry packages every module of `hyperion/tracing/otel` uses (`@opentelemetry/api`,
 * `core`, `resources`), loaded here instead of by static imports: a static import of a package
 * that is not installed fails while the module graph is linked, before any of our code runs, so
 * `import 'hyperion/tracing/otel'` without them was the loader's raw `ERR_MODULE_NOT_FOUND` naming
 * one package and one of our files. Now it is one `TracingError` (`otel_peer_missing`) naming
 * every missing package and the command to install them, thrown when the subpath is imported
 * (there is nothing of it that works without them). Loaded as the same module instances a static
 * `import` gets (`loadPeer`).
 */
import { TracingError } from '../../core/errors.js';
import { OTEL_INSTALL } from './names.js';
import { loadPeer, peerInstalled } from './sdk.js';

const REQUIRED = ['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/resources'] as const;

const missing = REQUIRED.filter((name) => !peerInstalled(name));
if (missing.length > 0) {
  const many = missing.length > 1;
  throw new TracingError(
    'otel_peer_missing',
    `hyperion/tracing/otel needs the optional peer ${many ? 'dependencies' : 'dependency'} ${missing.join(', ')}, ` +
      `which ${many ? 'are' : 'is'} not installed: ${OTEL_INSTALL}`,
  );
}

export const api = loadPeer<typeof import('@opentelemetry/api')>('@opentelemetry/api', 'tracing');
export const core = loadPeer<typeof import('@opentelemetry/core')>('@opentelemetry/core', 'tracing');
export const resources = loadPeer<typeof import('@opentelemetry/resources')>(
  '@opentelemetry/resources',
  'tracing',
);
