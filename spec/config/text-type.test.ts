import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

// loadConfig checks its path's type; loadConfigFromText did not check its text, and failed
// with a raw TypeError from inside the parser for `undefined` (an unset environment variable),
// a Buffer read without an encoding ("source is not a string"), a number or a list.
describe('loadConfigFromText with text that is not a string', () => {
  for (const [what, text, shown] of [
    ['undefined', undefined, /received nothing/],
    ['null', null, /received null/],
    ['a Buffer', Buffer.from('cache:\n  type: memory\n'), /received a Buffer/],
    ['a number', 5, /received a number/],
    ['a list', ['cache: {}'], /received a list/],
  ] as const) {
    it(`${what}: a ConfigError naming the source and the type`, () => {
      for (const format of ['yaml', 'json'] as const) {
        assert.throws(
          () => loadConfigFromText(text as never, { format, source: 'inline' }),
          (e) =>
            e instanceof ConfigError &&
            /^inline: the config text must be a string/.test(e.message) &&
            shown.test(e.message),
        );
      }
    });
  }
  it('text still loads', () => {
    assert.deepEqual(loadConfigFromText('', { env: {} }), {});
  });
});
