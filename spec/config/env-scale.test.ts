/**
 * An environment with many override variables is read in time linear in their number. Each
 * `HYPERION__TRACING__HEADERS__…` variable used to scan every key of the `headers` mapping for
 * one of the same name in another case: n header variables cost n²/2 comparisons (8,000 took
 * ~4 s, 16,000 ~15 s). Counted, not timed: the number of `toLowerCase` calls the load makes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';

/** Runs `fn` counting the calls of `String.prototype.toLowerCase` it makes. */
function countLowerCase(fn: () => void): number {
  const original = String.prototype.toLowerCase;
  let calls = 0;
  String.prototype.toLowerCase = function (this: string) {
    calls++;
    return original.call(this);
  };
  try {
    fn();
  } finally {
    String.prototype.toLowerCase = original;
  }
  return calls;
}

describe('config: many environment overrides', () => {
  it('header variables cost work linear in their number (the case check was a scan per variable)', () => {
    const n = 2000;
    const env: Record<string, string> = {};
    for (let i = 0; i < n; i++) env[`HYPERION__TRACING__HEADERS__X_H${i}`] = `v${i}`;
    let config: ReturnType<typeof loadConfigFromText> | undefined;
    const calls = countLowerCase(() => {
      config = loadConfigFromText('tracing:\n  exporter: none\n  headers: {X_H7: file, Other: kept}\n', {
        env,
      });
    });
    // Quadratic: n²/2 = 2,000,000 calls; linear work is a few per variable.
    assert.ok(calls < 50 * n, `${calls} toLowerCase calls for ${n} header variables`);
    const headers = config?.tracing?.headers ?? {};
    assert.equal(Object.keys(headers).length, n + 1);
    assert.equal(headers.x_h7, 'v7'); // the variable replaced the file's X_H7
    assert.equal(headers.X_H7, undefined);
    assert.equal(headers.Other, 'kept');
  });
});
