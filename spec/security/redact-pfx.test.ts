/**
 * `redactConfig` of Redis options whose client key is a PKCS#12 bundle (`tls.pfx`, as Node's TLS
 * options take it, and as the Redis cache accepts it against a mutual-TLS server). A PEM `key`
 * printed `[redacted]`, but `pfx` is no secret-named field: the bundle, private key included,
 * printed whole (bytes in `util.inspect`, `{"type":"Buffer","data":[…]}` in JSON). Found from
 * outside.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createRedisCache } from '../../lib/cache/redis/index.js';
import { redactConfig } from '../../lib/config/index.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const PASSWORD = 'S3CRET-pfx-bundle-password-6c3d';

describe('redactConfig hides a PKCS#12 bundle (tls.pfx)', { skip: skipRedis() || skipOpenssl() }, () => {
  let pki: TestPki;
  let redis: RedisStandalone;
  let pfx: Buffer;
  before(async () => {
    pki = await createTestPki({ passphrase: 'unused-here' });
    const file = join(pki.dir, 'client.p12');
    execFileSync('openssl', [
      'pkcs12',
      '-export',
      '-in',
      pki.client.cert,
      '-inkey',
      pki.client.key,
      '-out',
      file,
      '-passout',
      `pass:${PASSWORD}`,
    ]);
    pfx = readFileSync(file);
    redis = await startRedis({
      tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, authClients: 'yes' },
    });
  });
  after(async () => {
    await redis?.stop();
    await pki?.remove();
  });

  for (const [name, bundle] of [
    ['as a Buffer', () => pfx],
    ['in a list with its own passphrase', () => [{ buf: pfx, passphrase: PASSWORD }]],
  ] as const)
    it(name, async () => {
      const options = {
        addresses: [`${redis.host}:${redis.port}`],
        tls: { ca: pki.ca.certPem, pfx: bundle(), passphrase: PASSWORD },
      };
      // The options work: the server asks for a client certificate, which the bundle gives.
      const cache = createRedisCache(options as Parameters<typeof createRedisCache>[0]);
      try {
        await cache.set('k', Buffer.from('v'));
        assert.equal(Buffer.from((await cache.get('k')) ?? '').toString(), 'v');
      } finally {
        await cache.close();
      }
      const shown = redactConfig(options);
      const text = `${inspect(shown, { depth: 10, maxArrayLength: null, maxStringLength: null })}\n${JSON.stringify(shown)}`;
      const tail = pfx.subarray(pfx.length - 24);
      for (const [what, found] of [
        ['the passphrase', text.includes(PASSWORD)],
        ['the bundle as base64', text.includes(pfx.toString('base64').slice(40, 80))],
        ['the bundle as bytes', text.includes(JSON.stringify([...tail]).slice(1, -1))],
        ['the bundle as hex', text.replace(/[^0-9a-f]/g, '').includes(tail.toString('hex'))],
      ] as const)
        assert.ok(!found, `${what} printed:\n${text}`);
      // The list form keeps its shape: `pfx: [ { buf: '[redacted]', passphrase: '[redacted]' } ]`.
      assert.match(text, /pfx: (\[ \{ buf: )?'\[redacted\]'/);
    });
});
