/**
 * drainServer's `logger`. A logger that throws (a closed destination) made the drain throw from
 * its own promise: `app.close()` rejected ("disposer http failed") and the listening socket stayed
 * open, answering 503 and keeping the process alive; from its timers and from a request listener
 * (an `admit` that throws) it was an uncaught exception mid-shutdown. A pino instance given as it
 * is (the option's message-first calls) lost each record's fields. Records are now best effort,
 * and the logger is adapted as createApp adapts its own.
 *
 * Fails on the old code: the close rejects with the listener open; the pino record has no fields.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createApp, drainServer } from '../../lib/core/index.js';

const boom = () => {
  throw new Error('log destination closed');
};

async function listening(handler: Parameters<typeof createServer>[1]) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('drainServer: its logger', () => {
  it('one that throws: the close still resolves and the listening socket is closed', async () => {
    let arrived = false;
    const { server, url } = await listening((_req, res) => {
      arrived = true;
      setTimeout(() => res.end('ok'), 200);
    });
    const logger = { debug: boom, info: boom, warn: boom, error: boom };
    const app = createApp({ logger });
    app.defer('http', drainServer(server, { graceMs: 50, logger: app.logger }));
    // One request running when the drain starts: it is cut at the end of the grace period (a warning).
    const answer = fetch(url).then(
      (r) => r.text(),
      () => 'cut',
    );
    for (let i = 0; i < 100 && !arrived; i++) await new Promise((r) => setTimeout(r, 10));
    await app.close();
    assert.equal(server.listening, false);
    assert.equal(await answer, 'cut');
  });

  it('a pino instance as it is: the records keep their fields', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const { server } = await listening((_req, res) => res.end('ok'));
    await drainServer(server, { graceMs: 50, logger: pino(sink) })();
    const draining = lines.find((l) => l.msg === 'http: draining');
    assert.ok(draining, JSON.stringify(lines));
    assert.equal(draining.graceMs, 50, JSON.stringify(draining));
    assert.equal(draining.connections, 0);
  });
});
