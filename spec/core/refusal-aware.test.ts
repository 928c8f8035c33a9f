/**
 * `refusalAware(listener)` given something that is not a function (a misspelt method from
 * JavaScript, `refusalAware(router.handel)`) threw a raw TypeError, "Object.defineProperty called
 * on non-object", naming neither the call nor the argument — and an object was marked and
 * returned without a word. It is a ConfigError now, as `app.defer` and `withSpan` give for a
 * function argument that is not one. Found from outside.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ConfigError, refusalAware } from '../../lib/core/index.js';

it('refusalAware refuses a listener that is not a function with a ConfigError', () => {
  for (const listener of [undefined, null, {}, 'router']) {
    assert.throws(
      () => refusalAware(listener as never),
      (e: unknown) =>
        e instanceof ConfigError &&
        /^refusalAware: the listener is not a function/.test(e.message) &&
        e.issues[0]?.path === 'listener',
      String(listener),
    );
  }
  const listener = () => {};
  assert.equal(refusalAware(listener), listener);
});
