// `npm run bench:tracing:otel3` loads this before spec/otel3/resolve.mjs (`--import`s load in
// order). That hook needs Node ≥ 22.15 (module.registerHooks) and the 3.x packages installed in
// spec/otel3: on an older Node the script died with "SyntaxError: The requested module
// 'node:module' does not provide an export named 'registerHooks'", which says neither. Here each
// is named, with what to do, as spec/run.mjs does for HYPERION_OTEL_LINE=3, and the script exits 1.
import { existsSync } from 'node:fs';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  console.error(
    `bench:tracing:otel3 needs Node >= 22.15 for the OpenTelemetry 3.x line (this is ${process.version}); \`npm run bench:tracing\` runs the 2.x line on this Node`,
  );
  process.exit(1);
}
if (!existsSync(new URL('../../spec/otel3/node_modules/@opentelemetry/sdk-trace', import.meta.url))) {
  console.error(
    'bench:tracing:otel3: the 3.x packages are not installed: run `npm ci --prefix spec/otel3` first',
  );
  process.exit(1);
}
