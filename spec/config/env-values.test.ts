/**
 * Environment override values are read as YAML so numbers, booleans and lists keep their types,
 * but YAML syntax that drops part of the text — a comment, an anchor, a directive, a document
 * marker — must not silently change a value (passwords are best set this way): such a value is
 * taken as the plain text it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

function passwordFrom(value: string): unknown {
  const c = loadConfigFromText('cache: {type: redis}\n', { env: { HYPERION__CACHE__PASSWORD: value } });
  return (c.cache as { password?: unknown }).password;
}

describe('config: environment values YAML would cut short are taken as written', () => {
  for (const value of ['hunter2 #x', 'p #', '&a x', '"q" #c', '--- x', 'x\n...', '%YAML 1.2\n--- x'])
    it(`${JSON.stringify(value)} stays ${JSON.stringify(value)}`, () => {
      assert.equal(passwordFrom(value), value);
    });

  it('values YAML reads in full keep their YAML meaning', () => {
    assert.equal(passwordFrom('abc#def'), 'abc#def');
    assert.equal(passwordFrom('"quoted # not a comment"'), 'quoted # not a comment');
    assert.equal(passwordFrom("'it''s'"), "it's");
    assert.equal(passwordFrom('a&b*c'), 'a&b*c');
    const c = loadConfigFromText('service: {name: a}\n', {
      env: {
        HYPERION__TRACING__SAMPLE_RATE: '0.25',
        HYPERION__CACHE__TYPE: 'redis',
        HYPERION__CACHE__MODE: 'cluster',
        HYPERION__CACHE__ADDRESSES: '[a:1, b:2]',
      },
    });
    assert.equal(c.tracing?.sample_rate, 0.25);
    assert.deepEqual((c.cache as { addresses?: unknown }).addresses, ['a:1', 'b:2']);
  });

  it('a commented list is text, so the field reports the wrong type instead of losing the comment silently', () => {
    assert.throws(
      () =>
        loadConfigFromText('cache: {type: redis}\n', {
          env: { HYPERION__CACHE__ADDRESSES: '[a:1] # primary' },
        }),
      /cache\.addresses: has the wrong type \(set by environment variable HYPERION__CACHE__ADDRESSES\)/,
    );
  });
});

describe('config: a text field set from the environment gets the text, not a YAML number or boolean', () => {
  for (const value of ['123456', '007', '1e3', '0x1F', '-0', 'true', 'false', '.inf', '.nan', '1.50'])
    it(`HYPERION__CACHE__PASSWORD=${value} is the password ${JSON.stringify(value)}`, () => {
      assert.equal(passwordFrom(value), value);
    });

  it('other text fields too (user name, service name, metrics host, a header and a label value)', () => {
    const c = loadConfigFromText('cache: {type: redis}\n', {
      env: {
        HYPERION__CACHE__USERNAME: '1000',
        HYPERION__SERVICE__NAME: '42',
        HYPERION__METRICS__HOST: '127',
        HYPERION__TRACING__HEADERS__AUTHORIZATION: '12345',
        HYPERION__METRICS__DEFAULT_LABELS__VERSION: '1.10',
      },
    });
    assert.equal((c.cache as { username?: unknown }).username, '1000');
    assert.equal(c.service?.name, '42');
    assert.equal(c.metrics?.host, '127');
    assert.deepEqual(c.tracing?.headers, { authorization: '12345' });
    assert.deepEqual(c.metrics?.default_labels, { version: '1.10' });
  });

  it('numeric, boolean and duration fields keep the YAML value; a quoted value is still unquoted', () => {
    const c = loadConfigFromText('cache: {type: redis}\n', {
      env: {
        HYPERION__CACHE__DB: '3',
        HYPERION__CACHE__DIAL_TIMEOUT: '5000',
        HYPERION__CACHE__PASSWORD: '"123"',
        HYPERION__TRACING__SAMPLE_RATE: '0.25',
        HYPERION__METRICS__COLLECT_RUNTIME: 'true',
        HYPERION__METRICS__DEFAULT_LABELS__N: '7',
      },
    });
    const cache = c.cache as { db?: unknown; dial_timeout?: unknown; password?: unknown };
    assert.equal(cache.db, 3);
    assert.equal(cache.dial_timeout, 5000);
    assert.equal(cache.password, '123');
    assert.equal(c.tracing?.sample_rate, 0.25);
    assert.equal(c.metrics?.collect_runtime, true);
    assert.deepEqual(c.metrics?.default_labels, { n: '7' });
    assert.throws(
      () => loadConfigFromText('cache: {type: redis}\n', { env: { HYPERION__CACHE__DB: 'three' } }),
      /cache\.db: has the wrong type \(set by environment variable HYPERION__CACHE__DB\)/,
    );
  });

  it('a numeric secret is never echoed when the config fails for another field', () => {
    let caught: unknown;
    try {
      loadConfigFromText('cache: {type: redis, db: 99}\n', {
        env: { HYPERION__CACHE__PASSWORD: '987654321', HYPERION__METRICS__AUTH__PASSWORD: '24681357' },
      });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError);
    const shown = `${caught.message}\n${JSON.stringify(caught.issues)}\n${String(caught.stack)}`;
    assert.match(shown, /cache\.db/);
    assert.match(shown, /metrics\.auth/);
    assert.doesNotMatch(shown, /987654321|24681357/);
  });
});

describe('config: a label value written as a number in the file keeps the text as written', () => {
  // YAML reads `1.10` as the number 1.1, and the label took String(1.1): `version: 1.10` was
  // exported as version="1.1", `2.0` as "2", `007` as "7", without a word. A field that turns
  // numbers into text now gets the file's text, as an environment value does.
  it('default_labels: 1.10, 2.0, 007, 0x1F, 1e3 stay as written; other fields keep the YAML number', () => {
    const c = loadConfigFromText(
      [
        'metrics:',
        '  default_labels: { version: 1.10, major: 2.0, build: 007, hex: 0x1F, e: 1e3, n: 5, q: "3.10" }',
        'tracing: { sample_rate: 0.50, attributes: { weight: 2.0 } }',
        'cache: { type: memory, max_cost: 1024.0, default_ttl: 1.50 }',
        '',
      ].join('\n'),
      { env: {} },
    );
    assert.deepEqual(c.metrics?.default_labels, {
      version: '1.10',
      major: '2.0',
      build: '007',
      hex: '0x1F',
      e: '1e3',
      n: '5',
      q: '3.10',
    });
    // A number-only field, an attribute (a number is a number there), a byte count and a duration.
    assert.equal(c.tracing?.sample_rate, 0.5);
    assert.deepEqual(c.tracing?.attributes, { weight: 2 });
    assert.deepEqual(c.cache, { type: 'memory', max_cost: 1024, default_ttl: 1.5 });
    // A text-only field still refuses a number, however it is written.
    assert.throws(
      () => loadConfigFromText('cache: { type: redis, password: 007 }\n', { env: {} }),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === 'cache.password'),
    );
  });
});

describe('config: the summary counts every field set by the environment', () => {
  // Found from outside: 150 unknown HYPERION__TRACING__X… variables (and 50 bad fields in the
  // file) were summed up as "200 invalid field(s) (100 from environment variables)": only the
  // first 100 listed issues were counted.
  it('also beyond the first 100 issues listed', () => {
    const env = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`HYPERION__TRACING__X${i}`, 'v']));
    const file = `metrics:\n${Array.from({ length: 50 }, (_, i) => `  y${i}: 1`).join('\n')}\n`;
    try {
      loadConfigFromText(file, { env });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(
        err.message,
        /200 invalid field\(s\) \(150 from environment variables\), the first 100 listed/,
      );
      assert.equal(err.issues.length, 100);
    }
  });
});
