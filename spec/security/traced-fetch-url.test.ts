/**
 * `tracedFetch` given a URL that does not parse, with credentials in it (a port out of range, a
 * space in the host: a URL assembled from settings). It rethrew `new URL`'s TypeError, whose
 * enumerable `input` held the whole text: `JSON.stringify(err)`, `util.inspect(err)` and any
 * logger writing an error's own fields showed the password and the query's token. Found from
 * outside.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { createApp } from '../../lib/core/app.js';
import { tracedFetch } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const SECRET = 'S3CRET-fetch-url-password-4d2a';
const TOKEN = 'S3CRET-fetch-url-token-9b1e';

const tracer = createOtelTracer({ serviceName: 'fetch-url', exporter: 'memory' });
const app = createApp({ tracer });
after(() => app.close());

/** Every way a caller or a log pipeline prints an error. */
function printed(err: unknown): string {
  return [
    String(err),
    (err as Error).stack,
    inspect(err, { depth: 10, showHidden: true }),
    JSON.stringify(err),
    JSON.stringify({ ...(err as object) }),
  ].join('\n');
}

describe('tracedFetch with a URL that does not parse shows none of its credentials', () => {
  const cases: [url: string, shown: string][] = [
    [
      `http://app:${SECRET}@127.0.0.1:99999/v1?token=${TOKEN}`,
      'http://[redacted]@127.0.0.1:99999/v1?[redacted]',
    ],
    [`https://${SECRET}@bad host/`, 'https://[redacted]@bad host/'],
    // A password holding `/` and `@`: everything up to the last `@` goes.
    [`http://app:pa/ss@${SECRET}@127.0.0.1:99999/`, 'http://[redacted]@127.0.0.1:99999/'],
    [`http://127.0.0.1:99999/cb#access_token=${TOKEN}`, 'http://127.0.0.1:99999/cb#[redacted]'],
  ];
  for (const [url, shown] of cases)
    it(shown, async () => {
      const err = await tracedFetch(app.ctx, url).then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof TypeError, String(err));
      // Still what `new URL` throws, for callers that test the code.
      assert.equal((err as { code?: unknown }).code, 'ERR_INVALID_URL');
      assert.equal((err as { input?: unknown }).input, shown);
      assert.match((err as Error).message, /invalid URL/);
      const text = printed(err);
      for (const secret of [SECRET, TOKEN]) assert.ok(!text.includes(secret), `${secret} printed:\n${text}`);
    });
});
