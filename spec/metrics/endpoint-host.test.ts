/**
 * The spellings of the endpoint's `host` a user writes (`[::1]` copied from a URL, `127.1`,
 * `::ffff:127.0.0.1`, `localhost.`, a zone id…), through `createMetrics` and the config's
 * `metrics:` section alike: each binds with a right loopback judgement and printed URL, or is
 * refused when created/loaded — never a late ENOTFOUND or a wrong "beyond loopback" warning.
 * Only loopback is bound; the beyond-loopback judgement is checked on the function that makes it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { metricsOptionsFromConfig } from '../../lib/config/sections/metrics.js';
import { ConfigError, MetricsError } from '../../lib/core/errors.js';
import { readBindHost } from '../../lib/core/host.js';
import { createMetrics, type MetricsOptions } from '../../lib/metrics/prometheus/index.js';
import { createTestPki, skipOpenssl } from '../harness/tls.js';

/** Binds `host` on a free port; resolves the printed URL, the warnings and one scrape's status. */
async function bindOn(host: string) {
  const warnings: string[] = [];
  const m = createMetrics({ host, port: 0, logger: { warn: (w: string) => warnings.push(w) } });
  try {
    const a = await m.listen();
    assert.ok(a);
    const status = (await fetch(a.url)).status;
    return { host: a.host, url: a.url.replace(/:\d+\//, ':PORT/'), warnings, status };
  } finally {
    await m.close();
  }
}

describe('metrics endpoint host spellings', () => {
  const loopback: [string, string, string][] = [
    // given, bound host, printed URL
    ['[::1]', '::1', 'http://[::1]:PORT/metrics'],
    ['::1', '::1', 'http://[::1]:PORT/metrics'],
    ['0:0:0:0:0:0:0:1', '0:0:0:0:0:0:0:1', 'http://[::1]:PORT/metrics'],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1', 'http://[::ffff:7f00:1]:PORT/metrics'],
    ['127.0.0.2', '127.0.0.2', 'http://127.0.0.2:PORT/metrics'],
    ['127.1', '127.0.0.1', 'http://127.0.0.1:PORT/metrics'],
    ['0x7f.1', '127.0.0.1', 'http://127.0.0.1:PORT/metrics'],
    ['LOCALHOST', 'localhost', 'http://localhost:PORT/metrics'],
    ['localhost.', 'localhost', 'http://localhost:PORT/metrics'],
  ];
  for (const [given, host, url] of loopback)
    it(`${given} binds loopback, no warning, a URL that scrapes`, async () => {
      assert.deepEqual(await bindOn(given), { host, url, warnings: [], status: 200 });
    });

  it('judges loopback by the address, not by the text', () => {
    const judged = (h: string) => {
      const r = readBindHost(h);
      return typeof r === 'string' ? r : r.loopback;
    };
    for (const h of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '0x7f.1',
      'localhost',
      'Localhost.',
    ])
      assert.equal(judged(h), true, h);
    // 127.example.com is a name: it may resolve anywhere.
    for (const h of [
      '0.0.0.0',
      '::',
      '[::]',
      '10.0.0.5',
      '::ffff:10.0.0.1',
      '127.example.com',
      'metrics.internal',
    ])
      assert.equal(judged(h), false, h);
  });

  it('0.0.0.0 still gets the beyond-loopback warning', async () => {
    const warnings: string[] = [];
    const m = createMetrics({ host: '0.0.0.0', port: 0, logger: { warn: (w: string) => warnings.push(w) } });
    try {
      const a = await m.listen();
      assert.equal(a?.url.replace(/:\d+\//, ':PORT/'), 'http://0.0.0.0:PORT/metrics');
    } finally {
      await m.close();
    }
    assert.deepEqual(warnings, ['metrics endpoint listens beyond loopback without auth and TLS']);
  });

  it('the beyond-loopback warning names what is missing: TLS when auth is set (found from outside), auth when TLS is', {
    skip: skipOpenssl(),
  }, async () => {
    const pki = await createTestPki();
    try {
      const warned = async (extra: Partial<MetricsOptions>) => {
        const warnings: string[] = [];
        const m = createMetrics({
          host: '0.0.0.0',
          port: 0,
          logger: { warn: (w: string) => warnings.push(w) },
          ...extra,
        });
        try {
          await m.listen();
        } finally {
          await m.close();
        }
        return warnings;
      };
      assert.deepEqual(await warned({ auth: { bearerToken: 'metrics-token' } }), [
        'metrics endpoint listens beyond loopback without TLS: its credentials and metrics go unencrypted',
      ]);
      assert.deepEqual(await warned({ tls: { cert: pki.server.certPem, key: pki.server.keyPem } }), [
        'metrics endpoint listens beyond loopback without auth: anyone who reaches it can scrape it',
      ]);
      assert.deepEqual(
        await warned({
          auth: { bearerToken: 'metrics-token' },
          tls: { cert: pki.server.certPem, key: pki.server.keyPem },
        }),
        [],
      );
    } finally {
      await pki.remove();
    }
  });

  const refused: [string, RegExp][] = [
    ['fe80::1%lo', /zone id/],
    ['[fe80::1%lo]', /zone id/],
    ['[127.0.0.1]', /only an IPv6 address goes in brackets/],
    ['[localhost]', /only an IPv6 address goes in brackets/],
    ['999.1', /not a valid IPv4 address/],
    ['host/metrics', /not a host name/],
    ['user@host', /not a host name/],
  ];
  for (const [given, why] of refused)
    it(`${given} is refused at create and at load`, () => {
      assert.throws(
        () => createMetrics({ host: given }),
        (e: unknown) => e instanceof MetricsError && e.code === 'invalid_option' && why.test(e.message),
      );
      // The config gives the factory's reason too (it said only "is not in an accepted form"),
      // and, as every config message, never the value.
      assert.throws(
        () => loadConfigFromText(`metrics:\n  host: ${JSON.stringify(given)}\n`),
        (e: unknown) =>
          e instanceof ConfigError &&
          /metrics\.host/.test(e.message) &&
          why.test(e.message) &&
          !e.message.includes(given),
      );
    });

  it('a host from the config file binds as the same host given to createMetrics', async () => {
    for (const [given, host, url] of loopback) {
      const c = loadConfigFromText(`metrics:\n  host: ${JSON.stringify(given)}\n  port: 0\n`);
      const m = createMetrics({ ...metricsOptionsFromConfig(c.metrics ?? {}), logger: { warn() {} } });
      try {
        const a = await m.listen();
        assert.deepEqual([a?.host, a?.url.replace(/:\d+\//, ':PORT/')], [host, url], given);
      } finally {
        await m.close();
      }
    }
  });
});
