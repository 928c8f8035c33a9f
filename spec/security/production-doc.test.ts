/**
 * lib/PRODUCTION.md against the code: every Hyperion config block it shows (`cache:`, `tracing:`,
 * `metrics:`) passes the config schema, which rejects unknown fields, so no option it names is
 * misspelt or gone. (Its ACL lines are checked against `aclRules()` in spec/cache/redis/acl.test.ts.)
 * Then two of its examples run as written, with only the host names, ports and file paths swapped
 * for loopback ones and a throwaway CA, because what they showed did not do what the page said:
 * - the `/metrics` example built the adapter but never called `listen()`, so it served nothing;
 * - the OTLP config block held `headers: { authorization: "" }` as a placeholder for
 *   `HYPERION__TRACING__HEADERS__AUTHORIZATION`: without that variable it sent an empty
 *   `authorization` header, and as the file's value it won over the standard
 *   `OTEL_EXPORTER_OTLP_HEADERS`, so a token given there never reached the collector.
 * And the error it quotes for a command outside the ACL rules is the one a real server gets (it
 * quoted the message from before the node and the aclRules() hint were added to it).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { aclRules, createRedisCache } from '../../lib/cache/redis/index.js';
import { createAppFromConfig, loadConfigFromText } from '../../lib/config/index.js';
import { CacheError, withSpan } from '../../lib/core/index.js';
import { PRELUDES } from '../docs/examples.js';
import { describeWithServers, tempDir } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const doc = readFileSync(new URL('../../lib/PRODUCTION.md', import.meta.url), 'utf8');

it('every config block of lib/PRODUCTION.md is a valid config', () => {
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((text) => /^(cache|tracing|metrics):/m.test(text));
  assert.ok(blocks.length >= 3, `found ${blocks.length} config blocks`);
  for (const text of blocks) {
    assert.doesNotThrow(() => loadConfigFromText(text, { source: 'lib/PRODUCTION.md' }), text);
  }
});

/** The one fenced `lang` block of the page containing `marker`. */
function block(lang: string, marker: string): string {
  const found = [...doc.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))]
    .map((m) => m[1]!)
    .filter((text) => text.includes(marker));
  assert.equal(found.length, 1, `lib/PRODUCTION.md: ${found.length} ${lang} blocks with ${marker}`);
  return found[0]!;
}

/** `text` with each `[from, to]` replaced; each `from` must occur exactly once (else the page changed). */
function swap(text: string, pairs: [string, string][]): string {
  let out = text;
  for (const [from, to] of pairs) {
    assert.equal(out.split(from).length, 2, `expected ${from} once in:\n${text}`);
    out = out.replace(from, () => to);
  }
  return out;
}

/** What the /metrics example's module exports: the adapter, listening or not. */
interface Served {
  address?: { url: string } | undefined;
  close(): Promise<void>;
}

