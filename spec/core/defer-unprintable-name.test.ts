import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, createApp } from '../../lib/core/index.js';

describe('app.defer with a bad name', () => {
  // The message of app.defer's ConfigError quoted `String(name)`, which throws for a Symbol and a
  // null-prototype object: a raw TypeError instead of the error naming the bad argument.
  it('app.defer with a name that cannot be turned into a string throws a ConfigError', async () => {
    const app = createApp();
    for (const name of [Symbol('db'), Object.create(null)]) {
      assert.throws(
        () => app.defer(name as never, () => {}),
        (e) => e instanceof ConfigError && e.issues.some((i) => i.path === 'name'),
      );
    }
    let closed = false;
    app.defer('ok', () => {
      closed = true;
    });
    await app.close();
    assert.equal(closed, true);
  });
});
