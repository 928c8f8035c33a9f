/**
 * Attribute names are dotted (OpenTelemetry's convention): `api.key` and `private.key` are as
 * secret as `api_key` and `private_key`. The secret-name rule split words at `-` and `_` only, so
 * such an attribute printed whole in a loaded config (`console.log(config)`, `JSON.stringify`,
 * `redactConfig`) while its `_` spelling printed `[redacted]`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { loadConfigFromText, redactConfig } from '../../lib/config/index.js';
import { isSecretField } from '../../lib/config/load.js';

const SECRET = 'sk_live_dotted_9f3a';

describe('secret-named fields written with dots', () => {
  it('are secret as their `_` and `-` spellings are; `key_prefix`-like names are not', () => {
    for (const name of ['api.key', 'service.api.key', 'private.key', 'signing.key', 'API.Key'])
      assert.equal(isSecretField(name), true, name);
    for (const name of ['key.prefix', 'monkey', 'service.name', 'keyspace.hits'])
      assert.equal(isSecretField(name), false, name);
  });

  it('print [redacted] in a loaded config, as `api_key` does', () => {
    const config = loadConfigFromText(
      [
        'tracing:',
        '  attributes:',
        `    api.key: ${SECRET}`,
        `    vendor.private.key: ${SECRET}`,
        `    api_key: ${SECRET}`,
        '    service.version: "1.2"',
        '',
      ].join('\n'),
      { env: {} },
    );
    const attributes = config.tracing?.attributes as Record<string, unknown>;
    // Readable as properties: the tracer gets them.
    assert.equal(attributes['api.key'], SECRET);
    for (const shown of [
      inspect(config, { depth: 10 }),
      JSON.stringify(config),
      JSON.stringify(redactConfig({ ...attributes })),
    ]) {
      assert.ok(!shown.includes(SECRET), shown);
      assert.match(shown, /1\.2/);
    }
    assert.match(inspect(config, { depth: 10 }), /'api\.key': '\[redacted\]'/);
  });

  it('hide a query parameter so named in a URL', () => {
    const config = loadConfigFromText(
      `tracing:\n  endpoint: "https://collector:4318/v1/traces?api.key=${SECRET}"\n`,
      { env: {} },
    );
    assert.ok(!inspect(config, { depth: 10 }).includes(SECRET));
  });
});
