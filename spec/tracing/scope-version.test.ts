/**
 * The instrumentation scope version written in lib/tracing/otel/tracer.ts is the package's. It used
 * to be read from package.json at run time, which a bundle of the service does not have beside the
 * code (spec/consumer/bundle.test.ts checks the bundled spans); a release that bumps package.json
 * fails here until the constant follows.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { SCOPE_VERSION } from '../../lib/tracing/otel/tracer.js';

it('SCOPE_VERSION is the version in package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  assert.equal(SCOPE_VERSION, pkg.version);
});
