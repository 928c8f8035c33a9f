/**
 * Issue 15, "Done when" 1: a collector that (a) refuses connections, (b) accepts and never
 * answers, (c) answers after 10 s — and, beyond the list, one that answers 503 or 429
 * (retry later). For each, an app with default options and 1,000 ended spans (in
 * a child process, the three in parallel): `close()` resolves — never rejects — within its budget,
 * the process exits on its own within 1 s after, and the undelivered spans are counted and reported
 * in one log record.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/process.js';
import { sdk } from './otel-line.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/close-child.ts', import.meta.url));

/** The createApp disposer budget the child runs with (its default). */
const BUDGET_MS = 10_000;

interface ChildReport {
  outcome: string;
  closeMs: number;
  stats: {
    exportedSpans: number;
    lostSpans: number;
    failedExports: number;
    droppedSpans: Record<'queue_full' | 'export_failed' | 'shutdown', number>;
  };
  records: { level: string; message: string; fields?: Record<string, unknown> }[];
}

/** Runs the child against `url`; resolves with its report and how long it lived after printing it. */
function runChild(
  url: string,
  exporter?: string,
): Promise<{ report: ChildReport; exitAfterMs: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child], {
      cwd: root,
      env: { ...process.env, COLLECTOR_URL: url, ...(exporter ? { EXPORTER: exporter } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let reportedAt: number | undefined;
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (reportedAt === undefined && out.includes('\n')) reportedAt = performance.now();
    });
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(kill);
      if (reportedAt === undefined) return reject(new Error(`child printed nothing (code ${code}): ${err}`));
      try {
        const report = JSON.parse(out.split('\n')[0]!) as ChildReport;
        resolve({ report, exitAfterMs: performance.now() - reportedAt, code });
      } catch (e) {
        reject(new Error(`bad child output: ${out}\n${err}`, { cause: e }));
      }
    });
  });
}

