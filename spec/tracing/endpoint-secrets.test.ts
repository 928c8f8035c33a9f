/**
 * Credentials in the endpoint URL (`https://user:pass@collector/v1/traces`, `?api_key=…`) go out
 * with every export: user:pass as `Authorization: Basic <base64>`. A collector or gateway that
 * echoes the request in its refusal put them into `flush()`'s error (its causes keep the response
 * body), as it did for the `headers` values before those were scrubbed.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

const PASSWORD = 'pw-Secr3t-url';
const API_KEY = 'qk-Secr3t-query';
const BASIC = Buffer.from(`collector-user:${PASSWORD}`).toString('base64');

function text(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v instanceof Error
      ? { ...v, message: v.message, stack: v.stack, cause: v.cause }
      : typeof v === 'bigint'
        ? String(v)
        : v,
  );
}

describe('endpoint credentials echoed by the collector', () => {
  // In the body (the OTLP exporter keeps it in the error's `data`), and in the reason phrase, which
  // becomes the error's message: that one reached the 'span export failed' log record unscrubbed.
  for (const where of ['body', 'reason phrase'] as const)
    it(`are not in flush()'s error nor in any log record (otlp, echo in the ${where})`, async () => {
      const seen: (string | undefined)[] = [];
      const server = createServer((req, res) => {
        seen.push(req.headers.authorization);
        req.resume();
        const echo = `unauthorized: ${req.headers.authorization} for ${req.url}`;
        req.on('end', () =>
          where === 'body'
            ? res.writeHead(401, { 'content-type': 'text/plain' }).end(echo)
            : res.writeHead(401, echo, { 'content-type': 'text/plain' }).end(),
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const records: unknown[] = [];
      const logger: Logger = {
        debug: (m: string, f?: LogFields) => void records.push([m, f]),
        info: (m: string, f?: LogFields) => void records.push([m, f]),
        warn: (m: string, f?: LogFields) => void records.push([m, f]),
        error: (m: string, f?: LogFields) => void records.push([m, f]),
        child: () => logger,
      };
      try {
        const tracer = createOtelTracer({
          exporter: 'otlp',
          endpoint: `http://collector-user:${PASSWORD}@127.0.0.1:${port}/v1/traces?api_key=${API_KEY}`,
          logger,
          errorLogIntervalMs: 1,
        });
        tracer.startSpan('op').end();
        const err = await tracer.flush().then(
          () => assert.fail('the collector refused: flush must reject'),
          (e: unknown) => e,
        );
        await tracer.close({ timeoutMs: 1000 });
        // The credentials did go out (so the echo held them) …
        assert.deepEqual(seen, [`Basic ${BASIC}`]);
        // … and come back nowhere.
        const all = `${text(err)}\n${String((err as Error).stack)}\n${text(records)}`;
        assert.match(all, /unauthorized/, 'the echoed body is kept, scrubbed');
        for (const secret of [PASSWORD, API_KEY, BASIC]) assert.ok(!all.includes(secret), `${secret} leaked`);
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });

  // A query value as the request carries it: `+` for a space (its decoded and re-encoded forms
  // were scrubbed, `qk Secr3t`, `qk%20Secr3t`, not `qk+Secr3t`), or with a `'` the URL parser
  // sends percent-encoded (`%27`), which encodeURIComponent leaves as it is.
  for (const [query, sent] of [
    ['api_key=qk+Secr3t+plus', 'qk+Secr3t+plus'],
    ["api_key=qk'Secr3t'quote", 'qk%27Secr3t%27quote'],
  ] as const)
    it(`a query value echoed as sent (${query}) is scrubbed from flush()'s error`, async () => {
      const urls: (string | undefined)[] = [];
      const server = createServer((req, res) => {
        urls.push(req.url);
        req.resume();
        req.on('end', () =>
          res.writeHead(400, { 'content-type': 'text/plain' }).end(`bad request ${req.url}`),
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      try {
        const tracer = createOtelTracer({
          exporter: 'otlp',
          endpoint: `http://127.0.0.1:${port}/v1/traces?${query}`,
          batch: { scheduledDelayMillis: 60_000 },
        });
        tracer.startSpan('op').end();
        const err = await tracer.flush().then(
          () => assert.fail('the collector refused: flush must reject'),
          (e: unknown) => e,
        );
        await tracer.close({ timeoutMs: 1000 });
        assert.deepEqual(urls, [`/v1/traces?api_key=${sent}`]);
        const all = `${text(err)}\n${String((err as Error).stack)}`;
        assert.match(all, /bad request \/v1\/traces\?api_key=\[redacted\]/);
        assert.ok(!all.includes(sent), `${sent} leaked: ${all}`);
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });
});
