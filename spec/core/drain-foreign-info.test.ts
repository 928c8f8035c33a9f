/**
 * The drain is often handed over as a callback, and close-with-grace calls its handler with
 * `{ signal: 'SIGTERM', err, manual }`: a `signal` that is the signal's name. The drain rejected
 * with a raw TypeError (`info.signal?.addEventListener is not a function`) — it is documented to
 * never reject — and left the server listening, answering 503 to every request for good. Found
 * from outside. A `signal` that is not an AbortSignal is now no signal, and `null` is no info.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { it } from 'node:test';
import { drainServer } from '../../lib/core/index.js';

for (const [what, info] of [
  [
    "close-with-grace's { signal: 'SIGTERM', err, manual }",
    { signal: 'SIGTERM', err: undefined, manual: false },
  ],
  ['{ signal: null }', { signal: null }],
  ['null', null],
] as const) {
  it(`drain called with ${what} drains and closes the listener`, async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
    const drain = drainServer(server, { graceMs: 200, quietMs: 20 });
    try {
      await drain(info as never);
      assert.equal(server.listening, false, 'the listener is closed');
    } finally {
      server.closeAllConnections();
      if (server.listening) server.close();
    }
  });
}
