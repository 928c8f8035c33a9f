/**
 * Headers the otlp and zipkin exporters set for the body they send (`content-length`,
 * `transfer-encoding`, `content-encoding`, `content-type`) were accepted in `tracing.headers`, in
 * `createOtelTracer({ headers })` and in `OTEL_EXPORTER_OTLP_HEADERS`, and replaced the exporter's
 * own: every export then failed (`content-length` answered 400 or hung until the export timeout,
 * `content-encoding: gzip` described a body that is not compressed, `content-type` replaced
 * zipkin's `application/json`). They are a ConfigError naming the header, never its value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigFromText } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const VALUE = 'v4lue-not-shown';

const refused = (fn: () => unknown, path: string) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.issues.length, 1, e.message);
    assert.equal(e.issues[0]!.path, path);
    assert.match(e.message, /set by the exporter for the body it sends/);
    assert.ok(!e.message.includes(VALUE), e.message);
    return true;
  });

describe('tracing headers the exporter sets itself', () => {
  for (const name of ['Content-Length', 'content-type', 'Content-Encoding', 'TRANSFER-ENCODING'])
    it(`${name}: refused in a config file, in createOtelTracer and in OTEL_EXPORTER_OTLP_HEADERS`, () => {
      refused(
        () => loadConfigFromText(`tracing: { headers: { ${name}: ${VALUE} } }`, { env: {} }),
        `tracing.headers.${name}`,
      );
      refused(
        () =>
          loadConfigFromText('tracing: {}', {
            env: { HYPERION__TRACING__HEADERS: `{${name}: ${VALUE}}` },
          }),
        `tracing.headers.${name}`,
      );
      refused(() => createOtelTracer({ exporter: 'memory', headers: { [name]: VALUE } }), `headers.${name}`);
      const saved = process.env.OTEL_EXPORTER_OTLP_HEADERS;
      process.env.OTEL_EXPORTER_OTLP_HEADERS = `x-team=a,${name}=${VALUE}`;
      try {
        refused(
          () => createOtelTracer({ exporter: 'otlp', endpoint: 'http://127.0.0.1:9/v1/traces' }),
          'OTEL_EXPORTER_OTLP_HEADERS',
        );
      } finally {
        if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
        else process.env.OTEL_EXPORTER_OTLP_HEADERS = saved;
      }
    });

  it('other headers still load and build (authorization, a tenant, content-language)', async () => {
    const config = loadConfigFromText(
      'tracing: { headers: { Authorization: "Bearer x", x-scope-orgid: a, Content-Language: en } }',
      { env: {} },
    );
    assert.deepEqual(Object.keys(config.tracing!.headers!), [
      'Authorization',
      'x-scope-orgid',
      'Content-Language',
    ]);
    const tracer = createOtelTracer({ exporter: 'memory', headers: { 'content-language': 'en' } });
    await tracer.close();
  });
});
