/**
 * Environment override values are read as YAML so numbers, booleans and lists keep their types,
 * but YAML syntax that drops part of the text — a comment, an anchor, a directive, a document
 * marker — must not silently change a value (passwords are best set this way): such a value is
 * taken as the plain text it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';

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
