import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { Agent, createServer, request } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../lib/core/index.js';
import { withTimeout } from '../../lib/core/timeout.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { describeWithServers } from '../harness/process.js';
import { createTestPki, skipOpenssl, type TestPki } from '../harness/tls.js';

const quiet = { logger: { warn() {} } };

/**
 * A collect callback taking `ms` (a pool-stats query, say). `started()` resolves once a scrape has
 * called it, i.e. the scrape is in progress on the server; `done` is true once it has returned.
 * The tests wait for `started()` rather than sleeping: a fixed 50–100 ms sleep ended, on a loaded
 * machine (the process descheduled, a GC pause), before the scrape had even reached the server,
 * and close() then met no scrape at all (official CI shape: "app.close() took 0 ms").
 */
function slowCollect(m: ReturnType<typeof createMetrics>, ms: number, unref = false) {
  let begun!: () => void;
  const started = new Promise<void>((resolve) => {
    begun = resolve;
  });
  const state = {
    done: false,
    started: () =>
      withTimeout(started, 10_000, () => new Error('no scrape reached the collect callback within 10 s')),
  };
  m.onCollect(() => {
    begun();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        state.done = true;
        resolve();
      }, ms);
      if (unref) timer.unref();
    });
  });
  return state;
}

describe('prometheus metrics: endpoint lifecycle', () => {
  it('close() while listen() is still binding settles listen(): it rejects with MetricsError closed, nothing listens', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const listening = m.listen();
    await m.close();
    // Before the fix listen() never settled: a startup awaiting it hung forever.
    const err = await withTimeout(
      listening.then(
        () => undefined,
        (e: unknown) => e,
      ),
      5_000,
      () => new Error('listen() did not settle within 5 s of close()'),
    );
    assert.ok(err instanceof Error, 'listen() must reject once the adapter is closed');
    assert.equal((err as { code?: string }).code, 'closed');
    assert.equal(m.address, undefined);
    await assert.rejects(m.listen(), { code: 'closed' });
  });

  it('a second close() resolves only once the first has closed the endpoint', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const { url } = (await m.listen())!;
    // A scrape held open by a slow collect callback: the first close has a connection to end.
    const collect = slowCollect(m, 200);
    const scrape = new Promise<void>((resolve) => {
      const req = request(url, (res) => res.resume().on('close', resolve));
      req.on('error', () => resolve());
      req.end();
    });
    await collect.started();
    let firstDone = false;
    const first = m.close().then(() => {
      firstDone = true;
    });
    // Before, the second call returned at once (a flag was set), while the first was still closing.
    await m.close();
    assert.ok(firstDone, 'the second close() resolved before the endpoint was closed');
    await first;
    await scrape;
  });
});

/** One GET over its own connection: status and body, or the socket error's code. */
const scrapeOnce = (url: string, agent?: Agent) =>
  new Promise<{ status?: number; body?: string; error?: string }>((resolve) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });

