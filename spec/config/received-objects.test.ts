/**
 * An object given in code (`parseConfig`, `createAppFromConfig`) where text belongs is named for
 * what it is. `endpoint: new URL(…)` was "expected an http(s) URL …, received a mapping", and a
 * password read with `readFileSync(path)` (a Buffer) "expected text, received a mapping": neither
 * is a mapping, and the message sent the reader looking for one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { ConfigError, type ConfigIssue } from '../../lib/core/errors.js';

const SECRET = 's3cret-bytes-77';

function issues(run: () => unknown): readonly ConfigIssue[] {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.ok(!`${e.message}${JSON.stringify(e.issues)}`.includes(SECRET));
    return e.issues;
  }
  assert.fail('expected a ConfigError');
}

const received = (list: readonly ConfigIssue[], path: string) => list.find((i) => i.path === path)?.received;

describe('config: objects given where text belongs', () => {
  it('are named by their kind, never "a mapping", and never shown', () => {
    const list = issues(() =>
      parseConfig({
        service: { name: new String('users') },
        tracing: { endpoint: new URL(`https://collector:4318/v1/traces?token=${SECRET}`) },
        cache: { type: 'redis', password: Buffer.from(SECRET), key_prefix: new Uint8Array([97]) },
      }),
    );
    assert.equal(received(list, 'tracing.endpoint'), 'a URL object (give its text, url.href)');
    assert.equal(received(list, 'cache.password'), 'a Buffer (bytes, not text)');
    assert.equal(received(list, 'cache.key_prefix'), 'bytes (not text)');
    assert.equal(received(list, 'service.name'), 'an object of class String');
  });

  it('plain mappings are still "a mapping"', () => {
    const list = issues(() => parseConfig({ service: { name: { first: 'users' } } }));
    assert.equal(received(list, 'service.name'), 'a mapping');
    const bare = issues(() => parseConfig({ service: { name: Object.create(null) } }));
    assert.equal(received(bare, 'service.name'), 'a mapping');
  });

  it('createAppFromConfig says the same', async () => {
    const err = await createAppFromConfig({
      tracing: { exporter: 'memory', endpoint: new URL('http://collector:4318') as never },
    }).then(
      () => assert.fail('built'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(received(err.issues, 'tracing.endpoint'), 'a URL object (give its text, url.href)');
  });
});