describe('tracer close within the disposer budget (collector down or slow)', () => {
  it('refused / closes the connection / never answers / answers after 10 s: close() resolves in budget, exit ≤ 1 s after, spans counted', async (t) => {
    // (a) a closed port: nothing listens.
    const refusedPort = await freePort();
    // (b) accepts, reads, never answers.
    const held = new Set<Socket>();
    const silent = createNetServer((socket) => {
      held.add(socket);
      socket.resume();
      socket.on('error', () => {});
      socket.on('close', () => held.delete(socket));
    });
    // (d) accepts and closes each connection at once, before any answer (a proxy or load balancer
    // without a backend): the request fails with 'socket hang up' (ECONNRESET on the request, not
    // on the socket), which the exporter used to retry on timers that kept the process alive.
    const hangsUp = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end());
    });
    // (c) answers 200 after 10 s.
    const timers = new Set<NodeJS.Timeout>();
    const slow = createHttpServer((req, res) => {
      req.resume();
      const timer = setTimeout(() => res.writeHead(200).end(), 10_000);
      timers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
    });
    // (e) answers at once, asking for a retry later: 503, and 429 with a Retry-After of 20 s (inside
    // the exporter's 30 s export timeout). The exporter used to wait for its retries on timers that
    // close() cannot cancel: the process lived on 2–5 s after close() (11 s with the Retry-After),
    // and close() waited for them until its budget ran out.
    const retryLater = (status: number, retryAfter?: string) =>
      createHttpServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(status, retryAfter ? { 'retry-after': retryAfter } : {}).end());
      });
    const unavailable = retryLater(503);
    const tooMany = retryLater(429, '20');
    await Promise.all([
      new Promise<void>((r) => unavailable.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => tooMany.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => silent.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => slow.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => hangsUp.listen(0, '127.0.0.1', r)),
    ]);
    t.after(() => {
      for (const s of held) s.destroy();
      for (const timer of timers) clearTimeout(timer);
      silent.close();
      hangsUp.close();
      slow.closeAllConnections();
      slow.close();
      for (const srv of [unavailable, tooMany]) {
        srv.closeAllConnections();
        srv.close();
      }
    });
    const url = (port: number) => `http://127.0.0.1:${port}/v1/traces`;
    const silentUrl = url((silent.address() as { port: number }).port);
    const modes: Record<string, [string, string?]> = {
      refused: [url(refusedPort)],
      'closes the connection': [url((hangsUp.address() as { port: number }).port)],
      'never answers': [silentUrl],
      'answers after 10 s': [url((slow.address() as { port: number }).port)],
      'answers 503': [url((unavailable.address() as { port: number }).port)],
      'answers 429, Retry-After 20 s': [url((tooMany.address() as { port: number }).port)],
      // Not the default exporter, but it sends with the global agent and no timeout of its own.
      'zipkin, never answers': [silentUrl.replace('/v1/traces', '/api/v2/spans'), 'zipkin'],
      // The thrift exporter exists on the 2.x line only (3.x refuses it with a TracingError).
      ...(sdk.line === 2
        ? { 'jaeger, never answers': [silentUrl.replace('/v1/traces', '/api/traces'), 'jaeger'] }
        : {}),
    };

    const results = await Promise.all(
      Object.entries(modes).map(async ([mode, [u, exporter]]) => ({
        mode,
        ...(await runChild(u, exporter)),
      })),
    );
    const summary = results.map((r) => ({
      mode: r.mode,
      closeMs: Math.round(r.report.closeMs),
      exitAfterCloseMs: Math.round(r.exitAfterMs),
      lost: r.report.stats.lostSpans,
      dropped: r.report.stats.droppedSpans,
    }));
    t.diagnostic(JSON.stringify(summary));

    for (const { mode, report, exitAfterMs, code } of results) {
      const why = `${mode}: ${JSON.stringify(report)}`;
      assert.equal(report.outcome, 'resolved', why);
      assert.ok(report.closeMs < BUDGET_MS, `${mode}: close took ${report.closeMs} ms ≥ budget`);
      assert.equal(code, 0, why);
      // Nothing of ours keeps the event loop alive once close() resolved.
      // A handle left open would keep it alive for 10 s or for ever; 3 s leaves room for a loaded machine.
      assert.ok(exitAfterMs < 3000, `${mode}: process lived ${Math.round(exitAfterMs)} ms after close()`);
      // Every one of the 1,000 spans is accounted for: none reached a collector, all counted lost.
      assert.equal(report.stats.exportedSpans, 0, why);
      assert.equal(report.stats.lostSpans, 1000, why);
      const d = report.stats.droppedSpans;
      assert.equal(d.queue_full + d.export_failed + d.shutdown, 1000, why);
      // One record at close tells how many spans were not delivered.
      const atClose = report.records.filter(
        (r) => r.message === 'tracing: spans not delivered (summary at close)',
      );
      assert.equal(atClose.length, 1, why);
      assert.equal(atClose[0]!.level, 'warn');
      assert.ok(Number(atClose[0]!.fields?.undelivered) > 0, why);
    }
    const byMode = Object.fromEntries(results.map((r) => [r.mode, r.report]));
    // Refused: exports fail at once (no retries on uncancellable timers), so close is quick.
    for (const mode of ['refused', 'closes the connection']) {
      assert.ok(byMode[mode]!.closeMs < 2000, `${mode}: ${JSON.stringify(byMode[mode])}`);
      assert.equal(byMode[mode]!.stats.droppedSpans.export_failed, 1000, mode);
    }
    // Asked to retry: retried within the budget, then counted as failed exports. A Retry-After
    // longer than what is left of the budget is not waited for.
    for (const mode of ['answers 503', 'answers 429, Retry-After 20 s']) {
      assert.equal(byMode[mode]!.stats.droppedSpans.export_failed, 1000, mode);
      assert.equal(byMode[mode]!.stats.failedExports, 2, mode);
    }
    const retryAfter = byMode['answers 429, Retry-After 20 s']!;
    assert.ok(retryAfter.closeMs < 2000, `Retry-After beyond the budget: ${JSON.stringify(retryAfter)}`);
    const [atClose] = retryAfter.records.filter(
      (r) => r.message === 'tracing: spans not delivered (summary at close)',
    );
    assert.equal(atClose!.fields?.code, 429);
    assert.match(String(atClose!.fields?.error), /HTTP 429.*Retry-After 20000 ms/);
    // A silent or slow collector: close gives up when the budget (minus its margin) is spent.
    for (const mode of ['never answers', 'answers after 10 s', 'zipkin, never answers'].concat(
      sdk.line === 2 ? ['jaeger, never answers'] : [],
    )) {
      // The first batch (512) goes out 200 ms before close begins: on a slowed machine the otlp
      // exporter's own timeout (10 s) can end it before close gives up (9 s after it began), and
      // then those spans count as export_failed — lost once all the same. The rest are `shutdown`.
      const d = byMode[mode]!.stats.droppedSpans;
      assert.equal(d.shutdown + d.export_failed, 1000, mode);
      const otlp = !/zipkin|jaeger/.test(mode);
      assert.ok(d.shutdown === 1000 || (otlp && d.shutdown === 488), `${mode}: ${JSON.stringify(d)}`);
      const [rec] = byMode[mode]!.records.filter(
        (r) => r.message === 'tracing: spans not delivered (summary at close)',
      );
      assert.equal(rec!.fields?.undelivered, 1000, mode);
      assert.equal(
        byMode[mode]!.records.length,
        1,
        `${mode}: one record in all: ${JSON.stringify(byMode[mode]!.records)}`,
      );
    }
  });
});
