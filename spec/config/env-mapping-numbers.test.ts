/**
 * A label value keeps a number as written (`version: 1.10` is the label "1.10", `0x1F` is "0x1F"),
 * in a YAML file, a JSON file and a variable naming the label. Inside a mapping set by one variable
 * — `HYPERION__METRICS__DEFAULT_LABELS='{version: 1.10}'`, the form the README gives for keys a
 * variable name cannot spell — it did not: "1.10" became "1.1", `007` "7", `2.0` "2", and `0x1F`
 * was refused as hexadecimal. The same mapping now gives the same labels wherever it is written.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const LABELS = '{version: 1.10, build: 0x1F, zone: 007, major: 2.0, name: api}';
const EXPECTED = { version: '1.10', build: '0x1F', zone: '007', major: '2.0', name: 'api' };

const labels = (text: string, env: Record<string, string> = {}) =>
  loadConfigFromText(text, { env }).metrics?.default_labels;

describe('label values in a mapping set by an environment variable', () => {
  it('are read as the same mapping in the file is', () => {
    assert.deepEqual(labels(`metrics: { default_labels: ${LABELS} }`), EXPECTED);
    assert.deepEqual(labels('metrics: {}', { HYPERION__METRICS__DEFAULT_LABELS: LABELS }), EXPECTED);
    // The whole section in one variable, and a mapping replacing the file's.
    assert.deepEqual(labels('', { HYPERION__METRICS: `{default_labels: ${LABELS}}` }), EXPECTED);
    assert.deepEqual(
      labels('metrics: { default_labels: { version: 9.90 } }', { HYPERION__METRICS__DEFAULT_LABELS: LABELS }),
      EXPECTED,
    );
  });

  it('a later variable for one label wins over the mapping of an earlier one', () => {
    assert.deepEqual(
      labels('', {
        HYPERION__METRICS: '{default_labels: {version: 1.10, major: 2.0}}',
        HYPERION__METRICS__DEFAULT_LABELS__MAJOR: '3.0',
      }),
      { version: '1.10', major: '3.0' },
    );
  });

  it('other fields in such a mapping keep YAML’s reading: attributes a number, a port in hexadecimal refused', () => {
    const config = loadConfigFromText('tracing: {}', {
      env: { HYPERION__TRACING__ATTRIBUTES: '{ratio: 1.10, mask: 0x1F}' },
    });
    assert.deepEqual(config.tracing?.attributes, { ratio: 1.1, mask: 31 });
    assert.throws(
      () => loadConfigFromText('', { env: { HYPERION__METRICS: '{port: 0x10}' } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === 'metrics.port' &&
        /hexadecimal/.test(err.issues[0]!.message) &&
        /HYPERION__METRICS\)/.test(err.issues[0]!.message),
    );
  });
});