/** GET `url` over HTTPS trusting `ca`; resolves the status, the body and the request's headers. */
function httpsGet(url: string, ca: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = get(url, { ca, headers, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

describeWithServers('the examples of lib/PRODUCTION.md, run', skipOpenssl(), () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki?.remove());

  it('the /metrics example serves HTTPS that asks for the token', { timeout: 60_000 }, async () => {
    const code = block('ts', 'const metrics = createMetrics({');
    const prelude = PRELUDES.find(([page, marker]) => page === 'lib/PRODUCTION.md' && code.includes(marker));
    assert.ok(prelude, 'the prelude of the example (spec/docs/examples.ts)');
    const lib = (part: string) =>
      pathToFileURL(join(import.meta.dirname, '../../lib', part, 'index.ts')).href;
    const source = swap(`${prelude[2]}\n${code}\nexport { metrics };\n`, [
      ["'hyperion/metrics/prometheus'", JSON.stringify(lib('metrics/prometheus'))],
      // Loopback only in tests; auth and TLS stay as shown.
      ["host: '0.0.0.0'", "host: '127.0.0.1'"],
      ['port: 9464', 'port: 0'],
      ["readFileSync('server.pem')", `readFileSync(${JSON.stringify(pki.server.cert)})`],
      ["readFileSync('server.key')", `readFileSync(${JSON.stringify(pki.server.key)})`],
    ]);
    const dir = await tempDir('production-doc');
    const saved = process.env.METRICS_TOKEN;
    process.env.METRICS_TOKEN = 'doc-token';
    let metrics: Served | undefined;
    try {
      const file = join(dir.path, 'metrics-example.mts');
      writeFileSync(file, source);
      const mod = (await import(pathToFileURL(file).href)) as { metrics: Served };
      metrics = mod.metrics;
      const url = mod.metrics.address?.url;
      assert.ok(url, 'the example leaves no endpoint listening (metrics.address is undefined)');
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.equal((await httpsGet(url, pki.ca.certPem)).status, 401);
      const scraped = await httpsGet(url, pki.ca.certPem, { authorization: 'Bearer doc-token' });
      assert.equal(scraped.status, 200);
    } finally {
      if (saved === undefined) delete process.env.METRICS_TOKEN;
      else process.env.METRICS_TOKEN = saved;
      await metrics?.close();
      await dir.remove();
    }
  });

  it('the OTLP config block sends the authorization the variables give, and none without them', {
    timeout: 60_000,
  }, async () => {
    const yaml = block('yaml', 'https://collector.internal:4318/v1/traces');
    const seen: (string | undefined)[] = [];
    const collector: Server = createServer(
      { cert: pki.server.certPem, key: pki.server.keyPem },
      (req, res) => {
        seen.push(req.headers.authorization);
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/x-protobuf' });
          res.end();
        });
      },
    );
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const text = `service: { name: production-doc }\n${swap(yaml, [
      ['https://collector.internal:4318', `https://127.0.0.1:${port}`],
      ['/etc/hyperion/collector-ca.pem', pki.ca.cert],
    ])}`;
    const sent = async (env: Record<string, string>) => {
      // The OTEL_* variables are read from the process environment, the HYPERION__ ones from `env`.
      const saved = Object.keys(env).map((key) => [key, process.env[key]] as const);
      Object.assign(process.env, env);
      try {
        const app = await createAppFromConfig(loadConfigFromText(text, { source: 'lib/PRODUCTION.md', env }));
        await withSpan(app.ctx, 'doc', async () => {});
        await app.close();
      } finally {
        for (const [key, value] of saved) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
      assert.ok(seen.length > 0, `no export reached the collector (${JSON.stringify(env)})`);
      return seen.splice(0);
    };
    try {
      assert.deepEqual(await sent({ HYPERION__TRACING__HEADERS__AUTHORIZATION: 'Bearer from-hyperion' }), [
        'Bearer from-hyperion',
      ]);
      assert.deepEqual(await sent({ OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20from-otel' }), [
        'Bearer from-otel',
      ]);
      assert.deepEqual(await sent({}), [undefined]);
    } finally {
      collector.closeAllConnections();
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });
});

describeWithServers('the ACL refusal lib/PRODUCTION.md quotes', skipRedis(), () => {
  let redis: RedisStandalone;
  before(async () => {
    const rules = aclRules({ keyPrefix: 'app:', mode: 'standalone' });
    redis = await startRedis({ extraConfig: [`user hyperion-app on >doc-password ${rules.join(' ')}`] });
  });
  after(() => redis?.stop());

  it('is the error of a cache whose keyPrefix the user may not touch, word for word', {
    timeout: 60_000,
  }, async () => {
    const cache = createRedisCache({
      addresses: [`127.0.0.1:${redis.port}`],
      username: 'hyperion-app',
      password: 'doc-password',
      keyPrefix: 'other:',
    });
    try {
      const err = await cache.set('k', new Uint8Array([1])).then(
        () => assert.fail('the set outside the key patterns was accepted'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof CacheError && err.code === 'backend', String(err));
      const quoted = `CacheError('backend'): ${err.message.replace(`(127.0.0.1:${redis.port})`, '(<node>)')}`;
      assert.ok(doc.replace(/\s+/g, ' ').includes(quoted), `lib/PRODUCTION.md does not quote: ${quoted}`);
    } finally {
      await cache.close();
    }
  });
});
