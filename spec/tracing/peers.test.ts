/** A missing optional peer: one TracingError naming the package to install and the subpath/feature needing it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TracingError } from '../../lib/core/errors.js';
import { OTEL_INSTALL } from '../../lib/tracing/otel/names.js';
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
  it("the install advice for a missing api/core/resources pins one line's versions, each within the package's peer range", async () => {
    const { peerDependencies } = (await import('../../package.json', { with: { type: 'json' } })).default as {
      peerDependencies: Record<string, string>;
    };
    const pins = [...OTEL_INSTALL.matchAll(/(@opentelemetry\/[a-z-]+)@(~[\d.]+)/g)].map(
      (m) => [m[1]!, m[2]!] as const,
    );
    // Both lines, each with its API and SDK: the bare names installed the newest of each.
    assert.deepEqual(
      pins.map(([name]) => name),
      [
        '@opentelemetry/api',
        '@opentelemetry/sdk-trace-base',
        '@opentelemetry/core',
        '@opentelemetry/resources',
        '@opentelemetry/api',
        '@opentelemetry/sdk-trace',
      ],
    );
    for (const [name, range] of pins) {
      const accepted = peerDependencies[name]?.split('||').map((r) => r.trim()) ?? [];
      assert.ok(
        accepted.includes(range),
        `${name}@${range} is outside the peer range ${peerDependencies[name]}`,
      );
    }
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