describe('prometheus metrics: close() with scrapes in progress', () => {
  it('a scrape running when close() is called gets its full answer; close() resolves once it is done', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    m.gauge({ name: 'queue_depth', help: 'Jobs waiting' }).set(3);
    const { url } = (await m.listen())!;
    // A collect callback slower than the moment close() is called (a pool-stats query, say).
    const collect = slowCollect(m, 300);
    const scrape = scrapeOnce(url);
    await collect.started();
    const started = performance.now();
    await m.close();
    const took = performance.now() - started;
    // close() waited for the scrape (checked by order, not by a lower bound on `took`: a stall
    // between the scrape's start and close() shortened the wait below any fixed bound).
    assert.ok(collect.done, 'close() resolved while the scrape was still collecting');
    // Before: the connection was destroyed at once (ECONNRESET), Prometheus recorded a failed scrape.
    const r = await scrape;
    assert.equal(r.error, undefined, `the scrape was cut: ${r.error}`);
    assert.equal(r.status, 200);
    assert.match(r.body!, /^queue_depth 3$/m);
    assert.ok(took < 3000, `close() took ${Math.round(took)} ms`);
  });

  it('a scrape whose answer is still being written to a slow reader when close() is called gets all of it', async () => {
    // An exposition of ~20 MB, more than the loopback socket buffers hold: while the scraper reads
    // slowly, most of the body still waits in the server. node:http counts an ended response as
    // done, so close() (its closeIdleConnections) destroyed the connection with the rest unsent:
    // the scraper got 3.9 of 11.4 MB in a scratch run, and close() resolved at once.
    const m = createMetrics({ ...quiet, port: 0, maxSeriesPerMetric: 100_000 });
    const g = m.gauge({ name: 'big', help: 'Many long series', labelNames: ['id'] });
    const pad = 'x'.repeat(250);
    for (let i = 0; i < 80_000; i++) g.set({ id: `${pad}${i}` }, i);
    const { port } = (await m.listen())!;
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const ended = new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => {});
    });
    const first = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    // The answer is being written: stop reading, so that the rest stays in the server.
    await withTimeout(first, 30_000, () => new Error('no answer within 30 s'));
    socket.pause();
    const closing = m.close();
    socket.resume();
    await closing;
    await withTimeout(ended, 30_000, () => new Error('the connection did not end within 30 s'));
    const raw = Buffer.concat(chunks);
    const head = raw.indexOf('\r\n\r\n');
    const length = Number(/content-length: (\d+)/i.exec(raw.subarray(0, head).toString('latin1'))?.[1]);
    assert.ok(length > 10_000_000, `content-length ${length}`);
    assert.equal(raw.length - head - 4, length, 'the scraper got only part of the body');
  });

  it('address is undefined after close() (it was the old, now closed, address); nothing listens there', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const addr = (await m.listen())!;
    assert.deepEqual(m.address, addr);
    await m.close();
    assert.equal(m.address, undefined);
    const r = await scrapeOnce(addr.url);
    assert.equal(r.error, 'ECONNREFUSED');
  });

  it('a client still sending its headers when close() is called does not hold close() past its bound', async () => {
    // collectTimeoutMs 500: close() waits for scrapes 1.5 s at most.
    const m = createMetrics({ ...quiet, port: 0, collectTimeoutMs: 500 });
    const { url, port } = (await m.listen())!;
    const collect = slowCollect(m, 300);
    const stalled = connect(port, '127.0.0.1');
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.on('error', () => {});
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // half its headers, then nothing
    const scrape = scrapeOnce(url);
    await collect.started();
    const started = performance.now();
    try {
      // Before: the scrape finished, the half-sent request kept its connection, and closing the
      // server had stopped Node's 408 check: close() never resolved while that client waited.
      await withTimeout(
        m.close(),
        6_000,
        () => new Error('close() waited for a client still sending its headers'),
      );
      const took = performance.now() - started;
      assert.ok(took < 3000, `close() took ${Math.round(took)} ms`);
      assert.equal((await scrape).status, 200, 'the scrape in progress still got its answer');
      await withTimeout(stalledClosed, 1_000, () => new Error('the stalled connection is still open'));
    } finally {
      stalled.destroy();
    }
  });

  // The budget is 2 s, not 1 s: close() cuts at the budget less 10 % (up to 250 ms), and a stall
  // of the loaded test machine longer than that margin (100 ms at 1 s) across the cut let the
  // disposer's own timer fire first. Whether close() fits is checked by app.close() resolving:
  // a disposer over its budget makes it reject with the TimeoutError.
  it("close() fits in a createApp disposer's budget: app.defer('metrics', (info) => metrics.close(info)) with 2 s", async () => {
    const warnings: string[] = [];
    const metrics = createMetrics({ port: 0, logger: { warn: (w: string) => warnings.push(w) } });
    // A collect callback slower than the budget: the scrape cannot finish in time.
    const collect = slowCollect(metrics, 4000, true);
    const app = createApp({ metrics, disposeTimeoutMs: 2000 });
    // Runs before the `metrics` part (registered later), with the budget; the part's own close()
    // then returns the same, settled, close.
    app.defer('metrics-budget', (info) => metrics.close(info));
    const { url } = (await metrics.listen())!;
    const scrape = scrapeOnce(url);
    await collect.started();
    const started = performance.now();
    // Before: close() ignored the budget and waited 6 s for the scrape; both disposers timed out
    // and app.close() rejected with an AggregateError.
    await app.close();
    const took = performance.now() - started;
    assert.ok(took >= 1200, `app.close() took ${Math.round(took)} ms: the scrape was not given the budget`);
    const r = await withTimeout(scrape, 1000, () => new Error('the scrape was not cut at the budget'));
    assert.ok(r.error !== undefined, `the scrape answered ${r.status}`);
    assert.deepEqual(warnings, ['metrics endpoint: scrapes still running at close were cut']);
    assert.equal(metrics.address, undefined);
  });

  it("createApp passes its disposer budget to the metrics part's close(): 2 s, no defer needed", async () => {
    const warnings: string[] = [];
    const metrics = createMetrics({ port: 0, logger: { warn: (w: string) => warnings.push(w) } });
    const collect = slowCollect(metrics, 4000, true);
    const app = createApp({ metrics, disposeTimeoutMs: 2000 });
    const { url } = (await metrics.listen())!;
    const scrape = scrapeOnce(url);
    await collect.started();
    const started = performance.now();
    // Before: createApp closed the metrics part without its budget; close() waited for the scrape
    // and app.close() rejected with the disposer's TimeoutError.
    await app.close();
    const took = performance.now() - started;
    assert.ok(took >= 1200, `app.close() took ${Math.round(took)} ms: the scrape was not given the budget`);
    const r = await withTimeout(scrape, 1000, () => new Error('the scrape was not cut at the budget'));
    assert.ok(r.error !== undefined, `the scrape answered ${r.status}`);
    assert.deepEqual(warnings, ['metrics endpoint: scrapes still running at close were cut']);
  });

  it('close({ signal }) cuts scrapes in progress when the signal aborts; bad options reject and close nothing', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const collect = slowCollect(m, 3000, true);
    await assert.rejects(m.close({ timeoutMs: -1 }), { name: 'MetricsError', code: 'invalid_option' });
    await assert.rejects(m.close({ signal: 'x' as unknown as AbortSignal }), { code: 'invalid_option' });
    const { url } = (await m.listen())!;
    const scrape = scrapeOnce(url);
    await collect.started();
    const abort = new AbortController();
    const started = performance.now();
    const closing = m.close({ signal: abort.signal });
    setTimeout(() => abort.abort(), 200);
    await closing;
    const took = performance.now() - started;
    assert.ok(took >= 150 && took < 1000, `close() took ${Math.round(took)} ms`);
    assert.ok((await scrape).error !== undefined, 'the scrape was cut');
  });

  it('an idle keep-alive connection (Prometheus keeps one) does not hold close()', async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const { url } = (await m.listen())!;
    const agent = new Agent({ keepAlive: true });
    try {
      assert.equal((await scrapeOnce(url, agent)).status, 200);
      const started = performance.now();
      await withTimeout(m.close(), 2_000, () => new Error('close() waited for an idle connection'));
      assert.ok(performance.now() - started < 1000);
    } finally {
      agent.destroy();
    }
  });
});

