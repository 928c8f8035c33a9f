/**
 * The provisioned Grafana dashboards are generated from demo/ops/grafana/dashboards.ts: the
 * committed JSON must be exactly what it generates (run `npm run dashboards` after editing it).
 * Whether each panel's PromQL returns data is spec/demo/e2e.test.ts's job (real Prometheus).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDb } from '../../demo/db.js';
import { DASHBOARD_DIR, dashboardJson, dashboards } from '../../demo/ops/grafana/dashboards.js';
import { startService } from '../../demo/services/index.js';

describe('demo: Grafana dashboards as typed code', () => {
  it('the committed dashboard JSON is what demo/ops/grafana/dashboards.ts generates', () => {
    const generated = dashboards();
    const committed = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'));
    assert.deepEqual(committed.sort(), Object.keys(generated).sort(), 'no dashboard file without its code');
    for (const [file, d] of Object.entries(generated)) {
      assert.equal(
        readFileSync(join(DASHBOARD_DIR, file), 'utf8'),
        dashboardJson(d),
        `${file} differs from its code: run \`npm run dashboards\``,
      );
    }
  });

  it('every panel has an id, a Prometheus datasource and lettered queries; no panel overlaps another', () => {
    for (const [file, d] of Object.entries(dashboards())) {
      const panels = d.panels ?? [];
      assert.ok(panels.length > 0, file);
      const ids = new Set<number>();
      const cells = new Set<string>();
      for (const p of panels as {
        id?: number;
        title?: string;
        datasource?: { uid?: string };
        gridPos?: { x: number; y: number; w: number; h: number };
        targets?: { refId?: string; expr?: string }[];
      }[]) {
        assert.ok(p.id !== undefined && !ids.has(p.id), `${file} › ${p.title}: unique id`);
        ids.add(p.id);
        assert.equal(p.datasource?.uid, 'prometheus');
        assert.deepEqual(
          p.targets?.map((t) => t.refId),
          p.targets?.map((_, i) => String.fromCharCode(65 + i)),
        );
        for (const t of p.targets ?? []) assert.ok(t.expr, `${file} › ${p.title}: a PromQL expression`);
        const g = p.gridPos!;
        assert.ok(g.x + g.w <= 24, `${file} › ${p.title}: within the 24-column grid`);
        for (let x = g.x; x < g.x + g.w; x++)
          for (let y = g.y; y < g.y + g.h; y++) {
            assert.ok(!cells.has(`${x},${y}`), `${file} › ${p.title} overlaps another panel`);
            cells.add(`${x},${y}`);
          }
      }
    }
  });

  it('queries use the OpenTelemetry metric names, none of the legacy ones', () => {
    const exprs = Object.values(dashboards()).flatMap((d) =>
      (d.panels as { targets?: { expr?: string }[] }[]).flatMap((p) =>
        (p.targets ?? []).map((t) => t.expr ?? ''),
      ),
    );
    const all = exprs.join('\n');
    for (const legacy of [
      /\brequests_total\b/,
      /\brequest_duration_seconds/,
      /\bcache_hit_rate\b/,
      /\bdb_connections_active\b/,
    ])
      assert.doesNotMatch(all, legacy);
    for (const name of [
      'http_server_request_duration_seconds_count',
      'http_server_request_duration_seconds_bucket',
      'http_client_request_duration_seconds_bucket',
      'db_client_connection_count',
      'cache_requests_total',
    ])
      assert.ok(all.includes(name), name);
  });

  // The panel said "hit, miss, or not found" while the user service also counts `error` (a
  // database down or unreachable): the dashboard left out the result that tells an outage apart.
  it('the user lookups panel names every result the user service exports', async (t) => {
    const db = await openDb(undefined);
    t.after(() => db.close());
    const user = await startService({
      name: 'user-service',
      port: 0,
      db,
      tracing: { exporter: 'off' },
      peers: { user: () => '', order: () => '' },
      logger: 'error',
    });
    t.after(() => user.close());
    const text = await (await fetch(`${user.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const results = [...text.matchAll(/^user_lookups_total\{[^}]*\bresult="([^"]+)"/gm)].map((m) => m[1]!);
    assert.deepEqual(results.sort(), ['error', 'hit', 'miss', 'not_found']);
    const panel = (
      dashboards()['services-red.json']!.panels as { title?: string; description?: string }[]
    ).find((p) => p.title === 'User lookups by result');
    for (const r of results)
      assert.match(panel?.description ?? '', new RegExp(`\\(${r}\\)`), `the description names ${r}`);
  });
});
