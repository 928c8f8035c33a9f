/**
 * The `source` of loadConfigFromText and parseConfig starts every message of their ConfigError.
 * lib/config/README.md says to fetch a config URL and pass its text to loadConfigFromText, so the
 * URL is the natural `source` — and it was shown as given, credentials and `?token=` included
 * (`https://deploy:tok-…@config-server/app.yaml: 1 invalid field(s)`). It is now shown as a loaded
 * config prints a URL: without the password, a user name alone or a secret query value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { loadConfigFromText, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const SECRET = 'tok-3f9a1c77';

/** Every text a caller may print of `err`. */
function printed(err: ConfigError): string {
  return [
    err.message,
    err.stack,
    inspect(err, { depth: 10 }),
    JSON.stringify(err),
    JSON.stringify(err.issues),
  ].join('\n');
}

function refused(run: () => unknown, start: string): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err.message.startsWith(start), err.message);
    assert.ok(!printed(err).includes(SECRET), err.message);
    return true;
  });
}

describe('a URL given as the source of a config', () => {
  it('is shown without its credentials in every kind of error of loadConfigFromText', () => {
    const cases: [string, string][] = [
      [
        `https://deploy:${SECRET}@config-server/app.yaml`,
        'https://deploy:[redacted]@config-server/app.yaml: ',
      ],
      [`https://${SECRET}@config-server/app.yaml`, 'https://[redacted]@config-server/app.yaml: '],
      [
        `https://config-server/app.yaml?token=${SECRET}&v=2`,
        'https://config-server/app.yaml?token=[redacted]&v=2: ',
      ],
    ];
    for (const [source, start] of cases) {
      // A bad field, a YAML syntax error, a bad environment variable, a value that is not text.
      refused(() => loadConfigFromText('tracing: { sample_rate: 2 }', { source, env: {} }), start);
      refused(() => loadConfigFromText('tracing: [', { source, env: {} }), start);
      refused(() => loadConfigFromText('', { source, env: { HYPERION__TRACING__SAMPLE_RATE: '2' } }), start);
      refused(() => loadConfigFromText(undefined as unknown as string, { source, env: {} }), start);
      refused(() => loadConfigFromText('[1]', { source, env: {}, format: 'json' }), start);
    }
  });

  it('and of parseConfig', () => {
    refused(
      () =>
        parseConfig(
          { tracing: { sample_rate: 2 } },
          { source: `https://deploy:${SECRET}@config-server/app.json` },
        ),
      'https://deploy:[redacted]@config-server/app.json: ',
    );
  });

  it('a source that is no URL, or a URL without credentials, is shown as given', () => {
    for (const source of ['/etc/hyperion/app.yaml', 'app@v2.yaml', 'https://config-server/app.yaml?v=2']) {
      assert.throws(
        () => loadConfigFromText('tracing: { sample_rate: 2 }', { source, env: {} }),
        (err: unknown) =>
          err instanceof ConfigError && err.message.startsWith(`${source}: 1 invalid field(s)`),
      );
    }
  });
});
