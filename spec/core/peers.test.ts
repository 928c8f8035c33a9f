/** Missing optional peers: one clear error naming the package and the subpath/feature needing it. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { MissingPeerError, requirePeer } from '../../lib/core/peers.js';

const require = createRequire(import.meta.url);

describe('requirePeer', () => {
  it('a package that is not installed → MissingPeerError naming it, the subpath and the feature', () => {
    assert.throws(
      () =>
        requirePeer(
          require,
          '@opentelemetry/not-installed-peer',
          'hyperion/tracing/otel',
          'activeContext: true',
        ),
      (err: unknown) => {
        assert.ok(err instanceof MissingPeerError);
        assert.equal(err.code, 'peer_missing');
        assert.equal(err.packageName, '@opentelemetry/not-installed-peer');
        assert.equal(err.subpath, 'hyperion/tracing/otel');
        assert.match(
          err.message,
          /hyperion\/tracing\/otel \(activeContext: true\) needs the optional peer dependency @opentelemetry\/not-installed-peer/,
        );
        assert.match(err.message, /npm install @opentelemetry\/not-installed-peer/);
        assert.equal((err.cause as { code?: string }).code, 'MODULE_NOT_FOUND');
        return true;
      },
    );
  });
  it('an installed package loads; a broken dependency inside it is not reported as the peer missing', () => {
    assert.equal(typeof requirePeer<typeof import('pino')>(require, 'pino', 'x'), 'function');
    const inner = Object.assign(new Error("Cannot find module 'left-pad'"), { code: 'MODULE_NOT_FOUND' });
    assert.throws(
      () =>
        requirePeer(
          () => {
            throw inner;
          },
          '@opentelemetry/propagator-b3',
          'hyperion/tracing/otel',
        ),
      (err) => err === inner,
    );
  });
});
