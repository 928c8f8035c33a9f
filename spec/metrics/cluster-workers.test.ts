/**
 * `listen()` in node:cluster workers. A plain `server.listen()` in a worker shares one handle
 * through the primary, so each worker's adapter "listened" on the same port — also with port 0 —
 * and the primary handed scrapes to the workers in turn: one scrape target whose counters jumped
 * between workers' values (each answered by another process's registry). Each worker now binds
 * its own socket: port 0 gives each its own port, and a fixed port already bound by another
 * worker is `MetricsError('listen_failed')`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/cluster-endpoint-child.ts', import.meta.url));

interface Outcome {
  reports: { id: number; url?: string; error?: string }[];
  answeredBy: Record<string, number[]>;
}

function runCluster(port: number): Outcome {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child], {
    cwd: root,
    env: { ...process.env, METRICS_PORT: String(port) },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `cluster child failed (${r.status} ${r.signal}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Outcome;
}

describe('metrics endpoint in node:cluster workers', () => {
  it('port 0: each worker gets a port of its own, answered by that worker only', () => {
    const { reports, answeredBy } = runCluster(0);
    assert.deepEqual(
      reports.map((r) => r.error),
      [undefined, undefined],
    );
    const urls = reports.map((r) => r.url);
    assert.equal(new Set(urls).size, 2, `both workers were given ${urls[0]}`);
    for (const r of reports) assert.deepEqual(answeredBy[r.url as string], [r.id]);
  });

  it('a fixed port: the second worker is refused with listen_failed, the first answers alone', async () => {
    const { reports, answeredBy } = runCluster(await freePort());
    const listening = reports.filter((r) => r.url !== undefined);
    assert.equal(listening.length, 1, `workers listening on one port: ${JSON.stringify(reports)}`);
    assert.deepEqual(
      reports.filter((r) => r.error !== undefined).map((r) => r.error),
      ['listen_failed'],
    );
    const [only] = listening;
    assert.deepEqual(answeredBy[only?.url as string], [only?.id]);
  });
});
