/**
 * `npm run demo -- --keep` without a collector keeps its spans in memory for the summary. Kept
 * running, the services went on adding every request's spans to those memory exporters, which
 * nothing reads after the summary: the heap grew with each request to the kept gateway (≈11 KB a
 * request; 40,000 requests took it from 49 MB to 628 MB) until the process died out of memory.
 * Here the demo runs with a small heap and gets requests whose spans are large (a long query and
 * user agent, which the gateway's server span records): it must keep answering all of them and
 * exit 0 on Ctrl+C. The old demo died of "JavaScript heap out of memory" after ~5,000 of them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../harness/process.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Heap limit of the demo process, MB: the kept demo needs well under half of it. */
const HEAP_MB = 128;
/** Requests sent to the kept gateway: their spans alone take over twice `HEAP_MB` when kept. */
const REQUESTS = 10_000;
const CONCURRENCY = 32;

describe('npm run demo -- --keep, spans in memory', () => {
  it('drops the spans it records after the summary: 10,000 requests within a 128 MB heap, then exit 0', async (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of [
      'DATABASE_URL',
      'REDIS_URL',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'HYPERION_TRACING_ENDPOINT',
      'HYPERION_SAMPLE_RATE',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
      'OTEL_SDK_DISABLED',
    ])
      delete env[k];
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', 'demo/run.ts', '--keep'],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    let ended: string | undefined;
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code, signal) => {
        ended = `code ${code}, signal ${signal}`;
        resolve(code);
      }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const kill = setTimeout(() => child.kill('SIGKILL'), 240_000);
    t.after(() => {
      clearTimeout(kill);
      child.kill('SIGKILL');
      agent.destroy();
    });

    const gateway = await waitFor(
      () => {
        if (ended) throw new Error(`the demo exited (${ended})`);
        return /Kept running \(--keep\): gateway (http:\/\/\S+);/.exec(out)?.[1];
      },
      { timeoutMs: 200_000, intervalMs: 200, what: `the --keep line\n${out}\n${err.slice(-2000)}` },
    );
    const url = new URL(gateway);

    // Each request's spans hold ~14 KB of attributes (url.query and user_agent.original).
    const query = 'q'.repeat(7000);
    const userAgent = `load/${'u'.repeat(7000)}`;
    const statuses = new Map<string, number>();
    const one = (i: number) =>
      new Promise<void>((resolve) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: `/users/${(i % 50) + 1}?q=${query}`,
            agent,
            headers: { 'user-agent': userAgent },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              const key = String(res.statusCode);
              statuses.set(key, (statuses.get(key) ?? 0) + 1);
              resolve();
            });
            res.on('error', () => resolve());
          },
        );
        req.on('error', (e: NodeJS.ErrnoException) => {
          const key = e.code ?? e.message;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          resolve();
        });
        req.end();
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        // Bounded: REQUESTS in all, and none once the demo has gone.
        while (next < REQUESTS && !ended) await one(next++);
      }),
    );
    const summary = () =>
      `statuses ${JSON.stringify(Object.fromEntries(statuses))}, demo ${ended ?? 'running'}\n` +
      `--- stderr ---\n${err.slice(-2000)}`;
    assert.equal(ended, undefined, `the kept demo died: ${summary()}`);
    assert.equal(statuses.get('200'), REQUESTS, summary());

    child.kill('SIGINT');
    const code = await exited;
    assert.equal(code, 0, `exit code\n--- stdout ---\n${out.slice(-2000)}\n${summary()}`);
    assert.match(out, /All services closed/);
    assert.doesNotMatch(err, /heap out of memory/);
  });
});
