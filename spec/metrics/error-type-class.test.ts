/**
 * One request, one `error.type`: the server span (`traceHandler`) and the request metric
 * (`metrics.instrument()`, with or without a `traceHandler` inside) name a thrown error by the same
 * rule — its own `name`, else its class. The span read the name alone (`Error` for
 * `class PaymentDeclined extends Error {}`, which keeps the inherited name) and the metric the
 * constructor alone (`DOMException` for an `AbortSignal.timeout()` reason), so the same failure was
 * `PaymentDeclined` or `Error`, `TimeoutError` or `DOMException`, depending on the wrapping; a
 * thrown value that is no Error (`{ name, message }`, a string) was `Error` on the span and named
 * otherwise by the metric. A revoked Proxy thrown made `instanceof` throw: the metric's rejection
 * became that TypeError, and `traceHandler` crashed on it. An error `name` no label value can be
 * (3000 characters, a lone surrogate) cost the request its metric.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { createMetrics } from '../../lib/metrics/prometheus/index.js';
import { traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { waitFor } from '../harness/process.js';

class PaymentDeclined extends Error {}
class HttpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpError';
  }
}
class NotFound extends HttpError {}

/** What each handler throws, and the `error.type` both signals must give it. */
const CASES: [string, () => unknown, string][] = [
  ['declined', () => new PaymentDeclined('card refused'), 'PaymentDeclined'],
  ['timeout', () => new DOMException('took too long', 'TimeoutError'), 'TimeoutError'],
  ['named-base', () => new NotFound('no such user'), 'HttpError'],
  ['plain', () => new Error('boom'), 'Error'],
  ['type', () => new TypeError('bad input'), 'TypeError'],
  // Values that are not Errors: the span said `Error` for each, the metric alone `Object` for the first.
  ['shaped', () => ({ name: 'NotFound', message: 'no such user' }), 'NotFound'],
  ['string', () => 'denied', 'string'],
  ['anonymous', () => new [class {}][0]!(), 'Object'],
  // A name no label value can be (over 2048 bytes, a lone surrogate): the request went unrecorded.
  ['long-name', () => Object.assign(new Error('x'), { name: 'N'.repeat(3000) }), 'Error'],
  [
    'lone-surrogate',
    () => Object.assign(new PaymentDeclined('x'), { name: 'Declined\uD800' }),
    'PaymentDeclined',
  ],
  // `instanceof` throws on it: the request must still be answered and recorded, nothing crash.
  ['revoked-proxy', () => revokedProxy(), 'Error'],
];

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

describe('error.type of a thrown error: the server span and the request metric agree', () => {
  const tracer = createOtelTracer({ serviceName: 'error-type', exporter: 'memory' });
  const metrics = createMetrics({});
  const app = createApp({ tracer, metrics });
  const servers: Server[] = [];
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await app.close();
  });

  const listen = async (listener: Parameters<typeof createServer>[1]): Promise<string> => {
    const server = createServer(listener);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  /** `error_type` of the request series of `route`, once it is recorded. */
  const metricErrorType = (route: string) =>
    waitFor(
      async () => {
        const line = (await metrics.render()).body
          .split('\n')
          .find(
            (l) =>
              l.startsWith('http_server_request_duration_seconds_count{') &&
              l.includes(`http_route="${route}"`),
          );
        return line === undefined ? undefined : (/error_type="([^"]*)"/.exec(line)?.[1] ?? '(none)');
      },
      { what: `the request metric of ${route}`, timeoutMs: 5000 },
    );

  for (const [name, thrown, expected] of CASES)
    it(`${name}: ${expected} on the span, and in error_type with and without the traceHandler`, async () => {
      const alone = `/alone/${name}`;
      const traced = `/traced/${name}`;
      const value = thrown();
      const handler = async () => {
        throw value;
      };
      // instrument() alone passes the rejection on, the thrown value itself: the server around it answers.
      const inner = metrics.instrument(handler, { route: alone });
      const rejections: unknown[] = [];
      const aloneUrl = await listen((req, res) => {
        (inner(req, res) as Promise<unknown>).catch((e: unknown) => {
          rejections.push(e);
          res.writeHead(500).end();
        });
      });
      // The demo's order: the metric wraps the traced handler, which answers the error itself.
      const tracedUrl = await listen(
        metrics.instrument(traceHandler(app.ctx, handler, { route: traced }), { route: traced }),
      );
      for (const url of [`${aloneUrl}${alone}`, `${tracedUrl}${traced}`]) {
        const res = await fetch(url);
        await res.text();
        assert.equal(res.status, 500, url);
      }
      // Recorded at all first: a type no label value can be cost the request its metric.
      assert.equal(await metricErrorType(traced), expected, 'instrument() around traceHandler');
      assert.equal(await metricErrorType(alone), expected, 'instrument() alone');
      const span = await waitFor(() => tracer.finishedSpans().find((s) => s.name === `GET ${traced}`), {
        what: `the server span of ${traced}`,
        timeoutMs: 5000,
      });
      assert.equal(span.attributes['error.type'], expected, 'the server span');
      assert.equal(rejections.length, 1);
      assert.ok(rejections[0] === value, 'the rejection is the value thrown, not an error of reading it');
    });
});
