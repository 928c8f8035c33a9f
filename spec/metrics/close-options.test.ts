/**
 * `metrics.close(options)` with a key it does not know: `close({ timeout: 500 })` (the documented
 * name is `timeoutMs`) was taken silently and the default grace applied — and the adapter made
 * with `enabled: false` took any options at all, so a bad call passed while metrics were off and
 * failed once they were on. Both reject with MetricsError('invalid_option') naming the key, and
 * close nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsError } from '../../lib/core/errors.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';

const quiet = { collectRuntime: false };

describe('metrics close() options', () => {
  for (const enabled of [true, false])
    it(`enabled: ${enabled}: an unknown key rejects with invalid_option naming it; nothing is closed`, async () => {
      const m = createMetrics({ ...quiet, enabled, port: 0 });
      for (const [bad, key] of [
        [{ timeout: 500 }, 'timeout'],
        [{ timeoutMs: 500, signl: undefined }, 'signl'],
      ] as const)
        await assert.rejects(m.close(bad as never), (e: unknown) => {
          assert.ok(e instanceof MetricsError && e.code === 'invalid_option', String(e));
          assert.match(e.message, new RegExp(`option \`${key}\` is not a known option`));
          assert.match(e.message, /options are \{ timeoutMs, signal \}/);
          return true;
        });
      await assert.rejects(m.close({ timeout: 500 } as never), /did you mean `timeoutMs`\?/);
      await assert.rejects(m.close({ timeoutMs: -1 }), { code: 'invalid_option' });
      if (enabled) {
        // Not closed: it still serves, and a correct close() closes it.
        const { url } = (await m.listen())!;
        assert.equal((await fetch(url)).status, 200);
      }
      await m.close({ timeoutMs: 1000, signal: new AbortController().signal });
    });

  it('close handed to other code as a callback, called with its own object (not an options literal): closes with the defaults', async () => {
    // A framework instance or an event (`fastify.addHook('onClose', metrics.close)`): its keys are not options.
    class Instance {
      readonly server = {};
      readonly version = '5';
    }
    for (const arg of [new Instance(), new Event('close')]) {
      const m = createMetrics({ ...quiet, port: 0 });
      const { url } = (await m.listen())!;
      await m.close(arg as never);
      await assert.rejects(fetch(url), 'closed: no longer serves');
    }
  });

  it('close handed to a process event (a signal name, an exit code, a hadError flag): closes with the defaults', async () => {
    // `process.once('SIGTERM', metrics.close)` calls it with 'SIGTERM', `process.on('beforeExit', …)`
    // with the exit code: refused, the rejection nobody awaited ended the process with the port open.
    for (const arg of ['SIGTERM', 0, 143, false]) {
      const m = createMetrics({ ...quiet, port: 0 });
      const { url } = (await m.listen())!;
      await m.close(arg as never);
      await assert.rejects(fetch(url), `closed: no longer serves (${String(arg)})`);
    }
    await createMetrics({ ...quiet, enabled: false }).close('SIGINT' as never);
  });
});
