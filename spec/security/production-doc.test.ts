/**
 * lib/PRODUCTION.md against the code: every Hyperion config block it shows (`cache:`, `tracing:`,
 * `metrics:`) passes the config schema, which rejects unknown fields, so no option it names is
 * misspelt or gone. (Its ACL lines are checked against `aclRules()` in spec/cache/redis/acl.test.ts.)
 * Then its `/metrics` example runs as written, with only the host, port and file paths swapped for
 * loopback ones and a throwaway CA: it built the adapter but never called `listen()`, so it served
 * nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadConfigFromText } from '../../lib/config/index.js';
import { PRELUDES } from '../docs/examples.js';
import { describeWithServers, tempDir } from '../harness/process.js';
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
});
