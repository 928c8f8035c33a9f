/** The demo's environment variables with malformed values (session-5 audit): errors name the variable that was set. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { EnvError, envPort, readEnv, redisOptionsFromUrl, serviceUrl } from '../../demo/env.js';
import { CALL_TIMEOUT, callService, DEFAULT_CALL_TIMEOUT_MS, HttpError } from '../../demo/http.js';
import { createApp } from '../../lib/core/app.js';

describe('demo environment: malformed values', () => {
  it('a bad OTEL_TRACES_SAMPLER_ARG is reported under its own name (not HYPERION_SAMPLE_RATE)', () => {
    assert.throws(
      () => readEnv({ OTEL_TRACES_SAMPLER_ARG: '2' }),
      (e: Error) => /OTEL_TRACES_SAMPLER_ARG/.test(e.message) && !/HYPERION_SAMPLE_RATE/.test(e.message),
    );
    assert.throws(
      () => readEnv({ HYPERION_SAMPLE_RATE: 'x', OTEL_TRACES_SAMPLER_ARG: '0.5' }),
      /HYPERION_SAMPLE_RATE/,
    );
  });

  it('PORT: decimal digits 0..65535 (spaces around ignored), unset or blank → the default, anything else refused', () => {
    assert.equal(envPort('PORT', 8080, {}), 8080);
    assert.equal(envPort('PORT', 8080, { PORT: '' }), 8080);
    assert.equal(envPort('PORT', 8080, { PORT: '   ' }), 8080, 'blank is unset, not port 0 (a random port)');
    assert.equal(envPort('PORT', 8080, { PORT: ' 8081 ' }), 8081);
    assert.equal(envPort('PORT', 8080, { PORT: '0' }), 0);
    for (const bad of ['0x1F90', '1e3', '8080.0', '-1', '65536', '80 80', '+80', 'http'])
      assert.throws(() => envPort('PORT', 8080, { PORT: bad }), /PORT must be a port 0\.\.65535/, bad);
  });

  it('a sample rate is a decimal number: 0x1, 0b1, 0o1 (which Number() reads as 1) are refused naming the variable', () => {
    for (const bad of ['0x1', '0b1', '0o1', 'Infinity', '1_0', '2'])
      for (const name of ['HYPERION_SAMPLE_RATE', 'OTEL_TRACES_SAMPLER_ARG'])
        assert.throws(
          () => readEnv({ [name]: bad }),
          new RegExp(`${name} must be a decimal number between 0 and 1`),
          bad,
        );
    for (const [good, n] of [
      ['0.25', 0.25],
      ['1', 1],
      ['.5', 0.5],
      ['1e-1', 0.1],
      ['0', 0],
      ['1.', 1],
    ] as const)
      assert.equal(readEnv({ HYPERION_SAMPLE_RATE: good }).sampleRate, n, good);
  });

  it('a malformed collector endpoint is one error naming the variable that set it, before anything starts, without its value', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' },
        /^OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) base URL/,
      ],
      [
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' },
        /^OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) base URL/,
      ],
      [
        { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://sekrit@x' },
        /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be/,
      ],
      [{ HYPERION_TRACING_ENDPOINT: 'x:0' }, /^HYPERION_TRACING_ENDPOINT must be .*port from 1 to 65535/],
      [{ HYPERION_TRACING_ENDPOINT: 'sekrit@x:4318' }, /^HYPERION_TRACING_ENDPOINT must be/],
    ];
    for (const [env, re] of cases)
      assert.throws(
        () => readEnv(env),
        (e: Error) => e instanceof EnvError && re.test(e.message) && !e.message.includes('sekrit'),
        JSON.stringify(env),
      );
    // Accepted as before: a host:port for HYPERION_TRACING_ENDPOINT, URLs for all three.
    assert.equal(readEnv({ HYPERION_TRACING_ENDPOINT: 'jaeger:4318' }).tracingEndpoint, 'jaeger:4318');
    assert.equal(
      readEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' }).tracingEndpoint,
      'http://jaeger:4318/v1/traces',
    );
  });

  it('port 0 in REDIS_URL, DATABASE_URL or a peer URL is refused naming the variable, before anything starts', () => {
    // REDIS_URL's failed half way through the start (the cache's ConfigError "addresses.0", a
    // stack trace); a peer URL's made every call to that peer fail (a 502 for each request).
    for (const url of ['redis://127.0.0.1:0', 'redis://:sekrit@h:00/1'])
      assert.throws(
        () => readEnv({ REDIS_URL: url }),
        (e: Error) =>
          e instanceof EnvError && /^REDIS_URL port/.test(e.message) && !e.message.includes('sekrit'),
        url,
      );
    // DATABASE_URL's: "ECONNREFUSED" once the tracer and caches had started, as if PostgreSQL were down.
    for (const url of ['postgres://u:sekrit@127.0.0.1:0/db', 'postgresql://127.0.0.1:00'])
      assert.throws(
        () => readEnv({ DATABASE_URL: url }),
        (e: Error) =>
          e instanceof EnvError && /^DATABASE_URL port/.test(e.message) && !e.message.includes('sekrit'),
        url,
      );
    assert.equal(readEnv({ DATABASE_URL: 'postgres://u:p@h/db' }).databaseUrl, 'postgres://u:p@h/db');
    assert.equal(
      readEnv({ DATABASE_URL: 'postgres://u:p@h:5433/db' }).databaseUrl,
      'postgres://u:p@h:5433/db',
    );
    for (const name of ['USER_SERVICE_URL', 'ORDER_SERVICE_URL', 'JAEGER_UI_URL'])
      for (const url of ['http://127.0.0.1:0', 'https://peer:00/'])
        assert.throws(
          () => serviceUrl(name, 'http://127.0.0.1:8081', { [name]: url }),
          (e: Error) =>
            e instanceof EnvError && e.message.startsWith(`${name} must have a port from 1 to 65535`),
          `${name}=${url}`,
        );
    // A port, or none (the scheme's default), as before.
    assert.deepEqual(redisOptionsFromUrl('redis://h/2'), { addresses: ['h:6379'], db: 2 });
    assert.deepEqual(redisOptionsFromUrl('redis://h:1/0'), { addresses: ['h:1'], db: 0 });
    // (Port 1 is one fetch refuses to connect to: refused since, see peer-urls.test.ts.)
    assert.equal(serviceUrl('USER_SERVICE_URL', 'x', { USER_SERVICE_URL: 'http://peer:2' }), 'http://peer:2');
    assert.equal(serviceUrl('USER_SERVICE_URL', 'x', { USER_SERVICE_URL: 'https://peer' }), 'https://peer');
  });

  it('REDIS_URL with a malformed percent-escape in its credentials names REDIS_URL, never the password', () => {
    for (const url of ['redis://:p%zzsekrit@h:6379', 'redis://us%zzer:sekrit@h:6379'])
      assert.throws(
        () => redisOptionsFromUrl(url),
        (e: Error) => /REDIS_URL/.test(e.message) && !e.message.includes('sekrit'),
      );
  });
});

describe('demo: the bound of one call to another service (CALL_TIMEOUT_MS)', () => {
  it('is read from CALL_TIMEOUT_MS as whole milliseconds 1..600000, unset → undefined (5000 applies)', () => {
    assert.equal(readEnv({}).callTimeoutMs, undefined);
    assert.equal(readEnv({ CALL_TIMEOUT_MS: ' 250 ' }).callTimeoutMs, 250);
    for (const bad of ['0', '-1', '1.5', 'x', '600001'])
      assert.throws(() => readEnv({ CALL_TIMEOUT_MS: bad }), /CALL_TIMEOUT_MS/, bad);
  });

  it('in decimal digits only, as PORT: 0x10 and 0o17 (16 and 15 ms to Number()) and 1e3 are refused', () => {
    for (const bad of ['0x10', '0o17', '0b11', '1e3', '+5000', '5000.0'])
      assert.throws(() => readEnv({ CALL_TIMEOUT_MS: bad }), /CALL_TIMEOUT_MS must be a whole number/, bad);
    assert.equal(readEnv({ CALL_TIMEOUT_MS: '5000' }).callTimeoutMs, 5000);
  });

  it('a peer that never answers becomes a 502 once the configured bound is over, not the default 5 s', async (t) => {
    const server = createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const app = createApp({ components: { [CALL_TIMEOUT]: 200 } });
    t.after(() => app.close());
    const started = performance.now();
    await assert.rejects(
      callService(app.ctx, { service: 'hanging', baseUrl }, 'GET', '/x'),
      (e: unknown) => e instanceof HttpError && e.status === 502,
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 190, `waited the bound (${elapsed} ms)`);
    assert.ok(elapsed < DEFAULT_CALL_TIMEOUT_MS, `not the default bound (${elapsed} ms)`);
  });
});
