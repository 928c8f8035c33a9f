/**
 * An empty `ca` never means "the system CAs" (found from outside, /tmp probe with
 * NODE_EXTRA_CA_CERTS): Node reads `ca: ''` as no `ca` at all and trusts its default store, so
 * `tls: { ca: process.env.REDIS_CA ?? '' }`, the text of an empty CA file, or an inline `ca: ""`
 * mapped by redisOptionsFromConfig connected to any server whose certificate a public CA signed —
 * instead of only to the servers of the private CA meant. The Redis cache (data nodes and
 * sentinels) and the OTLP exporter refuse an empty or blank `ca` at creation with a ConfigError.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { loadConfigFromText, redisOptionsFromConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { resolveOptions } from '../../lib/tracing/otel/options.js';

const EMPTY: readonly [string, unknown][] = [
  ["''", ''],
  ['blank text', ' \n'],
  ['an empty Buffer', Buffer.alloc(0)],
  ['a list of empty texts', ['', '']],
];

function refused(make: () => { close(): Promise<void> }, path: string): void {
  let made: { close(): Promise<void> } | undefined;
  assert.throws(
    () => {
      made = make();
    },
    (err) =>
      err instanceof ConfigError &&
      err.issues.some((i) => i.path === path && /empty/.test(i.message) && /system CAs/.test(i.message)),
  );
  // The old code built it (and would have trusted the system CAs): do not leave it open.
  made?.close().catch(() => {});
}

describe('an empty ca is refused, not read as the system CAs', () => {
  for (const [name, ca] of EMPTY) {
    it(`redis tls.ca = ${name}`, () => {
      refused(
        () => createRedisCache({ addresses: ['127.0.0.1:1'], minIdleConns: 0, tls: { ca: ca as string } }),
        'tls.ca',
      );
    });
    it(`redis sentinel.tls.ca = ${name}`, () => {
      refused(
        () =>
          createRedisCache({
            mode: 'sentinel',
            addresses: ['127.0.0.1:1'],
            minIdleConns: 0,
            sentinel: { masterName: 'm', tls: { ca: ca as string } },
          }),
        'sentinel.tls.ca',
      );
    });
    it(`OTLP tls.ca = ${name}`, () => {
      refused(
        () =>
          createOtelTracer({
            serviceName: 'empty-ca',
            exporter: 'otlp',
            endpoint: 'https://127.0.0.1:1/v1/traces',
            tls: { ca: ca as string },
          }),
        'tls.ca',
      );
    });
  }

  it('an inline ca: "" in the cache section, mapped by redisOptionsFromConfig', () => {
    const config = loadConfigFromText('cache:\n  type: redis\n  tls:\n    ca: ""\n', { env: {} });
    const options = redisOptionsFromConfig(config.cache as Parameters<typeof redisOptionsFromConfig>[0]);
    refused(() => createRedisCache({ ...options, minIdleConns: 0 }), 'tls.ca');
  });

  it('an empty file named by OTEL_EXPORTER_OTLP_CERTIFICATE is refused under the variable', () => {
    const file = join(tmpdir(), `hyperion-empty-ca-${process.pid}.pem`);
    writeFileSync(file, '');
    try {
      assert.throws(
        () => resolveOptions({}, { OTEL_EXPORTER_OTLP_CERTIFICATE: file }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.some((i) => i.path === 'OTEL_EXPORTER_OTLP_CERTIFICATE' && /is empty/.test(i.message)),
      );
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('PEM text pasted into OTEL_EXPORTER_OTLP_CLIENT_KEY is refused without being echoed', () => {
    // The value was quoted in the ConfigError ("cannot read \"-----BEGIN PRIVATE KEY-----…\""), key included.
    const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7S3CR3T';
    for (const value of [
      `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`,
      secret.repeat(8),
    ]) {
      assert.throws(
        () => resolveOptions({}, { OTEL_EXPORTER_OTLP_CLIENT_KEY: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.some(
            (i) => i.path === 'OTEL_EXPORTER_OTLP_CLIENT_KEY' && /not a file path/.test(i.message),
          ) &&
          !JSON.stringify(err.issues).includes(secret.slice(0, 16)) &&
          !err.message.includes(secret.slice(0, 16)),
      );
    }
  });
});
