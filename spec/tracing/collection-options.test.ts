/**
 * `headers` and `attributes` given as a `Map` or a fetch `Headers`: `Object.entries` reads such a
 * collection as empty, so the tracer was built without a word and every export went without the
 * headers (an `authorization` lost: each export answered 401), or every span without the resource
 * attributes. Both are a ConfigError naming the field and the collection's kind (never a value);
 * plain objects of another realm or without a prototype are taken as before.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { ConfigError } from '../../lib/core/errors.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';

function refused(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${String(err)}`);
    return err;
  }
  assert.fail('created a tracer');
}

describe('headers and attributes given as a Map or Headers', () => {
  const collections = {
    Map: () => new Map([['authorization', 'Bearer s3cr3t-t0ken']]),
    Headers: () => new Headers({ authorization: 'Bearer s3cr3t-t0ken' }),
  };
  for (const [kind, make] of Object.entries(collections)) {
    it(`headers: a ${kind} is a ConfigError naming headers, without the value`, () => {
      const err = refused(() =>
        createOtelTracer({
          endpoint: 'http://127.0.0.1:9/v1/traces',
          headers: make() as unknown as Record<string, string>,
        }),
      );
      assert.equal(err.issues.length, 1);
      assert.equal(err.issues[0]!.path, 'headers');
      assert.equal(err.issues[0]!.received, kind);
      assert.doesNotMatch(`${err.message} ${JSON.stringify(err.issues)}`, /s3cr3t/);
    });
  }

  it('attributes: a Map is a ConfigError naming attributes', () => {
    const err = refused(() =>
      createOtelTracer({
        exporter: 'memory',
        attributes: new Map([['deployment.environment.name', 'production']]) as unknown as Record<
          string,
          string
        >,
      }),
    );
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'attributes');
    assert.equal(err.issues[0]!.received, 'Map');
  });

  it('plain objects from another realm or without a prototype still send their headers', async (t) => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(req.headers);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    const headers = [
      vm.runInNewContext('({ authorization: "Bearer other-realm" })') as Record<string, string>,
      Object.assign(Object.create(null) as Record<string, string>, { authorization: 'Bearer no-proto' }),
    ];
    for (const h of headers) {
      const tracer = createOtelTracer({ endpoint, headers: h, batch: { scheduledDelayMillis: 60_000 } });
      tracer.startSpan('s').end();
      await tracer.flush();
      await tracer.close();
    }
    assert.deepEqual(
      seen.map((h) => h.authorization),
      ['Bearer other-realm', 'Bearer no-proto'],
    );
  });
});
