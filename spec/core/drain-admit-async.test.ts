/**
 * `drainServer(server, { admit })` given an async `admit` (from JavaScript: TypeScript refuses
 * one). The drain must serve or refuse a late request at once, and the promise was read as `true`:
 * every request arriving during the drain was served, none refused; and a rejection of it was
 * unhandled, which by default ends the process in the middle of the shutdown. Such an answer now
 * counts as no, as a throw does (a 503 and one warning), and its rejection is handled.
 */
import assert from 'node:assert/strict';
import { createServer, get, type Server } from 'node:http';
import { it } from 'node:test';
import type { Logger } from '../../lib/core/contracts.js';
import { drainServer } from '../../lib/core/drain.js';

function listen(server: Server): Promise<number> {
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)),
  );
}

function fetchStatus(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

it('an async admit refuses every late request (503) with one warning; its rejection is handled', async (t) => {
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    res.end('served');
  });
  t.after(() => server.closeAllConnections());
  const port = await listen(server);
  const warnings: string[] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message) => void warnings.push(message),
    error() {},
    child: () => logger,
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);
  process.prependListener('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  const admit = async (req: { url?: string }) => {
    if (req.url === '/lookup-fails') throw new Error('peer lookup failed');
    return req.url === '/peer';
  };
  const drain = drainServer(server, {
    admit: admit as unknown as (req: unknown) => boolean,
    quietMs: 300,
    logger,
  });
  const draining = drain();
  const answers = await Promise.all(['/peer', '/other', '/lookup-fails'].map((p) => fetchStatus(port, p)));
  assert.deepEqual(
    answers.map((a) => a.status),
    [503, 503, 503],
  );
  assert.deepEqual(served, []);
  await draining;
  // A rejection is reported once the turn it happened in has run its microtasks: past that now.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled, []);
  const warned = warnings.filter((m) => m.includes('admit returned a promise'));
  assert.equal(warned.length, 1, JSON.stringify(warnings));
});
