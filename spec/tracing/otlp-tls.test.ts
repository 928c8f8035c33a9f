/**
 * OTLP/HTTP export over mutual TLS with a private CA and an authorization header, against a real
 * Jaeger whose OTLP receiver requires TLS, client certificates and basic auth: spans arrive; a wrong
 * CA, an expired collector certificate, a missing client certificate or wrong credentials fail the
 * exports — each counted in exportStats(), logged once per interval (with no header value in the
 * log), and never blocking or throwing into the app.
 *
 * A bearer token (`authorization: Bearer …`) is checked by a loopback HTTPS stand-in for a
 * collector with `bearertokenauth`: the Jaeger build of .ci/install-jaeger.sh lacks that extension
 * and it cannot be added from the Go module proxy at Jaeger's collector release (lib/PRODUCTION.md).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer, type OtelTracerOptions } from '../../lib/tracing/otel/index.js';
import { resolveOptions } from '../../lib/tracing/otel/options.js';
import { type Jaeger, startJaeger } from '../harness/jaeger.js';
import { skipUnless, startAll, waitFor } from '../harness/process.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const USER = 'otlp-user';
const PASSWORD = 'otlp-password-value';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const TOKEN = 'otlp-bearer-token-value';
const WRONG_TOKEN = 'wrong-bearer-token-value';

function captureLogger() {
  const records: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: (message, fields) => records.push({ level: 'debug', message, fields }),
    info: (message, fields) => records.push({ level: 'info', message, fields }),
    warn: (message, fields) => records.push({ level: 'warn', message, fields }),
    error: (message, fields) => records.push({ level: 'error', message, fields }),
    child: () => make(),
  });
  return { logger: make(), records };
}

describe('OTLP over HTTPS with a private CA and an auth header (real Jaeger)', {
  skip: skipUnless(['jaeger'], 'see spec/harness/jaeger.ts') || skipOpenssl(),
}, () => {
  let pki: TestPki;
  let jaeger: Jaeger;
  let expiredJaeger: Jaeger;
  let bearerReceiver: Server;
  let bearerEndpoint = '';
  /** Requests the bearer stand-in accepted / refused. */
  const bearerSeen = { accepted: 0, refused: 0 };
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    pki = await createTestPki();
    [jaeger, expiredJaeger] = await startAll([
      startJaeger({
        otlpTls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
        otlpBasicAuth: { username: USER, password: PASSWORD },
      }),
      startJaeger({ otlpTls: { cert: pki.expired.cert, key: pki.expired.key } }),
    ]);
    // What bearertokenauth does on an OTLP/HTTP receiver: 401 unless the header is exactly the token.
    bearerReceiver = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.headers.authorization === `Bearer ${TOKEN}`) {
          bearerSeen.accepted++;
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } else {
          bearerSeen.refused++;
          res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized');
        }
      });
    });
    await new Promise<void>((r) => bearerReceiver.listen(0, '127.0.0.1', r));
    bearerEndpoint = `https://127.0.0.1:${(bearerReceiver.address() as { port: number }).port}/v1/traces`;
  });
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    bearerReceiver?.closeAllConnections();
    bearerReceiver?.close();
    await Promise.allSettled([jaeger?.stop(), expiredJaeger?.stop()]);
    await pki?.remove();
  });

  /** Mutual TLS: the client certificate with its encrypted key. */
  const client = () => ({
    cert: pki.clientEncrypted.certPem,
    key: pki.clientEncrypted.keyPem,
    passphrase: pki.passphrase,
  });
  const make = (extra: Omit<Partial<OtelTracerOptions>, 'provider'>) => {
    const { logger, records } = captureLogger();
    const tracer = createOtelTracer({
      exporter: 'otlp',
      endpoint: jaeger.otlpEndpoint,
      logger,
      errorLogIntervalMs: 60_000,
      batch: { scheduledDelayMillis: 10, exportTimeoutMillis: 3000 },
      ...extra,
    });
    closers.push(() => tracer.close());
    return { tracer, records };
  };

  it('exports over verified mutual TLS with the authorization header; the trace is in Jaeger', async () => {
    const serviceName = 'otlp-tls-ok';
    const { tracer } = make({
      serviceName,
      tls: { ca: pki.ca.certPem, ...client() },
      headers: { authorization: basic(USER, PASSWORD) },
    });
    const span = tracer.startSpan('secure-export');
    span.end();
    await tracer.flush();
    const traceId = span.spanContext().traceId;
    const trace = await waitFor(() => jaeger.getTrace(traceId), {
      timeoutMs: 30_000,
      what: 'the trace in Jaeger',
    });
    assert.equal(trace.spans[0]?.operationName, 'secure-export');
    assert.equal(tracer.exportStats().failedExports, 0);
  });

  // The standard variables of an OpenTelemetry deployment (a Kubernetes secret mounted as files):
  // the raw OTLP exporter honours them, but the tracer's own HTTP agent ignored them, so every
  // export failed with "self-signed certificate in certificate chain".
  it('OTEL_EXPORTER_OTLP_CERTIFICATE / _CLIENT_CERTIFICATE / _CLIENT_KEY: verified mutual TLS, the trace is in Jaeger', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: jaeger.otlpEndpoint,
      OTEL_EXPORTER_OTLP_CERTIFICATE: pki.ca.cert,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pki.client.cert,
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: pki.client.key,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=${encodeURIComponent(basic(USER, PASSWORD))}`,
    });
    let tracer: ReturnType<typeof createOtelTracer>;
    try {
      tracer = createOtelTracer({ serviceName: 'otlp-tls-env', batch: { exportTimeoutMillis: 3000 } });
    } finally {
      process.env = saved;
    }
    closers.push(() => tracer.close());
    const span = tracer.startSpan('env-tls-export');
    span.end();
    await tracer.flush();
    const trace = await waitFor(() => jaeger.getTrace(span.spanContext().traceId), {
      timeoutMs: 30_000,
      what: 'the trace in Jaeger',
    });
    assert.equal(trace.spans[0]?.operationName, 'env-tls-export');
    assert.equal(tracer.exportStats().failedExports, 0);
  });

  it('an OTLP TLS variable naming a file that cannot be read is a ConfigError naming the variable', () => {
    assert.throws(
      () => resolveOptions({}, { OTEL_EXPORTER_OTLP_CERTIFICATE: `${pki.dir}/no-such-ca.pem` }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.some((i) => i.path === 'OTEL_EXPORTER_OTLP_CERTIFICATE' && /ENOENT/.test(i.message)),
    );
    // A field given in `tls` wins over the variable.
    const o = resolveOptions(
      { tls: { ca: pki.otherCa.certPem } },
      { OTEL_EXPORTER_OTLP_CERTIFICATE: pki.ca.cert },
    );
    assert.equal(o.tls?.ca, pki.otherCa.certPem);
  });

  /** Spans in several batches; returns the logger records and stats after the exports failed. */
  async function failingExports(what: string, extra: Partial<OtelTracerOptions>, pattern: RegExp) {
    const { tracer, records } = make(extra);
    const start = performance.now();
    let firstLog = Number.NaN;
    for (let batch = 0; batch < 3; batch++) {
      // Starting and ending spans never waits for the collector.
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) tracer.startSpan(`${what}-${i}`).end();
      assert.ok(performance.now() - t0 < 200, 'span start/end blocked');
      await tracer.flush().catch(() => {});
      if (Number.isNaN(firstLog) && records.some((r) => r.level === 'error'))
        firstLog = performance.now() - start;
    }
    await waitFor(() => tracer.exportStats().failedExports >= 2, { what: `${what}: failed exports counted` });
    const errors = records.filter((r) => r.message === 'tracing: span export failed');
    assert.equal(errors.length, 1, `${what}: logged once per interval, got ${errors.length}`);
    const text = JSON.stringify(errors[0]?.fields);
    assert.match(text, pattern, `${what}: the log names the cause`);
    for (const secret of [
      PASSWORD,
      basic(USER, PASSWORD),
      basic(USER, 'wrong-password-value'),
      'wrong-password-value',
      TOKEN,
      WRONG_TOKEN,
    ])
      assert.ok(!JSON.stringify(records).includes(secret), `${what}: a header value is in the log`);
    console.log(
      `# surfaced (otlp): ${what}: first export error logged after ${firstLog.toFixed(0)} ms; ` +
        `${tracer.exportStats().failedExports} failed exports counted, 1 log record — ${errors[0]?.fields?.error}`,
    );
  }

  it('wrong CA: exports fail, counted, logged once, app never blocked', async () => {
    await failingExports(
      'wrong CA',
      { tls: { ca: pki.otherCa.certPem, ...client() }, headers: { authorization: basic(USER, PASSWORD) } },
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it('expired collector certificate: exports fail, counted, logged once', async () => {
    await failingExports(
      'expired certificate',
      { endpoint: expiredJaeger.otlpEndpoint, tls: { ca: pki.ca.certPem } },
      /expired/i,
    );
  });

  it('wrong credentials: the receiver refuses (401), counted, logged once without the header', async () => {
    await failingExports(
      'wrong credentials',
      {
        tls: { ca: pki.ca.certPem, ...client() },
        headers: { authorization: basic(USER, 'wrong-password-value') },
      },
      /401|Unauthorized/i,
    );
  });

  it('plain HTTP to the TLS receiver (an http:// endpoint): the hint says the port speaks TLS', async () => {
    // Jaeger (Go's TLS listener) answers 400 "Client sent an HTTP request to an HTTPS server.":
    // the export failed as only "Bad Request".
    // One small span per export: with a larger body Go's listener may close while the request is
    // still being written, and the exporter then sees only a reset (no answer to read).
    const { tracer, records } = make({ endpoint: jaeger.otlpEndpoint.replace(/^https:/, 'http:') });
    tracer.startSpan('plain-to-tls').end();
    const err = await tracer.flush().then(
      () => assert.fail('the export succeeded'),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, /Bad Request \(the collector port speaks TLS: use an https:\/\/ endpoint/);
    const logged = records.find((r) => r.message === 'tracing: span export failed');
    assert.match(String(logged?.fields?.hint), /port speaks TLS/);
  });

  it('TLS to a plain-HTTP port (an https:// endpoint): the hint says the port did not answer with TLS', async (t) => {
    // A plain-HTTP receiver (as an OTLP receiver without tls): OpenSSL reads its answer to the
    // ClientHello as "wrong version number", which named neither TLS nor the port.
    const plain = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    t.after(() => {
      plain.closeAllConnections();
      plain.close();
    });
    await failingExports(
      'TLS to a plain-HTTP port',
      {
        endpoint: `https://127.0.0.1:${(plain.address() as { port: number }).port}/v1/traces`,
        tls: { ca: pki.ca.certPem },
        headers: { authorization: basic(USER, PASSWORD) },
      },
      /did not answer with TLS: a plain-HTTP port\?/,
    );
  });

  it('bearer token over TLS (stand-in receiver): the right token exports', async () => {
    const { tracer } = make({
      endpoint: bearerEndpoint,
      tls: { ca: pki.ca.certPem },
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const before = bearerSeen.accepted;
    tracer.startSpan('bearer-export').end();
    await tracer.flush();
    assert.ok(bearerSeen.accepted > before, 'the receiver accepted the token');
    assert.equal(tracer.exportStats().failedExports, 0);
    assert.equal(tracer.exportStats().exportedSpans, 1);
  });

  it('wrong bearer token (stand-in receiver): refused (401), counted, logged once without the header', async () => {
    const before = bearerSeen.refused;
    await failingExports(
      'wrong bearer token',
      {
        endpoint: bearerEndpoint,
        tls: { ca: pki.ca.certPem },
        headers: { authorization: `Bearer ${WRONG_TOKEN}` },
      },
      /401|Unauthorized/i,
    );
    assert.ok(bearerSeen.refused > before);
  });

  it('no client certificate (the receiver requires one): exports fail, counted, logged once', async () => {
    await failingExports(
      'no client certificate',
      { tls: { ca: pki.ca.certPem }, headers: { authorization: basic(USER, PASSWORD) } },
      /certificate|ECONNRESET|socket hang up|alert/i,
    );
  });

  it('a wrong key passphrase is a ConfigError at creation', () => {
    assert.throws(
      () =>
        createOtelTracer({
          exporter: 'otlp',
          endpoint: jaeger.otlpEndpoint,
          tls: {
            ca: pki.ca.certPem,
            cert: pki.clientEncrypted.certPem,
            key: pki.clientEncrypted.keyPem,
            passphrase: 'nope',
          },
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /TLS material cannot be loaded/.test(e.message) &&
        !e.message.includes('nope'),
    );
  });
});

describe('OTLP tls with an http: endpoint', { skip: skipOpenssl() }, () => {
  it('warns once at creation that the export (headers included) is not encrypted; https: does not', async () => {
    const pki = await createTestPki();
    try {
      const headers = { authorization: `Bearer ${TOKEN}` };
      const plain = captureLogger();
      const secure = captureLogger();
      const tracers = [
        createOtelTracer({
          exporter: 'otlp',
          endpoint: 'http://127.0.0.1:4318/v1/traces',
          headers,
          tls: { ca: pki.ca.certPem },
          logger: plain.logger,
        }),
        createOtelTracer({
          exporter: 'otlp',
          endpoint: 'https://127.0.0.1:4318/v1/traces',
          headers,
          tls: { ca: pki.ca.certPem },
          logger: secure.logger,
        }),
      ];
      await Promise.all(tracers.map((t) => t.close()));
      const warned = (r: { level: string; message: string }) =>
        r.level === 'warn' && /tls is set but the otlp endpoint is http:/.test(r.message);
      assert.equal(plain.records.filter(warned).length, 1, JSON.stringify(plain.records));
      assert.ok(!JSON.stringify(plain.records).includes(TOKEN), 'no header value in the warning');
      assert.equal(secure.records.filter(warned).length, 0);
    } finally {
      await pki.remove();
    }
  });
});

// Node takes a `ca` holding no readable PEM certificate without a word and then trusts no CA: a DER
// copy of the collector's own CA failed every export with "self-signed certificate" and a hint to
// give the CA as tls.ca — what had been done.
describe('OTLP tls.ca that holds no readable PEM certificate', { skip: skipOpenssl() }, () => {
  it('is a ConfigError at creation (tls.ca, or the OTEL_EXPORTER_OTLP_CERTIFICATE variable)', async () => {
    const pki = await createTestPki();
    const dir = await mkdtemp(join(tmpdir(), 'hyperion-ca-'));
    try {
      const der = new X509Certificate(pki.ca.certPem).raw;
      const endpoint = 'https://127.0.0.1:4318/v1/traces';
      const refused = (ca: string | Buffer, what: RegExp) =>
        assert.throws(
          () => createOtelTracer({ exporter: 'otlp', endpoint, tls: { ca } }),
          (e: unknown) => e instanceof ConfigError && /tls\.ca/.test(e.message) && what.test(e.message),
        );
      refused(der, /no PEM certificate.*DER/);
      refused('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /cannot be read/);
      refused(
        `${pki.ca.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
        /cannot be read/,
      );
      // A good one still builds.
      await createOtelTracer({ exporter: 'otlp', endpoint, tls: { ca: pki.ca.certPem } }).close();

      const derFile = join(dir, 'ca.der');
      await writeFile(derFile, der);
      const saved = process.env.OTEL_EXPORTER_OTLP_CERTIFICATE;
      process.env.OTEL_EXPORTER_OTLP_CERTIFICATE = derFile;
      try {
        assert.throws(
          () => createOtelTracer({ exporter: 'otlp', endpoint }),
          (e: unknown) =>
            e instanceof ConfigError &&
            /OTEL_EXPORTER_OTLP_CERTIFICATE: .*no PEM certificate/.test(e.message) &&
            !/tls\.ca/.test(e.message),
        );
      } finally {
        if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_CERTIFICATE;
        else process.env.OTEL_EXPORTER_OTLP_CERTIFICATE = saved;
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await pki.remove();
    }
  });
});

describe('OTLP tls with rejectUnauthorized: false', () => {
  it('warns once at creation that the collector is not verified; verified tls does not', async () => {
    const off = captureLogger();
    const on = captureLogger();
    const tracers = [
      createOtelTracer({
        exporter: 'otlp',
        endpoint: 'https://127.0.0.1:4318/v1/traces',
        headers: { authorization: `Bearer ${TOKEN}` },
        tls: { rejectUnauthorized: false },
        logger: off.logger,
      }),
      createOtelTracer({
        exporter: 'otlp',
        endpoint: 'https://127.0.0.1:4318/v1/traces',
        tls: { servername: 'localhost' },
        logger: on.logger,
      }),
    ];
    await Promise.all(tracers.map((t) => t.close()));
    const warned = (r: { level: string; message: string }) =>
      r.level === 'warn' && /rejectUnauthorized is false.*not verified/.test(r.message);
    assert.equal(off.records.filter(warned).length, 1, JSON.stringify(off.records));
    assert.ok(!JSON.stringify(off.records).includes(TOKEN), 'no header value in the warning');
    assert.equal(on.records.filter(warned).length, 0);
  });
});

describe('OTLP tls warnings without a logger', () => {
  it('an insecure tls setting passed without a logger is a process warning (stderr by default), not silence; with a logger, the logger gets it', async () => {
    const seen: { name: string; code?: string; message: string }[] = [];
    const onWarning = (w: Error & { code?: string }) => {
      if (w.name === 'HyperionTracingWarning') seen.push({ name: w.name, code: w.code, message: w.message });
    };
    process.on('warning', onWarning);
    try {
      const logged = captureLogger();
      const tracers = [
        createOtelTracer({
          exporter: 'otlp',
          endpoint: 'https://127.0.0.1:4318/v1/traces',
          headers: { authorization: `Bearer ${TOKEN}` },
          tls: { rejectUnauthorized: false },
        }),
        // tls given for an http: endpoint: everything goes out in clear.
        createOtelTracer({
          exporter: 'otlp',
          endpoint: 'http://127.0.0.1:4318/v1/traces',
          tls: { servername: 'collector' },
        }),
        createOtelTracer({
          exporter: 'otlp',
          endpoint: 'https://127.0.0.1:4318/v1/traces',
          tls: { rejectUnauthorized: false },
          logger: logged.logger,
        }),
      ];
      await Promise.all(tracers.map((t) => t.close()));
      await new Promise((r) => setImmediate(r));
      assert.equal(seen.length, 2, JSON.stringify(seen));
      assert.ok(seen.every((w) => w.code === 'HYPERION_OTLP_TLS'));
      assert.match(seen[0]!.message, /rejectUnauthorized is false.*not verified/);
      assert.match(seen[1]!.message, /sent unencrypted/);
      assert.ok(!JSON.stringify(seen).includes(TOKEN), 'no header value in the warning');
      assert.equal(logged.records.filter((r) => /rejectUnauthorized is false/.test(r.message)).length, 1);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
