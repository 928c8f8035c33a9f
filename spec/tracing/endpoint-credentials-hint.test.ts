/**
 * A collector refusing the credentials of an endpoint written `http://user:password@host/…`
 * (sent as basic auth, the otlp and zipkin exporters both do) got the hint to check the
 * authorization header in `headers` / `OTEL_EXPORTER_OTLP_HEADERS`, which the service had not
 * set: the hint now names the endpoint's user:password — and still names the header when one is
 * given, since the header is then what was sent. The jaeger exporter's hint names the
 * OTEL_EXPORTER_JAEGER_USER / _PASSWORD variables it also sends.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../lib/core/contracts.js';
import type { TracingError } from '../../lib/core/errors.js';
import { createOtelTracer, type OtelTracerOptions } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';
import { sdk } from './otel-line.js';

const URL_HINT = /check the user:password in the endpoint, sent as basic auth/;
const HEADER_HINT = /check the authorization \(or API key\) header in headers/;

interface Record_ {
  message: string;
  fields?: Record<string, unknown>;
}

/** Exports one span, returns flush()'s error and the `span export failed` record's hint. */
async function refusal(options: OtelTracerOptions): Promise<{ error: string; hint: string }> {
  const records: Record_[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, fields) => void records.push({ message, ...(fields ? { fields } : {}) }),
    error: (message, fields) => void records.push({ message, ...(fields ? { fields } : {}) }),
    child: () => logger,
  };
  const tracer = createOtelTracer({ serviceName: 'credentials-hint', ...options, logger });
  try {
    tracer.startSpan('op').end();
    const error = await tracer.flush().then(
      () => assert.fail('flush succeeded'),
      (e: unknown) => e as TracingError,
    );
    const record = records.find((r) => r.message === 'tracing: span export failed');
    assert.ok(record, 'no export failure logged');
    return { error: error.message, hint: String(record.fields?.hint) };
  } finally {
    await tracer.close();
  }
}

const withCredentials = (url: string, credentials: string) => url.replace('://', `://${credentials}@`);

describeWithServers(
  'a refused user:password in the endpoint: the hint names it',
  skipUnless(['jaeger'], JAEGER_INSTALL_HINT),
  () => {
    let jaeger: Jaeger;
    before(async () => {
      jaeger = await startJaeger({ otlpBasicAuth: { username: 'alice', password: 'right-pass' } });
    });
    after(async () => {
      await jaeger?.stop();
    });

    it('otlp to Jaeger with basic auth: a wrong password names the endpoint, the right one delivers', async () => {
      const { error, hint } = await refusal({
        endpoint: withCredentials(jaeger.otlpEndpoint, 'alice:wrong'),
      });
      for (const text of [hint, error]) {
        assert.match(text, URL_HINT);
        assert.doesNotMatch(text, HEADER_HINT);
      }
      assert.doesNotMatch(error, /wrong/); // the password is never shown

      // The same endpoint form with the right password: the trace is in Jaeger.
      const tracer = createOtelTracer({
        serviceName: 'credentials-hint',
        endpoint: withCredentials(jaeger.otlpEndpoint, 'alice:right-pass'),
      });
      const span = tracer.startSpan('delivered');
      span.end();
      await tracer.flush();
      await tracer.close();
      await waitFor(() => jaeger.getTrace(span.spanContext().traceId), {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the trace sent with the endpoint credentials',
      });
    });

    it('an authorization header given as well: it is what was sent, and the hint names it', async () => {
      const { error, hint } = await refusal({
        endpoint: withCredentials(jaeger.otlpEndpoint, 'alice:right-pass'),
        headers: { Authorization: 'Bearer not-a-basic-token' },
      });
      for (const text of [hint, error]) {
        assert.match(text, HEADER_HINT);
        assert.doesNotMatch(text, URL_HINT);
      }
    });
  },
);

describe('zipkin and jaeger against a 401 stand-in: the hint names the credentials sent', () => {
  let server: Server;
  let base: string;
  before(async () => {
    // A collector behind a proxy that checks basic auth (Jaeger checks it on OTLP only).
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(401, { 'www-authenticate': 'Basic' });
        res.end('unauthorized');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v2/spans`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('401 with user:password in the endpoint names it; with an authorization header, the header', async () => {
    const fromUrl = await refusal({ exporter: 'zipkin', endpoint: withCredentials(base, 'alice:wrong') });
    for (const text of [fromUrl.hint, fromUrl.error]) assert.match(text, URL_HINT);
    const fromHeader = await refusal({
      exporter: 'zipkin',
      endpoint: withCredentials(base, 'alice:wrong'),
      headers: { authorization: 'Bearer some-token-value' },
    });
    for (const text of [fromHeader.hint, fromHeader.error]) assert.match(text, HEADER_HINT);
  });

  // The jaeger exporter sends OTEL_EXPORTER_JAEGER_USER / _PASSWORD when the endpoint has no
  // credentials (README, env table): its 401 hint named only user:password@ in the endpoint.
  it('jaeger: a 401 for OTEL_EXPORTER_JAEGER_USER / _PASSWORD names the variables', {
    skip: sdk.line !== 2 && 'the jaeger exporter is 2.x only',
  }, async () => {
    const saved = {
      user: process.env.OTEL_EXPORTER_JAEGER_USER,
      pass: process.env.OTEL_EXPORTER_JAEGER_PASSWORD,
    };
    process.env.OTEL_EXPORTER_JAEGER_USER = 'alice';
    process.env.OTEL_EXPORTER_JAEGER_PASSWORD = 'wrong-pass';
    try {
      const { error, hint } = await refusal({
        exporter: 'jaeger',
        endpoint: base.replace('/api/v2/spans', '/api/traces'),
      });
      for (const text of [hint, error])
        assert.match(text, /OTEL_EXPORTER_JAEGER_USER \/ OTEL_EXPORTER_JAEGER_PASSWORD/);
    } finally {
      for (const [name, value] of [
        ['OTEL_EXPORTER_JAEGER_USER', saved.user],
        ['OTEL_EXPORTER_JAEGER_PASSWORD', saved.pass],
      ] as const)
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
    }
  });
});
