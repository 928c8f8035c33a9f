/**
 * A Redis `tls:` mapping takes each piece of PEM inline (`ca`, `cert`, `key`) or from a file
 * (`ca_file`, `cert_file`, `key_file`). Given both for one piece, the file was read and checked at
 * startup and then dropped: the mapping spread the inline value over the file's. A `ca_file`
 * naming the server's CA next to a stale inline `ca` (or a `HYPERION__CACHE__TLS__CA` override)
 * loaded, and every command failed "not signed by a trusted CA (check tls.ca …)" against a real
 * TLS Redis, the file never mentioned; a `HYPERION__CACHE__TLS__CA_FILE` override was ignored
 * under a file's inline `ca`. Both for one piece is now a ConfigError naming both fields (and the
 * variable that set either).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAppFromConfig, loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const logger = { debug() {}, info() {}, warn() {}, error() {} };

function issuesOf(yaml: string, env: Record<string, string> = {}): { path: string; message: string }[] {
  try {
    loadConfigFromText(yaml, { env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => ({ path: i.path, message: i.message }));
  }
  return [];
}

describe('config: a Redis tls piece given inline and as a file', {
  skip: skipRedis() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let redis: RedisStandalone;
  before(async () => {
    pki = await createTestPki();
    redis = await startRedis({
      tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, authClients: 'no' },
    });
  });
  after(async () => {
    await redis?.stop();
    await pki?.remove();
  });

  const section = (tls: string) => `
cache:
  type: redis
  addresses: [127.0.0.1:${redis.port}]
  command_timeout: 2s
  tls:
${tls}
`;

  it('ca_file alone is the CA the connection trusts (a real TLS Redis answers)', async () => {
    const app = await createAppFromConfig(
      loadConfigFromText(section(`    ca_file: ${JSON.stringify(pki.ca.cert)}`), { env: {} }),
      { logger },
    );
    try {
      assert.equal(await app.cache.set('k', new Uint8Array([1])), true);
    } finally {
      await app.close();
    }
  });

  it('ca_file with an inline ca is refused, naming both (it was loaded and ca_file ignored)', () => {
    const yaml = section(
      `    ca_file: ${JSON.stringify(pki.ca.cert)}\n    ca: ${JSON.stringify(pki.otherCa.certPem)}`,
    );
    const issues = issuesOf(yaml);
    assert.deepEqual(issues.map((i) => i.path).sort(), ['cache.tls.ca', 'cache.tls.ca_file']);
    for (const i of issues) {
      assert.match(i.message, /is given with ca(_file)?: give one of the two/);
      assert.ok(!i.message.includes('BEGIN'), 'the PEM is never shown');
    }
  });

  it('an override of either piece names its variable; cert/key pairs and a tiered L2 and sentinels too', () => {
    const fromEnv = issuesOf(section(`    ca_file: ${JSON.stringify(pki.ca.cert)}`), {
      HYPERION__CACHE__TLS__CA: pki.otherCa.certPem,
    });
    assert.match(fromEnv.find((i) => i.path === 'cache.tls.ca')?.message ?? '', /HYPERION__CACHE__TLS__CA\)/);
    // A file override under the file's inline ca was read, checked and ignored.
    const fileFromEnv = issuesOf(section(`    ca: ${JSON.stringify(pki.otherCa.certPem)}`), {
      HYPERION__CACHE__TLS__CA_FILE: pki.ca.cert,
    });
    assert.match(
      fileFromEnv.find((i) => i.path === 'cache.tls.ca_file')?.message ?? '',
      /HYPERION__CACHE__TLS__CA_FILE\)/,
    );

    const pair = issuesOf(
      section(
        [
          `    cert_file: ${JSON.stringify(pki.client.cert)}`,
          `    key_file: ${JSON.stringify(pki.client.key)}`,
          `    cert: ${JSON.stringify(pki.client.certPem)}`,
          `    key: ${JSON.stringify(pki.client.keyPem)}`,
        ].join('\n'),
      ),
    );
    assert.deepEqual(pair.map((i) => i.path).sort(), [
      'cache.tls.cert',
      'cache.tls.cert_file',
      'cache.tls.key',
      'cache.tls.key_file',
    ]);
    for (const i of pair) assert.ok(!i.message.includes('BEGIN'), 'the PEM is never shown');

    const tiered = issuesOf(`
cache:
  type: tiered
  l1: { type: memory, max_cost: 1000 }
  l2:
    type: redis
    mode: sentinel
    sentinel:
      master_name: m
      tls: { ca_file: ${JSON.stringify(pki.ca.cert)}, ca: ${JSON.stringify(pki.ca.certPem)} }
    tls: { ca_file: ${JSON.stringify(pki.ca.cert)}, ca: ${JSON.stringify(pki.ca.certPem)} }
`);
    assert.deepEqual(tiered.map((i) => i.path).sort(), [
      'cache.l2.sentinel.tls.ca',
      'cache.l2.sentinel.tls.ca_file',
      'cache.l2.tls.ca',
      'cache.l2.tls.ca_file',
    ]);
  });
});
