/**
 * No secret in any output. Distinct secrets are planted in every secret-bearing input — Redis
 * password, ACL password, sentinel password, TLS key passphrase, OTLP headers, a DATABASE_URL
 * password, a config file and HYPERION__ overrides — and the adapters, the config loader and the
 * demo run through connect failures, auth failures, TLS failures and normal traffic. Then every
 * log record, error (message, stack, own fields and the whole `cause` chain), span attribute and
 * event, /metrics output, and everything written to stdout/stderr is searched: zero hits.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aclRules } from '../../lib/cache/redis/acl.js';
import { createRedisCache, type RedisCache } from '../../lib/cache/redis/index.js';
import { createAppFromConfig, loadConfig } from '../../lib/config/index.js';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { createOtelTracer, type OtelTracer } from '../../lib/tracing/otel/index.js';
import { freePort, startAll, waitFor } from '../harness/process.js';
import { type RedisStandalone, skipRedis, startRedis } from '../harness/redis.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const SECRETS = {
  redisPassword: 'S3CRET-redis-password-7f1a',
  aclPassword: 'S3CRET-acl-password-2b9c',
  sentinelPassword: 'S3CRET-sentinel-password-5d0e',
  passphrase: 'S3CRET-key-passphrase-8e3f',
  otlpToken: 'S3CRET-otlp-bearer-token-1c6d',
  otlpApiKey: 'S3CRET-otlp-api-key-4a8b',
  databasePassword: 'S3CRET-database-password-9f2e',
  configToken: 'S3CRET-config-file-token-3e7a',
  envPassword: 'S3CRET-env-override-password-6b1d',
  envBadValue: 'S3CRET-env-bad-value-0c5f',
} as const;
const ALL = Object.entries(SECRETS);

/** Every string reachable from `value`, with its path: Error message/stack/cause and own fields, nested objects, Buffers. */
function texts(
  value: unknown,
  path = '$',
  out: [string, string][] = [],
  seen = new Set<unknown>(),
  depth = 0,
) {
  if (value === null || value === undefined || depth > 12) return out;
  if (typeof value === 'string') {
    out.push([path, value]);
    return out;
  }
  if (typeof value !== 'object') return out;
  if (seen.has(value)) return out;
  seen.add(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    out.push([path, Buffer.from(value).toString('latin1')]);
    return out;
  }
  if (value instanceof Error) {
    out.push([`${path}.message`, value.message], [`${path}.stack`, value.stack ?? '']);
    texts((value as { cause?: unknown }).cause, `${path}.cause`, out, seen, depth + 1);
  }
  for (const key of Object.getOwnPropertyNames(value)) {
    if (key === 'stack' || key === 'message' || key === 'cause') continue;
    let v: unknown;
    try {
      v = (value as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    out.push([`${path}.${key}`, key]);
    texts(v, `${path}.${key}`, out, seen, depth + 1);
  }
  return out;
}

/** The secrets found in `value`, with where and a short context each. */
function leaks(value: unknown): string[] {
  const found: string[] = [];
  for (const [where, t] of texts(value))
    for (const [name, secret] of ALL) {
      const at = t.indexOf(secret);
      if (at >= 0)
        found.push(`${name} at ${where}: …${t.slice(Math.max(0, at - 80), at + secret.length + 20)}…`);
    }
  return found;
}

function captureLogger() {
  const records: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (bound: LogFields = {}): Logger => ({
    debug: (message, fields) => records.push({ level: 'debug', message, fields: { ...bound, ...fields } }),
    info: (message, fields) => records.push({ level: 'info', message, fields: { ...bound, ...fields } }),
    warn: (message, fields) => records.push({ level: 'warn', message, fields: { ...bound, ...fields } }),
    error: (message, fields) => records.push({ level: 'error', message, fields: { ...bound, ...fields } }),
    child: (fields) => make({ ...bound, ...fields }),
  });
  return { logger: make(), records };
}

describe('no secret in any output', { skip: skipRedis() || skipOpenssl() }, () => {
  let pki: TestPki;
  let redis: RedisStandalone;
  let tlsRedis: RedisStandalone;
  const { logger, records } = captureLogger();
  /** Everything the runs produced: errors, span data, /metrics bodies, health reports. */
  const outputs: unknown[] = [];
  const console: string[] = [];
  const restore: (() => void)[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const catching = async (p: Promise<unknown>) => {
    try {
      outputs.push(await p);
    } catch (err) {
      outputs.push(err);
    }
  };
  /** Headers the fake collectors received (to prove the secrets were really sent). */
  const received: IncomingHttpHeaders[] = [];

  before(async () => {
    // Whatever reaches stdout/stderr during the run (iovalkey's console warnings, process warnings).
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        console.push(String(chunk));
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => {
        stream.write = write;
      });
    }
    const onWarning = (w: Error) => outputs.push(w);
    process.on('warning', onWarning);
    restore.push(() => process.off('warning', onWarning));

    pki = await createTestPki({ passphrase: SECRETS.passphrase });
    const rules = aclRules({ keyPrefix: 'app:', mode: 'standalone' });
    [redis, tlsRedis] = await startAll([
      startRedis({
        password: SECRETS.redisPassword,
        extraConfig: [`user app on >${SECRETS.aclPassword} ${rules.join(' ')}`],
      }),
      startRedis({
        password: SECRETS.redisPassword,
        tls: { ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, authClients: 'yes' },
      }),
    ]);
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    for (const r of restore) r();
    await Promise.allSettled([redis?.stop(), tlsRedis?.stop()]);
    await pki?.remove();
  });

  const cache = (o: Parameters<typeof createRedisCache>[0]) => {
    const c = createRedisCache({ logger, commandTimeout: 600, dialTimeout: 600, ...o });
    closers.push(() => c.close());
    return c;
  };
  async function traffic(c: RedisCache) {
    await catching(c.set('k', Buffer.from('v')));
    await catching(c.get('k'));
    await catching(c.getOrSet('g', async () => Buffer.from('loaded')));
    await catching(c.health());
    await catching(c.transaction(async (t) => void t.set('k', Buffer.from('w')), { watch: ['k'] }));
  }

  it('redis: normal traffic, connect, auth and TLS failures (all topologies’ credentials)', async () => {
    const closed = await freePort();
    const addr = `${redis.host}:${redis.port}`;
    // Normal traffic: default-user password, and the ACL user.
    await traffic(cache({ addresses: [addr], password: SECRETS.redisPassword }));
    await traffic(
      cache({ addresses: [addr], username: 'app', password: SECRETS.aclPassword, keyPrefix: 'app:' }),
    );
    // A command refused by the ACL.
    await traffic(
      cache({ addresses: [addr], username: 'app', password: SECRETS.aclPassword, keyPrefix: 'x:' }),
    );
    // Connect failures.
    await traffic(
      cache({ addresses: [`127.0.0.1:${closed}`], username: 'app', password: SECRETS.aclPassword }),
    );
    await traffic(
      cache({
        mode: 'sentinel',
        addresses: [`127.0.0.1:${closed}`],
        sentinel: { masterName: 'm', password: SECRETS.sentinelPassword, username: 'sentinel-user' },
        password: SECRETS.redisPassword,
      }),
    );
    // Auth failures: a wrong password is still a planted secret (the user's input).
    await traffic(cache({ addresses: [addr], password: SECRETS.aclPassword }));
    await traffic(cache({ addresses: [addr], username: 'app', password: SECRETS.redisPassword }));
    // Sentinel credentials refused (a Redis that does not take them stands in for the sentinel).
    await traffic(
      cache({
        mode: 'sentinel',
        addresses: [addr],
        sentinel: { masterName: 'm', password: SECRETS.sentinelPassword },
        password: SECRETS.redisPassword,
      }),
    );
    // TLS: mutual TLS with the encrypted key (works), wrong CA, plain port, wrong passphrase.
    const tlsAddr = `${tlsRedis.host}:${tlsRedis.port}`;
    const mtls = {
      ca: pki.ca.certPem,
      cert: pki.clientEncrypted.certPem,
      key: pki.clientEncrypted.keyPem,
      passphrase: SECRETS.passphrase,
    };
    const ok = cache({ addresses: [tlsAddr], password: SECRETS.redisPassword, tls: mtls });
    await traffic(ok);
    assert.equal(Buffer.from((await ok.get('k')) ?? '').toString(), 'w', 'mutual TLS traffic worked');
    await traffic(
      cache({
        addresses: [tlsAddr],
        password: SECRETS.redisPassword,
        tls: { ...mtls, ca: pki.otherCa.certPem },
      }),
    );
    await traffic(cache({ addresses: [addr], password: SECRETS.redisPassword, tls: mtls }));
    try {
      cache({
        addresses: [tlsAddr],
        tls: { ...mtls, key: pki.clientEncrypted.keyPem, passphrase: SECRETS.otlpApiKey },
      });
    } catch (err) {
      outputs.push(err);
    }
    // The failures above really happened (this test searches what they produced).
    const messages = outputs.map((o) => (o instanceof Error ? o.message : ''));
    for (const seen of [
      /authentication failed: the server refused/,
      /authentication failed at a sentinel/,
      /TLS: the server certificate is not signed by a trusted CA/,
      /TLS: the server did not answer with TLS/,
      /NOPERM/,
      /TLS material cannot be loaded/,
    ])
      assert.ok(
        messages.some((m) => seen.test(m)),
        `no error matched ${seen}: ${[...new Set(messages)].join(' | ')}`,
      );
  });

  it('OTLP: headers over connect, auth (401) and TLS failures, plus span data', async () => {
    const headers = { authorization: `Bearer ${SECRETS.otlpToken}`, 'x-api-key': SECRETS.otlpApiKey };
    const refuse = createHttpServer((req, res) => {
      received.push(req.headers);
      req.resume();
      // Refuses the way some gateways do: echoing the credentials it was sent.
      req.on('end', () =>
        res
          .writeHead(401, { 'content-type': 'text/plain' })
          .end(`unauthorized: ${req.headers.authorization} / ${req.headers['x-api-key']}`),
      );
    });
    const tlsServer = createHttpsServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await Promise.all([
      new Promise<void>((r) => refuse.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r)),
    ]);
    closers.push(async () => {
      refuse.closeAllConnections();
      tlsServer.closeAllConnections();
      await Promise.all([new Promise((r) => refuse.close(r)), new Promise((r) => tlsServer.close(r))]);
    });
    const port = (s: { address(): unknown }) => (s.address() as { port: number }).port;
    const endpoints = [
      `http://127.0.0.1:${await freePort()}/v1/traces`, // connect failure
      `http://127.0.0.1:${port(refuse)}/v1/traces`, // auth failure
      `https://127.0.0.1:${port(tlsServer)}/v1/traces`, // TLS failure (wrong CA)
      `https://127.0.0.1:${port(tlsServer)}/v1/traces`, // normal traffic (right CA)
    ];
    const tracers: OtelTracer[] = endpoints.map((endpoint, i) =>
      createOtelTracer({
        exporter: 'otlp',
        endpoint,
        headers,
        tls: { ca: i === 2 ? pki.otherCa.certPem : pki.ca.certPem },
        logger,
        batch: { scheduledDelayMillis: 5, exportTimeoutMillis: 1500 },
      }),
    );
    for (const t of tracers) {
      const span = t.startSpan('op', { attributes: { 'app.kind': 'test' } });
      span.addEvent('step', { n: 1 });
      span.end();
      await catching(t.flush());
      await catching(t.close());
      outputs.push(t.exportStats());
    }
    await waitFor(() => received.length >= 2, { what: 'the collectors to receive exports' });
    assert.ok(
      received.every((h) => h.authorization === headers.authorization),
      'the header was sent',
    );

    // Span attributes and events of failed cache operations recorded on spans.
    const memory = createOtelTracer({ exporter: 'memory', logger });
    const c = cache({ addresses: [`127.0.0.1:${await freePort()}`], password: SECRETS.redisPassword });
    const span = memory.startSpan('cache-failure');
    try {
      await c.get('k');
    } catch (err) {
      span.recordError(err);
    }
    span.end();
    outputs.push(memory.finishedSpans?.() ?? []);
    await memory.close();
  });

  it('config file + HYPERION__ overrides, the app they build, and /metrics', async () => {
    const tokenFile = join(pki.dir, 'metrics-token');
    await writeFile(tokenFile, `${SECRETS.configToken}\n`);
    const file = join(pki.dir, 'hyperion.yaml');
    await writeFile(
      file,
      [
        'service: { name: secrets }',
        'metrics:',
        '  port: 0',
        '  auth:',
        `    bearer_token_file: ${JSON.stringify(tokenFile)}`,
        'cache:',
        '  type: redis',
        `  addresses: ["127.0.0.1:${redis.port}"]`,
        '  username: app',
        '  key_prefix: "app:"',
        'tracing:',
        '  exporter: otlp',
        `  endpoint: http://127.0.0.1:${await freePort()}/v1/traces`,
        `  headers: { authorization: "Bearer ${SECRETS.configToken}" }`,
        '  batch: { scheduled_delay: 5ms, export_timeout: 1s }',
        '',
      ].join('\n'),
    );
    const env = { HYPERION__CACHE__PASSWORD: SECRETS.aclPassword };
    const config = await loadConfig(file, { env });
    const app = await createAppFromConfig(config, { logger });
    closers.push(() => app.close());
    const c = app.ctx.cache;
    await catching(c.set('k', Buffer.from('v')));
    await catching(c.get('k'));
    const span = app.ctx.tracer.startSpan('x');
    span.end();
    const metrics = app.ctx.metrics as unknown as { address?: { url: string } };
    const url = metrics.address?.url;
    assert.ok(url, 'metrics listening');
    const denied = await fetch(url);
    assert.equal(denied.status, 401);
    const body = await (
      await fetch(url, { headers: { authorization: `Bearer ${SECRETS.configToken}` } })
    ).text();
    assert.match(body, /cache/);
    outputs.push(body);
    await catching(app.close());

    // Env overrides with bad values in secret fields, a wrong password, and unreadable files.
    // (`[…]` would now be the password "[…]" itself: a text field gets the variable's text.)
    await catching(loadConfig(file, { env: { HYPERION__CACHE__PASSWORD: `!vault ${SECRETS.envBadValue}` } }));
    await catching(loadConfig(file, { env: { HYPERION__CACHE__DB: `[${SECRETS.envBadValue}]` } }));
    await catching(loadConfig(file, { env: { HYPERION__METRICS__AUTH__BEARER_TOKEN: SECRETS.envBadValue } }));
    const wrong = await loadConfig(file, { env: { HYPERION__CACHE__PASSWORD: SECRETS.envPassword } });
    const wrongApp = await createAppFromConfig(wrong, { logger });
    closers.push(() => wrongApp.close());
    await catching(wrongApp.ctx.cache.get('k'));
    await catching(wrongApp.close());
    await catching(
      loadConfig(file, {
        env: {
          HYPERION__CACHE__TLS__CA_FILE: join(pki.dir, 'missing.pem'),
          HYPERION__CACHE__PASSWORD: SECRETS.envPassword,
        },
      }).then((cfg) => createAppFromConfig(cfg, { logger })),
    );
    // A YAML syntax error on the line holding a secret.
    const broken = join(pki.dir, 'broken.yaml');
    await writeFile(broken, `cache:\n  type: redis\n  password: "${SECRETS.configToken}\n  db: [\n`);
    await catching(loadConfig(broken, { env: {} }));
    // /metrics of a standalone adapter with basic auth refused.
    const m = createMetrics({ port: 0, auth: { username: 'u', password: SECRETS.configToken }, logger });
    closers.push(() => m.close());
    const addr = await m.listen();
    outputs.push(await (await fetch(addr!.url)).text());
  });

  it('the demo: DATABASE_URL and REDIS_URL with passwords, through failures and normal traffic', async () => {
    const { startServices } = await import('../../demo/services/index.js');
    const { createPostgresDb } = await import('../../demo/db.js');
    // A database that refuses connections (connect failure with the URL's password).
    const dbUrl = `postgres://app:${SECRETS.databasePassword}@127.0.0.1:${await freePort()}/app`;
    await catching(
      createPostgresDb(dbUrl, { onError: (e) => outputs.push(e) }).then(async (db) => {
        try {
          await db.query('select 1');
        } finally {
          await db.close();
        }
      }),
    );
    await catching(startServices({ ports: { gateway: 0, user: 0, order: 0 }, databaseUrl: dbUrl, logger }));
    // Normal traffic with Redis credentials in REDIS_URL, and an auth failure (wrong password).
    for (const password of [SECRETS.redisPassword, SECRETS.envPassword]) {
      const services = await startServices({
        ports: { gateway: 0, user: 0, order: 0 },
        redisUrl: `redis://:${encodeURIComponent(password)}@127.0.0.1:${redis.port}`,
        logger,
      });
      closers.push(() => services.close());
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${services.gateway.url}/users/${i + 1}/orders`);
        outputs.push(await res.text());
      }
      for (const s of services.all) outputs.push(await (await fetch(`${s.url}/metrics`)).text());
      await catching(services.close());
    }
  });

  it('finds no planted secret anywhere', () => {
    const found = [...leaks(records), ...leaks(outputs), ...leaks(console)];
    console.length = 0;
    assert.ok(records.length > 20, `expected many log records, got ${records.length}`);
    assert.deepEqual(found, [], `secrets leaked:\n${found.join('\n')}`);
    process.stdout.write(
      `# searched ${records.length} log records, ${outputs.length} outputs (errors with cause chains, spans, /metrics bodies, stats) and the console: 0 secrets\n`,
    );
  });
});