/** Connects (over TLS when `ca` is given), writes `first`, stalls; when and how the server ended it. */
function stallOn(port: number, first: string, ca?: string) {
  return new Promise<{ ms: number; statusLine: string; closed: boolean }>((resolve) => {
    const started = performance.now();
    const socket = ca
      ? tlsConnect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => socket.write(first))
      : connect(port, '127.0.0.1', () => socket.write(first));
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
    });
    socket.on('error', () => {});
    const done = (closed: boolean) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, statusLine: got.split('\r\n')[0] ?? '', closed });
    };
    socket.on('close', () => done(true));
    const timer = setTimeout(() => {
      socket.destroy();
      done(false);
    }, 20_000);
  });
}

// Each test below waits out the endpoint's 10 s request or handshake timeout on its own
// endpoint; nothing is shared, so the suites and their tests run side by side (~10 s, not ~30 s).
describe('prometheus metrics: slow clients', { concurrency: true }, () => {
  describe('prometheus metrics: slow clients on the endpoint', () => {
    it('a connection that sends nothing, or half its headers, gets 408 and is closed after about 10 s', async () => {
      const m = createMetrics({ ...quiet, port: 0 });
      const { port } = (await m.listen())!;
      try {
        // Before: Node's defaults kept both open for 60–90 s.
        const results = await Promise.all([
          stallOn(port, ''),
          stallOn(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n'),
        ]);
        for (const r of results) {
          assert.ok(r.closed, `still open after ${Math.round(r.ms)} ms`);
          assert.ok(r.ms >= 9_500 && r.ms < 15_000, `closed after ${Math.round(r.ms)} ms`);
          assert.match(r.statusLine, /^HTTP\/1\.1 408 /);
        }
      } finally {
        await m.close();
      }
    });

    it('a scraper that sends a scrape and never reads the answer is cut once the answer stalls', async () => {
      // The server's end of each connection, to see it close: the client, not reading, sees nothing.
      const serverSockets: Socket[] = [];
      const onSocket = (message: unknown) => void serverSockets.push((message as { socket: Socket }).socket);
      diagnostics.subscribe('net.server.socket', onSocket);
      // An exposition of ~20 MB, more than the loopback socket buffers hold.
      const m = createMetrics({ ...quiet, port: 0, maxSeriesPerMetric: 100_000 });
      const g = m.gauge({ name: 'big', help: 'Many long series', labelNames: ['id'] });
      const pad = 'x'.repeat(250);
      for (let i = 0; i < 80_000; i++) g.set({ id: `${pad}${i}` }, i);
      const { port } = (await m.listen())!;
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      try {
        const first = new Promise<void>((resolve) => socket.once('data', () => resolve()));
        socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
        await withTimeout(first, 30_000, () => new Error('no answer within 30 s'));
        socket.pause();
        const theirs = serverSockets.find((s) => s.remotePort === socket.localPort);
        assert.ok(theirs, "the server's end of the connection was not seen");
        // Before: held until close(), with the rest of the body (30 such scrapers held ~1 GB).
        if (!theirs.destroyed)
          await withTimeout(
            new Promise<void>((resolve) => theirs.once('close', () => resolve())),
            60_000,
            () => new Error('the connection of a scraper that reads nothing is still open 60 s on'),
          );
      } finally {
        diagnostics.unsubscribe('net.server.socket', onSocket);
        socket.destroy();
        await m.close();
      }
    });

    it('a pipelined second scrape that is never read is cut too, after the first was read in full', async () => {
      const serverSockets: Socket[] = [];
      const onSocket = (message: unknown) => void serverSockets.push((message as { socket: Socket }).socket);
      diagnostics.subscribe('net.server.socket', onSocket);
      // ~20 MB per answer, more than the loopback socket buffers hold.
      const m = createMetrics({ ...quiet, port: 0, maxSeriesPerMetric: 100_000 });
      const g = m.gauge({ name: 'big', help: 'Many long series', labelNames: ['id'] });
      const pad = 'x'.repeat(250);
      for (let i = 0; i < 80_000; i++) g.set({ id: `${pad}${i}` }, i);
      const { port } = (await m.listen())!;
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      try {
        // Reads the first answer (headers and Content-Length bytes of body), then nothing more.
        const firstRead = new Promise<void>((resolve) => {
          let head = Buffer.alloc(0);
          let firstEnd = -1;
          let got = 0;
          socket.on('data', (b: Buffer) => {
            got += b.length;
            if (firstEnd < 0) {
              head = Buffer.concat([head, b]);
              const end = head.indexOf('\r\n\r\n');
              if (end >= 0) {
                const length = /\r\ncontent-length: (\d+)\r\n/i.exec(
                  head.subarray(0, end).toString('latin1'),
                );
                firstEnd = end + 4 + Number(length?.[1]);
                head = Buffer.alloc(0);
              }
            }
            if (firstEnd >= 0 && got >= firstEnd) {
              socket.pause();
              resolve();
            }
          });
        });
        socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
        await withTimeout(firstRead, 60_000, () => new Error('the first answer was not read within 60 s'));
        const theirs = serverSockets.find((s) => s.remotePort === socket.localPort);
        assert.ok(theirs, "the server's end of the connection was not seen");
        // Before: the first answer's end lifted the stall timer the second had just set on the
        // connection, which was then held, with the second body, until close().
        if (!theirs.destroyed)
          await withTimeout(
            new Promise<void>((resolve) => theirs.once('close', () => resolve())),
            60_000,
            () => new Error('the connection of a scraper that stopped reading is still open 60 s on'),
          );
      } finally {
        diagnostics.unsubscribe('net.server.socket', onSocket);
        socket.destroy();
        await m.close();
      }
    });
  });

  describeWithServers(
    'prometheus metrics: slow clients on the HTTPS endpoint',
    skipOpenssl(),
    () => {
      let pki: TestPki;
      before(async () => {
        pki = await createTestPki();
      });
      after(() => pki?.remove());

      it('a scraper reading a large answer slowly is not cut as a stalled one', async () => {
        const serverSockets: Socket[] = [];
        const onSocket = (message: unknown) =>
          void serverSockets.push((message as { socket: Socket }).socket);
        diagnostics.subscribe('net.server.socket', onSocket);
        // ~20 MB, more than the loopback socket buffers hold.
        const m = createMetrics({
          ...quiet,
          port: 0,
          tls: { cert: pki.server.certPem, key: pki.server.keyPem },
          maxSeriesPerMetric: 100_000,
        });
        const g = m.gauge({ name: 'big', help: 'Many long series', labelNames: ['id'] });
        const pad = 'x'.repeat(250);
        for (let i = 0; i < 80_000; i++) g.set({ id: `${pad}${i}` }, i);
        const { port } = (await m.listen())!;
        const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
        socket.on('error', () => {});
        let got = 0;
        try {
          // Reads, with a pause of 100 ms after each TLS record (~150 KB/s on an idle machine).
          socket.on('data', (b: Buffer) => {
            got += b.length;
            socket.pause();
            setTimeout(() => socket.resume(), 100);
          });
          socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
          await withTimeout(
            new Promise<void>((resolve) => socket.once('data', () => resolve())),
            30_000,
            () => new Error('no answer within 30 s'),
          );
          // Before: the body went as one write, which showed the server's socket no progress until
          // all of it was out, so the stall timer cut this reader after 10 s (at ~3 of 20 MB).
          for (let s = 0; s < 30 && got < 20_000_000; s++) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            const theirs = serverSockets.find((x) => x.remotePort === socket.localPort);
            assert.ok(
              theirs === undefined || !theirs.destroyed,
              `a scraper still reading was cut after ${got} bytes`,
            );
            assert.ok(!socket.destroyed, `a scraper still reading was cut after ${got} bytes`);
          }
        } finally {
          diagnostics.unsubscribe('net.server.socket', onSocket);
          socket.destroy();
          await m.close();
        }
      });

      it('a TLS connection that sends no request gets 408 and is closed after about 10 s', async () => {
        const m = createMetrics({
          ...quiet,
          port: 0,
          tls: { cert: pki.server.certPem, key: pki.server.keyPem },
        });
        const { port } = (await m.listen())!;
        try {
          const r = await stallOn(port, '', pki.ca.certPem);
          assert.ok(r.closed, `still open after ${Math.round(r.ms)} ms`);
          assert.ok(r.ms >= 9_500 && r.ms < 15_000, `closed after ${Math.round(r.ms)} ms`);
          assert.match(r.statusLine, /^HTTP\/1\.1 408 /);
        } finally {
          await m.close();
        }
      });

      it('a TCP connection that never starts its TLS handshake is closed after about 10 s and does not hold close()', async () => {
        const m = createMetrics({
          ...quiet,
          port: 0,
          tls: { cert: pki.server.certPem, key: pki.server.keyPem },
        });
        const { port } = (await m.listen())!;
        try {
          // Before: tls's default handshake timeout, 120 s.
          const r = await stallOn(port, ''); // no ca: plain TCP, no ClientHello
          assert.ok(r.closed, `still open after ${Math.round(r.ms)} ms`);
          assert.ok(r.ms >= 9_500 && r.ms < 15_000, `closed after ${Math.round(r.ms)} ms`);
          // A second one, open when close() is called: node:http does not list a connection before
          // its handshake, so closeAllConnections() left it and close() waited for it (120 s).
          const raw = connect(port, '127.0.0.1');
          raw.on('error', () => {});
          const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
          await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
          await new Promise((resolve) => setTimeout(resolve, 100));
          const started = performance.now();
          try {
            await withTimeout(
              m.close(),
              5_000,
              () => new Error('close() waited for a connection in its TLS handshake'),
            );
            assert.ok(
              performance.now() - started < 1000,
              `close() took ${Math.round(performance.now() - started)} ms`,
            );
            await withTimeout(rawClosed, 1_000, () => new Error('the connection is still open'));
          } finally {
            raw.destroy();
          }
        } finally {
          await m.close();
        }
      });
    },
    { concurrency: true },
  );
});

