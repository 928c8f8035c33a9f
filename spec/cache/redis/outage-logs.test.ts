/**
 * What the cache's logger is told about an outage that ends soon: the first connection error is
 * logged at once, and the rest (more connection errors, the operations that failed meanwhile) are
 * held back by the 5 s quiet time. Found from outside (Redis killed under load, restarted on the
 * same port 1 s later): what was held back was written only with the next warning, so that outage
 * logged one "redis connection error" and never the operations that failed (in a cluster failover,
 * 53 failed reads and one line), and its count went on the first line of the next outage.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRedisCache } from '../../../lib/cache/redis/index.js';
import type { Logger } from '../../../lib/core/contracts.js';
import { describeWithServers, freePort, waitFor } from '../../harness/process.js';
import { skipRedis } from '../../harness/redis.js';
import { startRedisOnPort } from '../tiered/restart.js';
import { enc, sleep } from './helpers.js';

describeWithServers('redis cache outage logs', skipRedis(), () => {
  it('writes what the quiet time held back once it ends, though the outage ended before', async (t) => {
    const port = await freePort();
    const before = await startRedisOnPort(port);
    t.after(() => before.stop());
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn(message, fields) {
        warnings.push({ message, fields: fields ?? {} });
      },
      error() {},
      child: () => logger,
    };
    const cache = createRedisCache({ addresses: [`127.0.0.1:${port}`], commandTimeout: 100, logger });
    t.after(() => cache.close());
    await waitFor(() => cache.set('k', enc('v')).then(() => true), {
      timeoutMs: 10_000,
      what: 'the first write',
    });

    await before.kill();
    let failed = 0;
    for (let i = 0; i < 10; i++) {
      await cache.get('k').catch(() => failed++);
      await sleep(20);
    }
    // Restarted soon: the outage ends within the quiet time, and nothing fails after it.
    const after = await startRedisOnPort(port);
    t.after(() => after.stop());
    assert.ok(failed > 1, `${failed} reads failed with Redis killed`);
    await waitFor(() => cache.client.status === 'ready', { timeoutMs: 10_000, what: 'Redis back' });
    // The quiet time (5 s from the first line) ends while Redis is up and nothing fails any more.
    await waitFor(() => warnings.length >= 2, { timeoutMs: 10_000, what: 'a second warning' }).catch(
      () => {},
    );
    const seen = JSON.stringify(warnings);
    const failures = warnings.filter((w) => w.message === 'redis cache operation failed');
    assert.ok(failures.length > 0 || warnings.some((w) => Number(w.fields.suppressed) > 0), seen);
    // The lines written and the ones left out (`suppressed`) add up to at least every failed read.
    const told = warnings.reduce((n, w) => n + 1 + (Number(w.fields.suppressed) || 0), 0);
    assert.ok(told >= failed, `${failed} reads failed, ${told} reported: ${seen}`);
  });

  it('logs the end of a logged outage once, naming the server, after what was held back', async (t) => {
    const port = await freePort();
    const before = await startRedisOnPort(port);
    t.after(() => before.stop());
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug() {},
      info(message, fields) {
        lines.push({ level: 'info', message, fields: fields ?? {} });
      },
      warn(message, fields) {
        lines.push({ level: 'warn', message, fields: fields ?? {} });
      },
      error() {},
      child: () => logger,
    };
    const cache = createRedisCache({ addresses: [`127.0.0.1:${port}`], commandTimeout: 100, logger });
    t.after(() => cache.close());
    await waitFor(() => cache.set('k', enc('v')).then(() => true), {
      timeoutMs: 10_000,
      what: 'the first write',
    });
    // A first connection without trouble says nothing.
    assert.equal(lines.length, 0, JSON.stringify(lines));

    await before.kill();
    for (let i = 0; i < 5; i++) {
      await cache.get('k').catch(() => {});
      await sleep(20);
    }
    const after = await startRedisOnPort(port);
    t.after(() => after.stop());
    await waitFor(() => lines.some((l) => l.level === 'info'), {
      timeoutMs: 10_000,
      what: 'the restored line',
    });
    await cache.get('k');
    const seen = JSON.stringify(lines);
    const infos = lines.filter((l) => l.level === 'info');
    assert.equal(infos.length, 1, seen);
    assert.equal(infos[0]?.message, 'redis connection restored', seen);
    assert.equal(infos[0]?.fields.server, `127.0.0.1:${port}`, seen);
    // It closes the outage: the warnings held back were written before it, none after.
    assert.equal(lines.at(-1)?.level, 'info', seen);
    assert.ok(lines.filter((l) => l.level === 'warn').length >= 1, seen);
  });
});
