/**
 * A hostile or sloppy config, within the documented limits (1 MiB, 32 levels, 100,000 values):
 * found by the hostile-config audit, each case took time or memory far beyond its size before
 * being refused or loaded. The assertions are on what is reported (and on CPU-time ratios where
 * the defect was the growth itself), never on absolute times.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

function error(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

const json = (text: string) => () => loadConfigFromText(text, { env: {}, format: 'json' });

describe('hostile config: JSON nested deeper than the limit', () => {
  // The JSON duplicate-key scan ran before the depth check and copied each key's path: time
  // quadratic in the depth (40,000 levels: 20 s; a 1 MiB file of `{"a":` hours).
  it('is refused by the scan, at its line, with the same limit as YAML', () => {
    const nest = (n: number, before = '') =>
      `{"tracing":{"attributes":{${before}"a":${'['.repeat(n)}${']'.repeat(n)}}}}`;
    // tracing, attributes and the root are 3 levels: 29 lists make 32, the limit.
    assert.match(error(json(nest(29))).message, /tracing\.attributes\.a: has the wrong type/);
    const deep = error(json(nest(30, '\n\n')));
    assert.match(deep.message, /nested more than 32 levels deep at line 3 \(the limit for a config\)/);
  });
  it('a long run of nested objects is refused at once', () => {
    const n = 20_000;
    const err = error(json(`{"a":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`));
    assert.match(err.message, /nested more than 32 levels deep at line 1/);
  });
});
