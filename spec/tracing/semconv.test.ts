/** Semantic-convention helpers: query redaction, OTEL_SEMCONV_STABILITY_OPT_IN, database attributes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  currentOptIn,
  dbAttributes,
  fullUrl,
  redactQuery,
  redactUrl,
  reloadSemconvOptIn,
  semconvOptIn,
  withHttpDup,
} from '../../lib/tracing/semconv.js';

describe('semconv helpers', () => {
  it('redactQuery replaces the values of sensitive parameters only', () => {
    assert.equal(redactQuery('a=1&b=2'), 'a=1&b=2');
    assert.equal(
      redactQuery('AWSAccessKeyId=x&Signature=y&sig=z&X-Goog-Signature=w&q=ok'),
      'AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED&q=ok',
    );
    assert.equal(redactQuery('access%5Ftoken=t&flag'), 'access%5Ftoken=REDACTED&flag');
    assert.equal(redactQuery(''), '');
    assert.equal(
      redactUrl(new URL('https://u:p@h/x?password=1')),
      'https://REDACTED:REDACTED@h/x?password=REDACTED',
    );
  });
  it('url.full: password, JWT and session parameters, a fragment token and user-name-only credentials are redacted', () => {
    // Each of these went out whole (or as REDACTED@ / :REDACTED@, not the conventions' form).
    assert.equal(
      redactQuery('pwd=1&jwt=2&session=3&sessionid=4&auth=5&private_token=6&api-key=7&q=ok'),
      'pwd=REDACTED&jwt=REDACTED&session=REDACTED&sessionid=REDACTED&auth=REDACTED&private_token=REDACTED&api-key=REDACTED&q=ok',
    );
    assert.equal(redactUrl(new URL('https://ghp_tok@h/x')), 'https://REDACTED:REDACTED@h/x');
    assert.equal(redactUrl(new URL('https://:pw@h/x')), 'https://REDACTED:REDACTED@h/x');
    // OAuth 2.0's implicit flow returns the token in the fragment; fetch reports it in the URL.
    const cb = new URL('https://app/cb#access_token=tok&token_type=bearer');
    assert.equal(redactUrl(cb), 'https://app/cb#access_token=REDACTED&token_type=bearer');
    assert.equal(fullUrl(cb), 'https://app/cb#access_token=REDACTED&token_type=bearer');
    assert.equal(fullUrl(new URL('https://app/doc#section-2')), 'https://app/doc#section-2');
    assert.equal(
      fullUrl(new URL('https://app/#/callback?access_token=tok&state=s')),
      'https://app/#/callback?access_token=REDACTED&state=s',
    );
  });
  it('semconvOptIn reads http/dup and database/dup', () => {
    assert.deepEqual(semconvOptIn({}), { httpDup: false, databaseDup: false });
    assert.deepEqual(semconvOptIn({ OTEL_SEMCONV_STABILITY_OPT_IN: 'http' }), {
      httpDup: false,
      databaseDup: false,
    });
    assert.deepEqual(semconvOptIn({ OTEL_SEMCONV_STABILITY_OPT_IN: ' HTTP/dup , database/dup' }), {
      httpDup: true,
      databaseDup: true,
    });
  });
  it('the environment is read once: currentOptIn() keeps its value until reloadSemconvOptIn()', () => {
    const saved = process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
    try {
      delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
      assert.deepEqual(reloadSemconvOptIn(), { httpDup: false, databaseDup: false });
      process.env.OTEL_SEMCONV_STABILITY_OPT_IN = 'database/dup';
      assert.equal(currentOptIn().databaseDup, false, 'not re-read per call');
      assert.equal(dbAttributes({ system: 'postgresql', queryText: 'SELECT 1' })['db.statement'], undefined);
      reloadSemconvOptIn();
      assert.equal(currentOptIn().databaseDup, true);
      assert.equal(dbAttributes({ system: 'postgresql', queryText: 'SELECT 1' })['db.statement'], 'SELECT 1');
    } finally {
      if (saved === undefined) delete process.env.OTEL_SEMCONV_STABILITY_OPT_IN;
      else process.env.OTEL_SEMCONV_STABILITY_OPT_IN = saved;
      reloadSemconvOptIn();
    }
  });
  it('dbAttributes: stable names only, duplicates with database/dup', () => {
    const a = {
      system: 'postgresql',
      namespace: 'app',
      operation: 'SELECT',
      collection: 'users',
      queryText: 'SELECT 1',
    };
    const stable = dbAttributes(a, { httpDup: false, databaseDup: false });
    assert.equal(stable['db.system.name'], 'postgresql');
    assert.equal(stable['db.query.text'], 'SELECT 1');
    assert.equal(stable['db.system'], undefined);
    assert.equal(stable['db.statement'], undefined);
    const dup = dbAttributes(a, { httpDup: false, databaseDup: true });
    assert.equal(dup['db.system'], 'postgresql');
    assert.equal(dup['db.statement'], 'SELECT 1');
    assert.equal(dup['db.query.text'], 'SELECT 1');
  });
  it('withHttpDup leaves attributes alone unless asked', () => {
    const attrs = { 'http.request.method': 'GET' };
    assert.equal(withHttpDup(attrs, 'client', { httpDup: false, databaseDup: false }), attrs);
    assert.equal(withHttpDup(attrs, 'client', { httpDup: true, databaseDup: false })['http.method'], 'GET');
  });

  it('redactQuery refuses a value that is not a string with a ConfigError', async () => {
    const { ConfigError } = await import('../../lib/core/errors.js');
    for (const bad of [undefined, null, 5, { q: 1 }])
      assert.throws(
        () => redactQuery(bad as never),
        (e: unknown) => e instanceof ConfigError && e.issues[0]?.path === 'query',
      );
    assert.equal(redactQuery('a=1&token=x'), 'a=1&token=REDACTED');
  });
});
