/**
 * `tracer.close(options)` with a key it does not know: `close({ timeout: 2000 })` (the documented
 * name is `timeoutMs`) was taken silently and the 10 s default budget applied. It is a ConfigError
 * naming the key, the known ones and the nearest, as the factories report their unknown options,
 * and it closes nothing: the spans still queued are exported by the next, correct close().
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

describe('tracer close() options', () => {
  it('an unknown key is a ConfigError naming it and the known ones; nothing is closed', async (t) => {
    let received = 0;
    const collector = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      collector.closeAllConnections();
      collector.close();
    });
    const tracer = createOtelTracer({
      serviceName: 'close-options',
      endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`,
      batch: { scheduledDelayMillis: 60_000 },
    });
    for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
    for (const bad of [{ timeout: 2000 }, { timeoutMs: 2000, timout: 1 }, { deadline: 5 }]) {
      const key = Object.keys(bad).find((k) => k !== 'timeoutMs')!;
      await assert.rejects(tracer.close(bad as never), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.deepEqual(
          e.issues.map((i) => i.path),
          [key],
        );
        assert.match(e.message, /tracer close: unknown option/);
        assert.match(e.issues[0]!.expected, /timeoutMs, signal/);
        return true;
      });
    }
    await assert.rejects(tracer.close({ timeout: 2000 } as never), /did you mean `timeoutMs`\?/);
    assert.equal(tracer.exportStats().lostSpans, 0);
    assert.equal(received, 0);
    // The disposer info createApp gives (timeoutMs and signal) is taken as it is.
    await tracer.close({ timeoutMs: 5000, signal: new AbortController().signal });
    assert.equal(tracer.exportStats().exportedSpans, 5);
    assert.equal(received, 1);
  });

  it('close handed to other code as a callback, called with its own object (not an options literal): closes with the defaults', async () => {
    class Instance {
      readonly server = {};
      readonly version = '5';
    }
    for (const arg of [new Instance(), new Event('close')]) {
      const tracer = createOtelTracer({ exporter: 'memory' });
      tracer.startSpan('s').end();
      await tracer.close(arg as never);
      assert.equal(tracer.exportStats().exportedSpans, 1);
    }
  });

  it('close handed to a process event (a signal name, an exit code, a hadError flag): closes with the defaults', async () => {
    // `process.once('SIGTERM', tracer.close)` calls it with 'SIGTERM', `process.on('beforeExit', …)`
    // with the exit code: refused, the rejection nobody awaited ended the process with nothing exported.
    for (const arg of ['SIGTERM', 0, 143, false]) {
      const tracer = createOtelTracer({ exporter: 'memory' });
      tracer.startSpan('s').end();
      await tracer.close(arg as never);
      assert.equal(tracer.exportStats().exportedSpans, 1, String(arg));
    }
    for (const options of [{ enabled: false }, { exporter: 'none' as const }])
      await createOtelTracer(options).close('SIGINT' as never);
  });

  it('enabled: false or exporter none: the same check', async () => {
    for (const options of [{ enabled: false }, { exporter: 'none' as const }]) {
      const tracer = createOtelTracer(options);
      await assert.rejects(tracer.close({ timeout: 10 } as never), ConfigError);
      await tracer.close({ timeoutMs: 10 });
    }
  });
});

describe('tracer close(null)', () => {
  it('is a ConfigError that closes nothing, as the README lists', async () => {
    const tracer = createOtelTracer({ exporter: 'memory' });
    tracer.startSpan('s').end();
    await assert.rejects(tracer.close(null as never), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, /tracer close: invalid options/);
      return true;
    });
    tracer.startSpan('t').end();
    await tracer.close();
    assert.equal(tracer.exportStats().exportedSpans, 2);
  });
});
