// Makes a test run use the OpenTelemetry JS 3.x line: every `@opentelemetry/*` import or require
// from outside this folder resolves in spec/otel3/node_modules (installed from its own lockfile by
// `npm ci --prefix spec/otel3`) instead of the root's 2.x packages, and a package that the 3.x
// line does not have (sdk-trace-base, exporter-jaeger, propagator-jaeger) is not found at all, as
// in an application on 3.x. spec/run.mjs registers it for every process of the run through
// NODE_OPTIONS (`--import`) when HYPERION_OTEL_LINE=3. Node ≥ 22.15 (module.registerHooks, which
// covers import, require and import.meta.resolve alike).
//
// It also records which files of @opentelemetry/api get loaded, so that a test can assert that
// one copy serves the whole process (globalThis[Symbol.for('hyperion.otel3.apiFiles')]).
import { createRequire, registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

const dir = new URL('./', import.meta.url).href;
const modules = new URL('./node_modules/', import.meta.url).href;
const here = new URL('./package.json', import.meta.url).href;
const requireHere = createRequire(here);
const apiFiles = new Set();
globalThis[Symbol.for('hyperion.otel3.apiFiles')] = apiFiles;

function notFound(specifier, isRequire) {
  const error = new Error(`Cannot find package '${specifier}' (not part of the OpenTelemetry 3.x set)`);
  error.code = isRequire ? 'MODULE_NOT_FOUND' : 'ERR_MODULE_NOT_FOUND';
  return error;
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    // Packages of this folder (and this folder itself) resolve as usual, among themselves.
    if (!specifier.startsWith('@opentelemetry/') || context.parentURL?.startsWith(dir))
      return nextResolve(specifier, context);
    const isRequire = context.conditions?.includes('require') ?? false;
    let url;
    let result;
    try {
      if (isRequire) {
        // CommonJS lookup follows the requiring module's own paths whatever parentURL says: resolve
        // it from here instead (the `require` condition, as the caller asked).
        url = pathToFileURL(requireHere.resolve(specifier)).href;
      } else {
        result = nextResolve(specifier, { ...context, parentURL: here });
        url = result.url;
      }
    } catch {
      throw notFound(specifier, isRequire);
    }
    // Resolution from here walks up to the root node_modules too: only this folder's packages count.
    if (!url.startsWith(modules)) throw notFound(specifier, isRequire);
    return result ?? { url, shortCircuit: true };
  },
  load(url, context, nextLoad) {
    if (url.includes('/@opentelemetry/api/')) apiFiles.add(url);
    return nextLoad(url, context);
  },
});