describe('prometheus metrics: collect callbacks are bounded', () => {
  it('a collect callback that never settles delays a scrape by collectTimeoutMs at most, then is logged and skipped', async () => {
    const warnings: string[] = [];
    const m = createMetrics({ collectTimeoutMs: 100, logger: { warn: (msg) => void warnings.push(msg) } });
    const depth = m.gauge({ name: 'queue_depth', help: 'Jobs waiting' });
    m.onCollect(() => new Promise(() => {})); // e.g. a pool-stats query to a database that hangs
    m.onCollect(() => depth.set(7));
    // Before: every scrape waited for it forever (and piled up, one pending response per scrape).
    const started = performance.now();
    for (let i = 0; i < 2; i++) {
      const { body } = await withTimeout(m.render(), 5_000, () => new Error('render did not finish'));
      assert.match(body, /^queue_depth 7$/m);
    }
    // Its warnings are rate-limited (one per 5 s per callback): the second render's is held back
    // when it came within 5 s of the first (and dropped at close).
    assert.equal(warnings.length, performance.now() - started < 5000 ? 1 : 2);
    assert.match(warnings[0]!, /collect callback/);
    await m.close();
  });

  it('20 concurrent scrapes share one run of each collect callback, and each gets what it collected', async () => {
    const m = createMetrics(quiet);
    const depth = m.gauge({ name: 'queue_depth', help: 'Jobs waiting' });
    let arrived = 0;
    let calls = 0;
    let everyoneIn!: () => void;
    const allArrived = new Promise<void>((r) => {
      everyoneIn = r;
    });
    // The callback (a pool-stats query, say) waits until all 20 scrapes have reached the handler,
    // so every scrape arrives while a run is in progress (bounded: 5 s).
    m.onCollect(async () => {
      calls++;
      await withTimeout(allArrived, 5_000, () => new Error('not all scrapes arrived'));
      depth.set(calls);
    });
    const server = createServer((req, res) => {
      if (++arrived === 20) everyoneIn();
      m.handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      const agent = new Agent({ maxSockets: 20 });
      const answers = await Promise.all(Array.from({ length: 20 }, () => scrapeOnce(url, agent)));
      agent.destroy();
      // Before: 20 calls at once, one per scrape (a burst of scrapes was a burst of DB queries).
      assert.equal(calls, 1);
      for (const a of answers) {
        assert.equal(a.status, 200, a.error);
        assert.match(a.body!, /^queue_depth 1$/m);
      }
      // A scrape after the run has finished runs the callbacks again.
      assert.match((await scrapeOnce(url)).body!, /^queue_depth 2$/m);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await m.close();
    }
  });

  it('metrics.handler mounted behind middleware whose res.write drops the callback (a deflate/br compressor): the answer ends', async () => {
    const m = createMetrics(quiet);
    m.counter({ name: 'jobs_total', help: 'Jobs' }).inc();
    const server = createServer((req, res) => {
      // As a compressor does: the length dropped (the body it sends is another one, chunked),
      // and `write(chunk, encoding)` without passing the callback on.
      const writeHead = res.writeHead.bind(res) as (
        status: number,
        headers: Record<string, unknown>,
      ) => unknown;
      res.writeHead = ((status: number, headers: Record<string, unknown>) => {
        const { 'content-length': _dropped, ...rest } = headers;
        return writeHead(status, rest);
      }) as typeof res.writeHead;
      const write = res.write.bind(res) as (chunk: unknown, encoding?: BufferEncoding) => boolean;
      res.write = ((chunk: unknown, encoding?: unknown) =>
        write(
          chunk,
          typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined,
        )) as typeof res.write;
      m.handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      // Bounded: the answer used to never end (its headers came, then nothing).
      const a = await withTimeout(scrapeOnce(url), 10_000, () => new Error('the answer never ended'));
      assert.equal(a.status, 200, a.error);
      assert.match(a.body!, /^jobs_total 1$/m);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await m.close();
    }
  });

  it('listen() serves an absolute-form target (GET http://host:port/metrics), as a server must (RFC 9112 3.2.2)', async () => {
    const m = createMetrics({ port: 0 });
    const addr = await m.listen();
    try {
      const get = (path: string) =>
        new Promise<number | undefined>((resolve, reject) => {
          const req = request({ host: addr!.host, port: addr!.port, path }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          });
          req.on('error', reject);
          req.end();
        });
      assert.equal(await get(addr!.url), 200);
      assert.equal(await get(`${addr!.url}?x=1`), 200);
      assert.equal(await get(`http://${addr!.host}:${addr!.port}/other`), 404);
    } finally {
      await m.close();
    }
  });

  it("CONNECT gets listen()'s 405 with Allow like any other method, not a connection closed without a word", async () => {
    const m = createMetrics({ ...quiet, port: 0 });
    const { port } = (await m.listen())!;
    try {
      for (const target of ['example.com:443', '/metrics']) {
        const raw = await new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          let got = '';
          socket.on('data', (b: Buffer) => {
            got += b.toString('latin1');
          });
          socket.on('close', () => resolve(got));
          socket.on('error', reject);
          socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
          socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
        });
        // Before: node:http destroyed the connection (no 'connect' listener), the client read nothing.
        assert.match(raw, /^HTTP\/1\.1 405 Method Not Allowed\r\n/, `${target}: ${JSON.stringify(raw)}`);
        assert.ok(raw.includes('\r\nAllow: GET, HEAD\r\n'), JSON.stringify(raw));
        assert.ok(raw.endsWith('\r\n\r\nmethod not allowed\n'), JSON.stringify(raw));
      }
      // The endpoint still serves scrapes.
      assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
    } finally {
      await m.close();
    }
  });

  it('collectTimeoutMs is checked', () => {
    for (const bad of [0, -1, Number.NaN, 2 ** 31])
      assert.throws(() => createMetrics({ ...quiet, collectTimeoutMs: bad }), { code: 'invalid_option' });
  });
});

