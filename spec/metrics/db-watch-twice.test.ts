/**
 * One pool's read function given to `watchDbConnections` twice (a setup run twice) was summed as
 * two pools: `db_client_connection_count` showed twice the connections. The second watch of the
 * same function is now refused (`MetricsError('invalid_option')`) and counts nothing; once the
 * first watch is stopped it may be watched again. (Two different closures over one pool cannot be
 * told apart from two pools: the adapter sees only the functions.)
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pg from 'pg';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { skipPostgres, startPostgres } from '../harness/postgres.js';
import { describeWithServers } from '../harness/process.js';

describeWithServers('metrics: one pool read watched twice', skipPostgres(), () => {
  it('the second watch is refused and the gauge counts the pool once', async () => {
    const server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 3 });
    pool.on('error', () => {});
    const m = createMetrics();
    let held: pg.PoolClient | undefined;
    try {
      held = await pool.connect();
      const read = () => ({ used: pool.totalCount - pool.idleCount, idle: pool.idleCount });
      const used = async () =>
        (await m.render()).body
          .split('\n')
          .find((l) => l.startsWith('db_client_connection_count{db_client_connection_state="used"}'));
      const stop = m.watchDbConnections(read);
      assert.throws(
        () => m.watchDbConnections(read),
        (e: unknown) =>
          e instanceof MetricsError && e.code === 'invalid_option' && /already watched/.test(e.message),
      );
      assert.equal(await used(), 'db_client_connection_count{db_client_connection_state="used"} 1');
      stop();
      const again = m.watchDbConnections(read);
      assert.equal(await used(), 'db_client_connection_count{db_client_connection_state="used"} 1');
      again();
    } finally {
      held?.release();
      await m.close();
      await pool.end();
      await server.stop();
    }
  });
});
