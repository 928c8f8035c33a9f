/**
 * A request still running through `traceHandler` when a signal closes the app (no `drainServer`
 * registered): its server span ends after the tracer closed. It is not exported (the collector
 * never gets it) and is counted as a `shutdown` drop — but it was only counted: the summary at
 * close had been written, no record followed, and with the app closed nobody read the count, so
 * the span was lost without a log line. Now the first such span gets one warning (later ones are
 * counted only). Against a real Jaeger, with each network exporter.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, it } from 'node:test';
import { closeOnSignals, createApp } from '../../lib/core/app.js';
import type { LogFields, Logger } from '../../lib/core/contracts.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';
import { sdk } from './otel-line.js';

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);
const NETWORK_EXPORTERS = (['otlp', 'zipkin', 'jaeger'] as const).filter(
  (e) => e !== 'jaeger' || sdk.line === 2,
);

function captureLogger() {
  const records: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    debug: (message, fields) => records.push({ level: 'debug', message, fields }),
    info: (message, fields) => records.push({ level: 'info', message, fields }),
    warn: (message, fields) => records.push({ level: 'warn', message, fields }),
    error: (message, fields) => records.push({ level: 'error', message, fields }),
    child: () => make(),
  });
  return { logger: make(), records };
}

const AFTER_CLOSE = 'tracing: span ended after the tracer closed: not exported';

describeWithServers(
  'a span ended after the tracer closed (a request still running at the signal)',
  skip,
  () => {
    let jaeger: Jaeger;
    before(async () => {
      jaeger = await startJaeger();
    });
    after(async () => {
      await jaeger?.stop();
    });

    for (const exporter of NETWORK_EXPORTERS) {
      it(`${exporter}: not exported, counted as shutdown, and said once in a warning`, async () => {
        const service = `after-close-${exporter}`;
        const endpoint =
          exporter === 'otlp'
            ? jaeger.otlpEndpoint
            : exporter === 'zipkin'
              ? jaeger.zipkinEndpoint
              : jaeger.jaegerEndpoint;
        const { logger, records } = captureLogger();
        const tracer = createOtelTracer({ serviceName: service, exporter, endpoint });
        const app = createApp({ tracer, logger, disposeTimeoutMs: 5000 });
        app.tracer.startSpan('before the signal').end();

        let entered!: () => void;
        const inHandler = new Promise<void>((r) => {
          entered = r;
        });
        let release!: () => void;
        const released = new Promise<void>((r) => {
          release = r;
        });
        const server: Server = createServer(
          traceHandler(
            app.ctx,
            async (_ctx, _req, res) => {
              entered();
              await released;
              res.end('done');
            },
            { route: '/slow' },
          ),
        );
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const off = closeOnSignals(app, { signals: ['SIGUSR2'], exit: false });
        try {
          const answer = new Promise<string>((resolve, reject) => {
            request(
              { host: '127.0.0.1', port: (server.address() as { port: number }).port, path: '/slow' },
              (res) => {
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (c: string) => {
                  body += c;
                });
                res.on('end', () => resolve(`${res.statusCode} ${body}`));
              },
            )
              .on('error', reject)
              .end();
          });
          await inHandler;
          process.emit('SIGUSR2', 'SIGUSR2');
          await app.close(); // joins the close the signal started
          assert.equal(app.closed, true);
          release();
          assert.equal(await answer, '200 done');

          await waitFor(() => tracer.exportStats().droppedSpans.shutdown === 1, {
            what: 'the shutdown drop',
          });
          app.tracer.startSpan('later still').end();
          const stats = tracer.exportStats();
          assert.deepEqual(stats.droppedSpans, { queue_full: 0, export_failed: 0, shutdown: 2 });
          assert.equal(stats.exportedSpans, 1);
          // It was counted without a record: nothing told the operator a request's span was lost.
          const said = records.filter((r) => r.message === AFTER_CLOSE);
          assert.equal(said.length, 1, JSON.stringify(records));
          assert.equal(said[0]!.level, 'warn');
          assert.equal(said[0]!.fields?.exporter, exporter);
          assert.equal(said[0]!.fields?.reason, 'shutdown');
          assert.match(String(said[0]!.fields?.hint), /drainServer/);

          // What Jaeger stored: the span exported before the signal, not the request's.
          const traces = await waitFor(
            async () => {
              const found = await jaeger.findTraces(service, 10);
              return found.length > 0 ? found : undefined;
            },
            { what: 'the exported span in Jaeger' },
          );
          const names = traces.flatMap((t) => t.spans.map((s) => s.operationName));
          assert.deepEqual(names, ['before the signal']);
        } finally {
          off();
          release();
          server.closeAllConnections();
          server.close();
        }
      });
    }
  },
);
