/**
 * The certificates and keys a config names are checked when the app is built, each named by its
 * field. Before, only a missing or unreadable file was an error: a CA file that holds no
 * certificate (the key, a DER file, a wrong path to some other file) was accepted — OpenSSL skips
 * what is not a certificate in a CA bundle — so the tracer was built and every export failed later,
 * and a certificate, key or passphrase the Redis or metrics factory refused was named `tls`, an
 * option the file does not have.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAppFromConfig, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => logger };

/** The ConfigError createAppFromConfig rejects with (an app that was built is closed, and fails). */
async function refused(config: unknown): Promise<ConfigError> {
  const err = await createAppFromConfig(parseConfig(config), { logger }).then(
    async (app) => {
      await app.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  return err;
}

describe('config: TLS material is checked when the app is built', { skip: skipOpenssl() }, () => {
  let pki: TestPki;
  let notPem: string;
  before(async () => {
    pki = await createTestPki({ passphrase: 'S3CRET-pki-pass' });
    notPem = join(pki.dir, 'not-a-cert.txt');
    await writeFile(notPem, 'hello\n');
  });
  after(() => pki?.remove());

  it('a CA file that holds no certificate, for the OTLP exporter and Redis', async () => {
    for (const ca of [notPem, pki.client.key]) {
      const tracing = await refused({
        tracing: { exporter: 'otlp', endpoint: 'https://127.0.0.1:4318', tls: { ca_file: ca } },
      });
      assert.deepEqual(
        tracing.issues.map((i) => [i.path, i.message]),
        [['tracing.tls.ca_file', 'holds no PEM certificate']],
      );
      const redis = await refused({
        cache: { type: 'redis', addresses: ['127.0.0.1:6379'], min_idle_conns: 0, tls: { ca_file: ca } },
      });
      assert.deepEqual(
        redis.issues.map((i) => i.path),
        ['cache.tls.ca_file'],
      );
    }
  });

  it('a wrong key passphrase, a key of another certificate, a bundle of several problems', async () => {
    const pass = await refused({
      metrics: {
        tls: {
          cert_file: pki.clientEncrypted.cert,
          key_file: pki.clientEncrypted.key,
          key_passphrase: 'wrong',
        },
      },
    });
    assert.deepEqual(
      pass.issues.map((i) => i.path),
      ['metrics.tls.key_file'],
    );
    assert.match(pass.message, /key_passphrase/);
    const mismatch = await refused({
      tracing: {
        exporter: 'otlp',
        endpoint: 'https://127.0.0.1:4318',
        tls: { cert_file: pki.server.cert, key_file: pki.client.key },
      },
    });
    assert.deepEqual(
      mismatch.issues.map((i) => [i.path, i.message.replace(/ \(.*/, '')]),
      [['tracing.tls.key_file', 'is not the key of the certificate in cert_file']],
    );
    const several = await refused({
      tracing: { exporter: 'otlp', endpoint: 'https://127.0.0.1:4318', tls: { ca_file: notPem } },
      metrics: { tls: { cert_file: notPem, key_file: pki.server.key, client_ca_file: notPem } },
    });
    assert.deepEqual(several.issues.map((i) => i.path).sort(), [
      'metrics.tls.cert_file',
      'metrics.tls.client_ca_file',
      'tracing.tls.ca_file',
    ]);
    for (const e of [pass, mismatch, several])
      assert.doesNotMatch(`${e.message}${JSON.stringify(e.issues)}`, /S3CRET|BEGIN/);
  });

  it('good material builds, an encrypted key with its passphrase too', async () => {
    const app = await createAppFromConfig(
      parseConfig({
        tracing: {
          exporter: 'otlp',
          endpoint: 'https://127.0.0.1:4318',
          tls: {
            ca_file: pki.ca.cert,
            cert_file: pki.clientEncrypted.cert,
            key_file: pki.clientEncrypted.key,
            key_passphrase: pki.passphrase,
          },
        },
        metrics: {
          tls: { cert_file: pki.server.cert, key_file: pki.server.key, client_ca_file: pki.ca.cert },
        },
        cache: {
          type: 'redis',
          addresses: ['127.0.0.1:6379'],
          min_idle_conns: 0,
          tls: { ca_file: pki.ca.cert },
        },
      }),
      { logger },
    );
    await app.close();
  });
});
