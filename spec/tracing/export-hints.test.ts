/**
 * An OTLP (or zipkin) export refused for a reason no retry fixes says what to check (found from outside, a
 * /tmp probe against a loopback HTTPS collector stand-in): a collector certificate of a private
 * CA not given as `tls.ca` was reported only as Node's "self-signed certificate", a refused token
 * only as the collector's "Unauthorized" / "Forbidden" — neither named the option or header. The
 * export error log now carries a `hint` and `flush()`'s error ends with it; no header value in
 * either.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../lib/core/contracts.js';
import { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';
import { sdk } from './otel-line.js';

const TOKEN = 'hint-test-token-5d1e0b';

interface LogRecord {
  level: string;
  message: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(records: LogRecord[]): Logger {
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      records.push({ level, message, ...(fields ? { fields } : {}) });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

describe('OTLP export failures that no retry fixes carry a hint', { skip: skipOpenssl() }, () => {
  let pki: TestPki;
  let server: Server;
  let endpoint: string;
  let status = 401;
  before(async () => {
    pki = await createTestPki();
    server = createServer({ cert: pki.server.certPem, key: pki.server.keyPem }, (req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await pki?.remove();
  });

  async function failedExport(
    tls: { ca?: string },
    exporter: 'otlp' | 'zipkin' = 'otlp',
  ): Promise<{ error: TracingError; record: LogRecord }> {
    const records: LogRecord[] = [];
    const tracer = createOtelTracer({
      serviceName: 'export-hints',
      exporter,
      endpoint: exporter === 'otlp' ? endpoint : endpoint.replace('/v1/traces', '/api/v2/spans'),
      headers: { authorization: `Bearer ${TOKEN}` },
      logger: recordingLogger(records),
      ...(tls.ca ? { tls } : {}),
    });
    try {
      tracer.startSpan('op').end();
      const error = await tracer.flush().then(
        () => assert.fail('flush succeeded'),
        (e: unknown) => e as TracingError,
      );
      assert.ok(error instanceof TracingError, String(error));
      const record = records.find((r) => r.message === 'tracing: span export failed');
      assert.ok(record, JSON.stringify(records));
      assert.ok(!JSON.stringify(records).includes(TOKEN) && !error.message.includes(TOKEN));
      return { error, record };
    } finally {
      await tracer.close().catch(() => {});
    }
  }

  it('a collector certificate of a CA not given: names tls.ca', async () => {
    const { error, record } = await failedExport({});
    assert.match(String(record.fields?.hint), /not signed by a trusted CA: give its CA as tls\.ca/);
    assert.match(error.message, /not signed by a trusted CA: give its CA as tls\.ca/);
  });

  it('zipkin, which ignores tls: the hint names NODE_EXTRA_CA_CERTS or otlp, not tls.ca', async () => {
    // It sent the user to tls.ca, which the zipkin exporter ignores (warned at creation).
    const { error, record } = await failedExport({}, 'zipkin');
    for (const text of [String(record.fields?.hint), error.message]) {
      assert.match(
        text,
        /zipkin exporter takes no tls option; trust the CA process-wide with NODE_EXTRA_CA_CERTS/,
      );
      assert.doesNotMatch(text, /give its CA as tls\.ca/);
    }
  });

  it('a refused token (401 and 403): names the authorization header', async () => {
    for (const code of [401, 403]) {
      status = code;
      const { error, record } = await failedExport({ ca: pki.ca.certPem });
      assert.equal(record.fields?.code, code);
      assert.match(String(record.fields?.hint), /refused the credentials: check the authorization/);
      assert.match(error.message, /refused the credentials: check the authorization/);
    }
  });
});

describe('an export to a path with no receiver (404, 405) says to give the full URL', () => {
  // `endpoint: 'http://collector:4318'` posts to `/` (the endpoint is used as given): every span
  // was lost with only the collector's "Not Found" in the log.
  let server: ReturnType<typeof createHttpServer>;
  let base: string;
  let status = 404;
  before(async () => {
    server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = status;
        res.end('no such path');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  async function exportTo(
    exporter: 'otlp' | 'zipkin',
    path = '',
  ): Promise<{ error: TracingError; record?: LogRecord }> {
    const records: LogRecord[] = [];
    const tracer = createOtelTracer({
      serviceName: 'export-hints',
      exporter,
      endpoint: `${base}${path}`,
      logger: recordingLogger(records),
    });
    try {
      tracer.startSpan('op').end();
      const error = await tracer.flush().then(
        () => assert.fail('flush succeeded'),
        (e: unknown) => e as TracingError,
      );
      assert.ok(error instanceof TracingError, String(error));
      return { error, record: records.find((r) => r.message === 'tracing: span export failed') };
    } finally {
      await tracer.close().catch(() => {});
    }
  }

  for (const [exporter, path] of [
    ['otlp', 'http://collector:4318/v1/traces'],
    ['zipkin', 'http://zipkin:9411/api/v2/spans'],
  ] as const) {
    it(`${exporter}: 404 and 405 name the full URL with its path`, async () => {
      for (const code of [404, 405]) {
        status = code;
        const { error, record } = await exportTo(exporter);
        assert.ok(record, `no export failure logged for ${code}`);
        for (const text of [String(record.fields?.hint), error.message]) {
          assert.match(text, /no .*receiver at this path: the endpoint is used as given/, `${code}: ${text}`);
          assert.ok(text.includes(path), `${code}: ${text}`);
        }
      }
    });
  }

  // An endpoint whose path is the receiver's already (the default one, or a full URL) but whose
  // host or port is another server's: "give the full URL" sent the user to fix the right path.
  for (const [exporter, path, port] of [
    ['otlp', '/v1/traces', 4318],
    ['zipkin', '/api/v2/spans', 9411],
  ] as const) {
    it(`${exporter}: a 404 at the receiver's own path (${path}) points to the host and port`, async () => {
      status = 404;
      const { error, record } = await exportTo(exporter, path);
      assert.ok(record, 'no export failure logged');
      for (const text of [String(record.fields?.hint), error.message]) {
        assert.match(text, /nothing at this address answers as the .*receiver, though the path/, text);
        assert.ok(text.includes(`(${path}) is its own: check the host and port`), text);
        assert.ok(text.includes(`default port is ${port}`), text);
        assert.doesNotMatch(text, /give the full URL/);
      }
    });
  }

  it('another refusal (500) gets no such hint', async () => {
    status = 500;
    const { error, record } = await exportTo('otlp');
    assert.equal(record?.fields?.hint, undefined);
    assert.doesNotMatch(error.message, /receiver at this path/);
  });
});

describe('zipkin and jaeger exports refused with 401 or 403 carry the credentials hint', () => {
  // Their errors carry the status in the message only ("Got unexpected status code from zipkin:
  // 401", "server responded with HTTP 401"): the hint, given for a numeric code alone, never came.
  let server: ReturnType<typeof createHttpServer>;
  let base: string;
  let status = 401;
  before(async () => {
    server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = status;
        res.end('unauthorized');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const cases = [
    ['zipkin', '/api/v2/spans', /check the authorization \(or API key\) header in headers$/],
    ['jaeger', '/api/traces', /the jaeger exporter sends no headers, only basic auth from user:password@/],
  ] as const;
  for (const [exporter, path, hint] of cases) {
    it(`${exporter}: 401 and 403 name where the credentials go`, {
      skip: exporter === 'jaeger' && sdk.line !== 2,
    }, async () => {
      for (const code of [401, 403]) {
        status = code;
        const records: LogRecord[] = [];
        const tracer = createOtelTracer({
          serviceName: 'export-hints',
          exporter,
          endpoint: `${base}${path}`,
          logger: recordingLogger(records),
        });
        try {
          tracer.startSpan('op').end();
          const error = await tracer.flush().then(
            () => assert.fail('flush succeeded'),
            (e: unknown) => e as TracingError,
          );
          const record = records.find((r) => r.message === 'tracing: span export failed');
          assert.ok(record, `no export failure logged for ${code}`);
          assert.match(String(record.fields?.hint), hint, `${code}`);
          assert.match(error.message, /the collector refused the credentials/, `${code}`);
        } finally {
          await tracer.close().catch(() => {});
        }
      }
    });
  }
});
