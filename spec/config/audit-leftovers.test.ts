/**
 * Small config defects found by an outside-in audit (each test failed before its fix): a URL's
 * fragment (`#access_token=…`) printed whole with the config, the `${…}` hint of a header written
 * `Authorization:` named no variable, and `cache.db`'s wrong-type message gave a range the field
 * does not accept.
 */
/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: the placeholders are the file contents under test */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import { loadConfigFromText, parseConfig, redactConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

const TOKEN = 'S3CRET-fragment-token-1';

const printed = (value: unknown) =>
  [
    inspect(value, { depth: Number.POSITIVE_INFINITY }),
    format('%o %j', value, value),
    JSON.stringify(value),
  ].join('\n');

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  assert.fail('expected a ConfigError');
};

describe('config: a URL fragment prints redacted', () => {
  it('hides `#access_token=…` (and a route query `#/cb?token=…`) as it hides `?access_token=…`', () => {
    const config = parseConfig({
      tracing: {
        endpoint: `https://otel.internal:4318/v1/traces#access_token=${TOKEN}&state=ok`,
        attributes: { callback: `https://app.example/#/callback?id_token=${TOKEN}` },
      },
    });
    const text = printed(config);
    assert.ok(!text.includes(TOKEN), text);
    const shown = JSON.parse(JSON.stringify(config));
    assert.equal(
      shown.tracing.endpoint,
      'https://otel.internal:4318/v1/traces#access_token=[redacted]&state=ok',
    );
    assert.equal(shown.tracing.attributes.callback, 'https://app.example/#/callback?id_token=[redacted]');
    // The values stay readable as properties.
    assert.equal(config.tracing!.endpoint!.endsWith(TOKEN + '&state=ok'), true);
    // redactConfig applies the same rule; a fragment that is not `key=value` is kept.
    assert.deepEqual(
      redactConfig([`https://x/p?a=1#token=${TOKEN}`, 'https://x/docs#section', `https:x/cb#sig=${TOKEN}`]),
      ['https://x/p?a=1#token=[redacted]', 'https://x/docs#section', 'https://x/cb#sig=[redacted]'],
    );
  });
});

describe('config: the ${…} hint of a header in any case', () => {
  it('names HYPERION__TRACING__HEADERS__AUTHORIZATION for `Authorization:` as for `authorization:`', () => {
    for (const name of ['authorization', 'Authorization', 'AUTHORIZATION', 'X_Team'])
      assert.deepEqual(
        issuesOf(() => loadConfigFromText(`tracing:\n  headers:\n    ${name}: "Bearer \${TOKEN}"\n`)).map(
          (i) => [i.path, i.expected],
        ),
        [
          [
            `tracing.headers.${name}`,
            `the value itself, or the field set by the environment variable HYPERION__TRACING__HEADERS__${name.toUpperCase()}`,
          ],
        ],
      );
    // That variable is the one that sets the header written `Authorization:`.
    const config = loadConfigFromText('tracing:\n  headers:\n    Authorization: "Bearer old"\n', {
      env: { HYPERION__TRACING__HEADERS__AUTHORIZATION: 'Bearer new' },
    });
    assert.deepEqual({ ...config.tracing!.headers }, { authorization: 'Bearer new' });
    // A name no shell variable can hold keeps the generic hint; so does a mixed-case key elsewhere.
    assert.match(
      issuesOf(() => loadConfigFromText('tracing:\n  headers:\n    x-api-key: "${KEY}"\n'))[0]!.expected,
      /HYPERION__ \+ the path in upper case, joined by __$/,
    );
    assert.match(
      issuesOf(() => loadConfigFromText('service:\n  Name: "${APP}"\n'))[0]!.expected,
      /HYPERION__ \+ the path in upper case, joined by __$/,
    );
  });
});

describe('config: cache.db states the range it enforces', () => {
  it('a wrong db says 0 to 15 (or databases − 1), never 0 to 2,147,483,646', () => {
    const redis = (extra: Record<string, unknown>) => ({
      cache: { type: 'redis', addresses: ['127.0.0.1:6379'], ...extra },
    });
    for (const db of ['3', 1.5, -1, 2 ** 31]) {
      const [i, ...rest] = issuesOf(() => parseConfig(redis({ db })));
      assert.deepEqual(rest, []);
      assert.equal(i!.path, 'cache.db');
      assert.equal(i!.expected, 'a whole number from 0 to 15, or up to `databases` − 1 when that is set');
    }
    // What is enforced: below 16 by default, below `databases` when set.
    assert.equal(issuesOf(() => parseConfig(redis({ db: 16 })))[0]!.expected, 'a whole number from 0 to 15');
    assert.equal(parseConfig(redis({ db: 999, databases: 1000 })).cache!.type, 'redis');
    assert.equal(
      issuesOf(() => parseConfig(redis({ db: 1000, databases: 1000 })))[0]!.expected,
      'a whole number from 0 to 999',
    );
  });
});
