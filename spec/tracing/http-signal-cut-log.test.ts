/**
 * A `traceHandler` handler that honours `ctx.signal` (here through `tracedFetch`, which follows it)
 * rejects with its abort when the client hangs up. That was logged as `request handler failed` at
 * error level, with the AbortError's stack, for every client that went away — though the server
 * span and the request metric already record the request as `aborted`. So was the premature close
 * of a response the handler streamed into with `pipeline()`. Both are an info record now; any other
 * error a handler rejects with after its client left is still `request handler failed`.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { Logger } from '../../lib/core/contracts.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

const records: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const logger: Logger = {
  debug: () => {},
  info: (msg, fields) => void records.push({ level: 'info', msg, fields }),
  warn: (msg, fields) => void records.push({ level: 'warn', msg, fields }),
  error: (msg, fields) => void records.push({ level: 'error', msg, fields }),
  child: () => logger,
};

const tracer = createOtelTracer({ serviceName: 'http-signal-cut-log', exporter: 'memory', logger });
const app = createApp({ tracer, logger });
/** The upstream: holds every answer (the test ends them). */
const held: ServerResponse[] = [];
const upstream = createServer((req, res) => {
  // `/stream`: a first chunk at once, the rest never (until the test ends).
  if (req.url === '/stream') res.write('first chunk');
  held.push(res);
});
let server: Server;
let port = 0;

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  server = createServer((req, res) => {
    const handler =
      req.url === '/fetch'
        ? async (ctx: typeof app.ctx) => {
            const answer = await tracedFetch(ctx, up);
            res.end(await answer.text());
          }
        : req.url === '/pipe'
          ? async (ctx: typeof app.ctx) => {
              // Streams the upstream's body into the response (a proxy).
              const answer = await tracedFetch(ctx, `${up}/stream`);
              await pipeline(Readable.fromWeb(answer.body as WebReadable<Uint8Array>), res);
            }
          : async (ctx: typeof app.ctx) => {
              // Waits for the abort, then fails with an error of its own.
              await new Promise((resolve) => ctx.signal?.addEventListener('abort', resolve));
              throw new Error('bookkeeping broke');
            };
    return traceHandler(app.ctx, (ctx) => handler(ctx), { route: req.url ?? '/' })(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  for (const res of held) res.destroy();
  upstream.closeAllConnections();
  server.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  await new Promise((r) => server.close(r));
  await app.close();
});

/** Sends GET `path` and hangs up once `ready()` holds (or, with `firstChunk`, once a chunk came). */
async function hangUp(path: string, ready: () => boolean, firstChunk = false): Promise<void> {
  const began = new Promise<void>((resolve) => server.once('request', () => resolve()));
  let chunk = false;
  const req = request({ host: '127.0.0.1', port, path }, (res) => res.once('data', () => (chunk = true)));
  req.on('error', () => {});
  req.end();
  await began;
  await waitFor(() => ready() && (!firstChunk || chunk), { what: `the handler of ${path} to be waiting` });
  req.destroy();
}

describe('traceHandler: a handler stopped by its cut request', () => {
  it('rejecting with the abort of ctx.signal after the client left is no "request handler failed"', async () => {
    records.length = 0;
    await hangUp('/fetch', () => held.length === 1);
    const seen = await waitFor(() => records.find((r) => r.msg.startsWith('request handler')), {
      what: 'the record of the stopped handler',
    });
    assert.equal(seen.level, 'info', JSON.stringify(records));
    assert.equal(seen.msg, 'request handler stopped: its request was cut');
    assert.equal(seen.fields?.reason, 'aborted');
    assert.deepEqual(
      records.filter((r) => r.level === 'error').map((r) => r.msg),
      [],
    );
    const span = tracer.finishedSpans().find((s) => s.name === 'GET /fetch');
    assert.equal(span?.attributes['error.type'], 'aborted');
  });

  it('a response streamed with pipeline() whose client left is no "request handler failed"', async () => {
    records.length = 0;
    held.length = 0;
    await hangUp('/pipe', () => held.length === 1, true);
    const seen = await waitFor(() => records.find((r) => r.msg.startsWith('request handler')), {
      what: 'the record of the stopped handler',
    });
    assert.equal(seen.level, 'info', JSON.stringify(records));
    assert.equal(seen.msg, 'request handler stopped: its request was cut');
    const span = tracer.finishedSpans().find((s) => s.name === 'GET /pipe');
    assert.equal(span?.attributes['error.type'], 'aborted');
  });

  it('another error after the client left is still "request handler failed"', async () => {
    records.length = 0;
    // The handler registers its abort listener synchronously: it is waiting once the request came.
    await hangUp('/other', () => true);
    const seen = await waitFor(() => records.find((r) => r.msg.startsWith('request handler')), {
      what: 'the record of the failed handler',
    });
    assert.equal(seen.level, 'error');
    assert.equal(seen.msg, 'request handler failed');
  });
});
