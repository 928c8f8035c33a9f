/** A missing optional peer: one TracingError naming the package to install and the subpath/feature needing it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TracingError } from '../../lib/core/errors.js';
import { loadPeer } from '../../lib/tracing/otel/sdk.js';

describe('optional peers of hyperion/tracing/otel', () => {
  it('a package that is not installed → otel_peer_missing naming it, the subpath, the feature and the install command', () => {
    assert.throws(
      () => loadPeer('@opentelemetry/not-installed-peer', 'activeContext: true'),
      (err: unknown) => {
        assert.ok(err instanceof TracingError);
        assert.equal(err.code, 'otel_peer_missing');
        assert.equal(
          err.message,
          'hyperion/tracing/otel (activeContext: true) needs the optional peer dependency ' +
            '@opentelemetry/not-installed-peer, which is not installed: npm install @opentelemetry/not-installed-peer',
        );
        return true;
      },
    );
  });
  it('an installed one loads', () => {
    assert.equal(
      typeof loadPeer<typeof import('@opentelemetry/context-async-hooks')>(
        '@opentelemetry/context-async-hooks',
        'activeContext: true',
      ).AsyncLocalStorageContextManager,
      'function',
    );
  });
});