describe('prometheus metrics: a server error after listening', () => {
  it('an accept error (EMFILE) on the listening server is logged, and close() still closes the server', async () => {
    // Capture the server the adapter creates (http.Server instances share this prototype).
    const { Server } = await import('node:http');
    const servers: InstanceType<typeof Server>[] = [];
    const proto = Server.prototype as unknown as { listen: (...a: unknown[]) => unknown };
    const original = proto.listen;
    proto.listen = function (this: InstanceType<typeof Server>, ...a: unknown[]) {
      servers.push(this);
      return original.apply(this, a);
    };
    const warnings: string[] = [];
    let m: ReturnType<typeof createMetrics>;
    try {
      m = createMetrics({ port: 0, logger: { warn: (msg) => void warnings.push(msg) } });
      await m.listen();
    } finally {
      proto.listen = original;
    }
    const srv = servers.at(-1)!;
    // What net.Server emits when accept() fails, e.g. out of file descriptors. Before: the
    // adapter forgot its server on this event, so close() left it listening (the process then
    // never exits); without any listener it would be an uncaught 'error' event.
    srv.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }));
    await m.close();
    assert.equal(srv.listening, false, 'close() must close the server');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /metrics endpoint/);
  });
});

describe('prometheus metrics: render() with nothing else on the event loop', () => {
  const index = fileURLToPath(new URL('../../lib/metrics/prometheus/index.ts', import.meta.url));
  /** Runs `body` in a fresh process after a `metrics` (collectTimeoutMs 200) with a hanging collect of `kind`. */
  const run = (kind: 'foreign' | 'onCollect', body: string) => {
    const script = `
      import * as client from 'prom-client';
      import { createMetrics } from ${JSON.stringify(index)};
      const registry = new client.Registry();
      ${kind === 'foreign' ? "new client.Gauge({ name: 'pool_waiting', help: 'w', registers: [registry], collect: () => new Promise(() => {}) });" : ''}
      const metrics = createMetrics({ registry, collectTimeoutMs: 200, logger: { warn() {} } });
      metrics.gauge({ name: 'queue_depth', help: 'q' }).set(7);
      ${kind === 'onCollect' ? 'metrics.onCollect(() => new Promise(() => {}));' : ''}
      ${body}
    `;
    return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 30_000,
      encoding: 'utf8',
    });
  };

  // The collection's timers are unref'd: with nothing else holding the loop, the process exited
  // (code 13, "unsettled top-level await") with render() still pending, and nothing rendered.
  it("after close(), a hanging collect() of other code's metric: render() settles within collectTimeoutMs", () => {
    const r = run(
      'foreign',
      'await metrics.close(); const { body } = await metrics.render(); console.log(body.match(/^queue_depth .*$/m)[0]);',
    );
    assert.equal(r.signal, null, 'the process had to be killed');
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'queue_depth 7');
  });

  it('a hanging onCollect callback in a script: render() settles within collectTimeoutMs', () => {
    const r = run(
      'onCollect',
      'const { body } = await metrics.render(); console.log(body.match(/^queue_depth .*$/m)[0]);',
    );
    assert.equal(r.signal, null, 'the process had to be killed');
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'queue_depth 7');
  });
});
