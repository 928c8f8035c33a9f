/**
 * The `/metrics` endpoint with a bearer token + TLS, and with basic auth, scraped by a real
 * Prometheus configured with the same credentials (`authorization` / `basic_auth` + `tls_config`
 * with the throwaway CA); a scrape job with a wrong token is refused. The default stays
 * 127.0.0.1 without auth.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError, MetricsError } from '../../lib/core/errors.js';
import { createMetrics, type PrometheusMetrics } from '../../lib/metrics/prometheus/index.js';
import { type PrometheusServer, skipPrometheus, startPrometheus } from '../harness/prometheus.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const TOKEN = 'metrics-bearer-token-value';
const BASIC_USER = 'scraper';
const BASIC_PASSWORD = 'metrics-basic-password';

/** GET over https trusting `ca`; resolves status and body. */
function httpsGet(url: string, ca: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    get(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('/metrics with auth and TLS, scraped by a real Prometheus', {
  skip: skipPrometheus() || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let bearer: PrometheusMetrics;
  let basic: PrometheusMetrics;
  let plain: PrometheusMetrics;
  let prom: PrometheusServer;
  let bearerUrl: string;
  let basicUrl: string;

  before(async () => {
    pki = await createTestPki();
    bearer = createMetrics({
      port: 0,
      namespace: 'sec',
      auth: { bearerToken: TOKEN },
      tls: { cert: pki.server.certPem, key: pki.server.keyPem },
    });
    basic = createMetrics({
      port: 0,
      namespace: 'sec',
      auth: { username: BASIC_USER, password: BASIC_PASSWORD },
    });
    plain = createMetrics({ port: 0, namespace: 'sec' });
    for (const m of [bearer, basic, plain])
      m.counter({ name: 'scraped', help: 'A counter to scrape' }).inc(3);
    bearerUrl = (await bearer.listen())!.url;
    basicUrl = (await basic.listen())!.url;
    const target = (u: string) => new URL(u).host;
    const files = {
      token: join(pki.dir, 'token'),
      wrong: join(pki.dir, 'wrong-token'),
      pass: join(pki.dir, 'pass'),
    };
    await writeFile(files.token, TOKEN);
    await writeFile(files.wrong, 'not-the-token');
    await writeFile(files.pass, BASIC_PASSWORD);
    const job = (name: string, url: string, auth: string[], tls: boolean) =>
      [
        `  - job_name: ${name}`,
        `    scheme: ${tls ? 'https' : 'http'}`,
        ...auth,
        ...(tls ? ['    tls_config:', `      ca_file: ${JSON.stringify(pki.ca.cert)}`] : []),
        '    static_configs:',
        `      - targets: [${JSON.stringify(target(url))}]`,
      ].join('\n');
    const configText = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      job(
        'bearer',
        bearerUrl,
        [
          '    authorization:',
          '      type: Bearer',
          `      credentials_file: ${JSON.stringify(files.token)}`,
        ],
        true,
      ),
      job(
        'basic',
        basicUrl,
        [
          '    basic_auth:',
          `      username: ${BASIC_USER}`,
          `      password_file: ${JSON.stringify(files.pass)}`,
        ],
        false,
      ),
      job(
        'wrong',
        bearerUrl,
        [
          '    authorization:',
          '      type: Bearer',
          `      credentials_file: ${JSON.stringify(files.wrong)}`,
        ],
        true,
      ),
      '',
    ].join('\n');
    prom = await startPrometheus({ configText });
  });
  after(async () => {
    await prom?.stop();
    await Promise.allSettled([bearer, basic, plain].map((m) => m?.close()));
    await pki?.remove();
  });

  it('Prometheus scrapes over TLS with the bearer token and with basic auth; a wrong token is refused', async () => {
    await prom.waitForSeries('sec_scraped_total{job="bearer"}', (s) => s[0]?.value === 3);
    await prom.waitForSeries('sec_scraped_total{job="basic"}', (s) => s[0]?.value === 3);
    await prom.waitForSeries('up{job="wrong"}', (s) => s[0]?.value === 0);
    const targets = (await prom.api('/api/v1/targets')) as {
      activeTargets: { labels: { job: string }; health: string; lastError: string }[];
    };
    const wrong = targets.activeTargets.find((t) => t.labels.job === 'wrong');
    assert.match(wrong?.lastError ?? '', /401/);
    assert.ok(!JSON.stringify(targets).includes(TOKEN), 'the token is not in the targets API');
  });

  it('without credentials: 401 and no metrics; with them: the exposition', async () => {
    assert.match(bearerUrl, /^https:\/\/127\.0\.0\.1:/);
    const none = await httpsGet(bearerUrl, pki.ca.certPem);
    assert.equal(none.status, 401);
    assert.ok(!none.body.includes('sec_scraped'));
    const wrong = await httpsGet(bearerUrl, pki.ca.certPem, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const ok = await httpsGet(bearerUrl, pki.ca.certPem, { authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /sec_scraped_total 3/);
    const res = await fetch(basicUrl);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
    await res.arrayBuffer();
  });

  it('default: 127.0.0.1, plain HTTP, no auth', async () => {
    const addr = (await plain.listen())!;
    assert.equal(addr.host, '127.0.0.1');
    const res = await fetch(addr.url);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /sec_scraped_total 3/);
  });

  it('bad options are MetricsErrors that show no secret', () => {
    assert.throws(() => createMetrics({ auth: { bearerToken: 'has space' } }), MetricsError);
    assert.throws(
      () => createMetrics({ auth: { bearerToken: TOKEN, username: 'u', password: 'p' } as never }),
      (e: Error) => e instanceof MetricsError && !e.message.includes(TOKEN),
    );
    assert.throws(
      () =>
        createMetrics({
          tls: { cert: pki.clientEncrypted.certPem, key: pki.clientEncrypted.keyPem, passphrase: 'nope' },
        }),
      (e: Error) => e instanceof MetricsError && /cannot be loaded/.test(e.message),
    );
  });
});

describe('/metrics bearer token beyond ASCII', () => {
  it('is refused at creation, in code and in the config file (scrapers sending it as UTF-8 always got 401)', async () => {
    // Before: accepted, and a scraper that sends the header as UTF-8 bytes (Prometheus, curl)
    // was refused on every scrape, since the server reads header bytes as Latin-1.
    assert.throws(
      () => createMetrics({ auth: { bearerToken: 'jeton-à-secret' } }),
      (e: Error) =>
        e instanceof MetricsError && /printable ASCII/.test(e.message) && !e.message.includes('secret'),
    );
    assert.throws(
      () => loadConfigFromText('metrics:\n  auth: { bearer_token: "jeton-à-secret" }\n', { env: {} }),
      (e: Error) =>
        e instanceof ConfigError &&
        /metrics\.auth\..*printable ASCII/.test(e.message) &&
        !e.message.includes('secret'),
    );
    // Printable ASCII of every kind still works, end to end.
    const token = 'A-z0.9_~+/=!$%&*';
    const m = createMetrics({ port: 0, auth: { bearerToken: token } });
    try {
      const { url } = (await m.listen())!;
      assert.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    } finally {
      await m.close();
    }
  });
});

describe('/metrics credentials: the auth scheme is case-insensitive (RFC 9110 11.1)', () => {
  it('bearer/BEARER and basic/BASIC are accepted; the credentials themselves stay exact', async () => {
    const basicValue = Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64');
    const bearer = createMetrics({ port: 0, auth: { bearerToken: TOKEN } });
    const basic = createMetrics({ port: 0, auth: { username: BASIC_USER, password: BASIC_PASSWORD } });
    try {
      const status = async (m: PrometheusMetrics, authorization: string) => {
        const res = await fetch((await m.listen())!.url, { headers: { authorization } });
        await res.arrayBuffer();
        return res.status;
      };
      for (const scheme of ['Bearer', 'bearer', 'BEARER'])
        assert.equal(await status(bearer, `${scheme} ${TOKEN}`), 200, scheme);
      for (const scheme of ['Basic', 'basic', 'BASIC'])
        assert.equal(await status(basic, `${scheme} ${basicValue}`), 200, scheme);
      // Still refused: another scheme, a token in another case, no credentials, the wrong user.
      assert.equal(await status(bearer, `Basic ${TOKEN}`), 401);
      assert.equal(await status(bearer, `Bearer ${TOKEN.toUpperCase()}`), 401);
      assert.equal(await status(bearer, 'Bearer'), 401);
      assert.equal(
        await status(basic, `Basic ${Buffer.from(`x:${BASIC_PASSWORD}`).toString('base64')}`),
        401,
      );
      assert.equal(await status(basic, `Bearer ${basicValue}`), 401);
    } finally {
      await Promise.all([bearer.close(), basic.close()]);
    }
  });
});

describe('/metrics options: a misspelt auth or tls key', { skip: skipOpenssl() }, () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki?.remove());

  it('is refused naming the nearest key (tls: { clientCa } served HTTPS without asking for client certificates)', async () => {
    const tls = { cert: pki.server.certPem, key: pki.server.keyPem };
    const refused = (options: object, path: string, hint: RegExp) =>
      assert.throws(
        () => createMetrics({ port: 0, ...options }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.issues.some((i) => i.path === path && hint.test(i.message)) &&
          !e.message.includes(TOKEN),
      );
    // Before: taken without the key, so mutual TLS was silently off (a scrape with no client
    // certificate got 200) and an extra auth field was ignored.
    refused({ tls: { ...tls, clientCa: pki.ca.certPem } }, 'tls.clientCa', /not a known option/);
    refused({ tls: { ...tls, caa: pki.ca.certPem } }, 'tls.caa', /did you mean `ca`/);
    refused({ auth: { bearerToken: TOKEN, pasword: TOKEN } }, 'auth.pasword', /did you mean `password`/);
    refused({ auth: { bearer_token: TOKEN } }, 'auth.bearer_token', /did you mean `bearerToken`/);
    // Spelt right, a scrape without a client certificate is refused in the handshake.
    const m = createMetrics({ port: 0, tls: { ...tls, ca: pki.ca.certPem } });
    try {
      const { url } = (await m.listen())!;
      await assert.rejects(httpsGet(url, pki.ca.certPem));
    } finally {
      await m.close();
    }
  });
});

// Node takes a ca holding no readable PEM certificate (a DER file) without a word and then trusts no
// client CA: the endpoint started, and every scraper's client certificate was refused.
describe('/metrics tls.ca holding no readable PEM certificate', { skip: skipOpenssl() }, () => {
  it('is MetricsError(invalid_option) at creation', async () => {
    const pki = await createTestPki();
    try {
      const tls = { cert: pki.server.certPem, key: pki.server.keyPem };
      const der = new X509Certificate(pki.ca.certPem).raw;
      const bad = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
      for (const [ca, what] of [
        [der, /tls\.ca holds no PEM certificate/],
        [bad, /tls\.ca holds a PEM certificate that cannot be read/],
      ] as const)
        assert.throws(
          () => createMetrics({ port: 0, tls: { ...tls, ca } }),
          (e: unknown) => e instanceof MetricsError && e.code === 'invalid_option' && what.test(e.message),
        );
      await createMetrics({ port: 0, tls: { ...tls, ca: pki.ca.certPem } }).close();
    } finally {
      await pki.remove();
    }
  });
});

describe('/metrics with mutual TLS: a scraper refused at the handshake', { skip: skipOpenssl() }, () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki?.remove());

  /** One connection that tries a GET, presenting `client` (if any); resolves once it is closed. */
  const scrape = (port: number, client?: { certPem: string; keyPem: string }) =>
    new Promise<string>((resolve) => {
      let got = '';
      const s = tlsConnect(
        { port, host: '127.0.0.1', ca: pki.ca.certPem, cert: client?.certPem, key: client?.keyPem },
        () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      s.on('data', (d: Buffer) => {
        got += d.toString();
      });
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      s.setTimeout(5000, () => s.destroy());
    });
  /** A plain TCP connection: `data` sent (a scraper speaking HTTP), or nothing (a TCP health check). */
  const plain = (port: number, data?: string) =>
    new Promise<void>((resolve) => {
      const s = netConnect(port, '127.0.0.1', () => (data ? s.write(data) : s.destroy()));
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.setTimeout(5000, () => s.destroy());
    });

  it('is logged with the reason, once a minute per reason, never with a secret (Prometheus only says "EOF")', async () => {
    const warnings: { message: string; fields?: object }[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (message: string, fields?: object) => void warnings.push({ message, fields }),
    };
    const m = createMetrics({
      port: 0,
      logger,
      auth: { bearerToken: TOKEN },
      tls: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.ca.certPem },
    });
    try {
      const port = (await m.listen())!.port;
      await scrape(port, pki.expiredClient);
      await scrape(port, pki.expiredClient);
      await scrape(port, pki.otherCa);
      await plain(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      await plain(port);
      // The scraper with the right certificate passes the handshake, and is not logged (no token: 401).
      assert.match(await scrape(port, pki.client), /^HTTP\/1\.1 401 /);
    } finally {
      await m.close();
    }
    const reasons = warnings.map((w) => (w.fields as { reason?: string } | undefined)?.reason);
    assert.deepEqual(
      reasons.filter((r) => r === 'CERT_HAS_EXPIRED'),
      ['CERT_HAS_EXPIRED'],
      JSON.stringify(warnings),
    );
    assert.equal(reasons.length, 3, JSON.stringify(warnings));
    assert.ok(reasons.includes('DEPTH_ZERO_SELF_SIGNED_CERT'), JSON.stringify(warnings));
    assert.ok(
      reasons.some((r) => /^ERR_SSL_/.test(r ?? '')),
      JSON.stringify(warnings),
    );
    assert.match(warnings[0]!.message, /client certificate was refused \(CERT_HAS_EXPIRED\)/);
    // Each record names the scraper's address (the refused ones too: their socket is gone by then).
    for (const w of warnings) {
      assert.equal((w.fields as { remoteAddress?: string }).remoteAddress, '127.0.0.1', JSON.stringify(w));
    }
    assert.ok(!JSON.stringify(warnings).includes(TOKEN));
  });
});
