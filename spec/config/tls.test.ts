/**
 * TLS, ACL and auth fields of the config sections: file paths read once when the section is mapped
 * (a missing file is a ConfigError naming the field and the path), and checks on their shape.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  metricsOptionsFromConfig,
  parseConfig,
  redisOptionsFromConfig,
  tracingOptionsFromConfig,
} from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

describe('config: tls, ACL and auth fields', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hyperion-config-tls-'));
    await writeFile(join(dir, 'ca.pem'), 'CA PEM');
    await writeFile(join(dir, 'cert.pem'), 'CERT PEM');
    await writeFile(join(dir, 'key.pem'), 'KEY PEM');
    await writeFile(join(dir, 'token'), 'file-token\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('maps redis tls files, ACL user and sentinel credentials', () => {
    const cfg = parseConfig({
      cache: {
        type: 'redis',
        mode: 'sentinel',
        username: 'app',
        password: 'pw',
        tls: {
          ca_file: join(dir, 'ca.pem'),
          cert_file: join(dir, 'cert.pem'),
          key_file: join(dir, 'key.pem'),
          key_passphrase: 'pp',
        },
        sentinel: { master_name: 'm', username: 'sentinel-user', password: 'spw', tls: false },
      },
    });
    const o = redisOptionsFromConfig(cfg.cache as Parameters<typeof redisOptionsFromConfig>[0]);
    assert.equal(o.username, 'app');
    const tls = o.tls as { ca: Buffer; cert: Buffer; key: Buffer; passphrase: string };
    assert.equal(tls.ca.toString(), 'CA PEM');
    assert.equal(tls.cert.toString(), 'CERT PEM');
    assert.equal(tls.key.toString(), 'KEY PEM');
    assert.equal(tls.passphrase, 'pp');
    assert.deepEqual(o.sentinel, { masterName: 'm', username: 'sentinel-user', password: 'spw', tls: false });
  });

  it('a missing file is a ConfigError naming the field and the path', () => {
    const missing = join(dir, 'nope.pem');
    const cfg = parseConfig({ cache: { type: 'redis', tls: { ca_file: missing } } });
    assert.throws(
      () => redisOptionsFromConfig(cfg.cache as Parameters<typeof redisOptionsFromConfig>[0]),
      (e: ConfigError) =>
        e instanceof ConfigError &&
        e.message.includes('cache.tls.ca_file') &&
        e.message.includes(missing) &&
        /ENOENT/.test(e.message),
    );
    const m = parseConfig({ metrics: { auth: { bearer_token_file: missing } } });
    assert.throws(
      () => metricsOptionsFromConfig(m.metrics!),
      (e: ConfigError) => e instanceof ConfigError && e.message.includes('metrics.auth.bearer_token_file'),
    );
  });

  it('maps tracing tls and metrics auth/tls', () => {
    const cfg = parseConfig({
      tracing: {
        exporter: 'otlp',
        endpoint: 'https://collector:4318/v1/traces',
        tls: { ca_file: join(dir, 'ca.pem') },
      },
      metrics: {
        auth: { bearer_token_file: join(dir, 'token') },
        tls: {
          cert_file: join(dir, 'cert.pem'),
          key_file: join(dir, 'key.pem'),
          client_ca_file: join(dir, 'ca.pem'),
        },
      },
    });
    assert.equal(String(tracingOptionsFromConfig(cfg.tracing!).tls?.ca), 'CA PEM');
    const m = metricsOptionsFromConfig(cfg.metrics!);
    assert.deepEqual(m.auth, { bearerToken: 'file-token' });
    assert.equal(String(m.tls?.ca), 'CA PEM');
    const basic = metricsOptionsFromConfig(
      parseConfig({ metrics: { auth: { username: 'u', password: 'p' } } }).metrics!,
    );
    assert.deepEqual(basic.auth, { username: 'u', password: 'p' });
  });

  it('rejects half-configured mutual TLS and mixed auth, without echoing secrets', () => {
    assert.throws(
      () => parseConfig({ tracing: { tls: { cert_file: '/x' } } }),
      (e: ConfigError) => e.issues.some((i) => i.path.startsWith('tracing.tls')),
    );
    assert.throws(
      () =>
        parseConfig({
          metrics: { auth: { bearer_token: 'tok-secret-1', username: 'u', password: 'pw-secret-2' } },
        }),
      (e: ConfigError) => e.issues.some((i) => i.path === 'metrics.auth') && !/secret-/.test(e.message),
    );
  });
});
