/**
 * Baggage received or sent as Jaeger `uberctx-*` headers keeps the limits of the W3C `baggage`
 * header (OpenTelemetry JS's: 180 members, 4096 characters per member, 8192 in all). Before,
 * OpenTelemetry's Jaeger propagator read every `uberctx-*` header: 500 of them became 500 baggage
 * entries and went out as 500 headers on every call made under the request (the `baggage` header
 * beside them carried 180). The Jaeger propagator exists on the OpenTelemetry JS 2.x line only.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { sdk } from './otel-line.js';

const UBER = '4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1';
const uberctx = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k.startsWith('uberctx-'));

describe('jaeger propagator: uberctx-* baggage within the baggage limits', { skip: sdk.line === 3 }, () => {
  it('500 uberctx-* headers through traceHandler and tracedFetch: 180 entries read, 180 headers sent', async () => {
    for (const propagators of [['jaeger'], ['tracecontext', 'baggage', 'jaeger']] as const) {
      const app = createApp({
        tracer: createOtelTracer({ exporter: 'memory', propagators: [...propagators] }),
      });
      let received: IncomingHttpHeaders = {};
      const downstream = createServer((req, res) => {
        received = req.headers;
        res.end('ok');
      });
      let entries = -1;
      const front = createServer(
        traceHandler(app.ctx, async (ctx, _req, res) => {
          entries = Object.keys(ctx.baggage ?? {}).length;
          const { port } = downstream.address() as AddressInfo;
          const r = await tracedFetch(ctx, `http://127.0.0.1:${port}/`);
          res.end(await r.text());
        }),
      );
      await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
      await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
      try {
        const headers: Record<string, string> = { 'uber-trace-id': UBER };
        for (let i = 0; i < 500; i++) headers[`uberctx-k${i}`] = `v${i}`;
        const { port } = front.address() as AddressInfo;
        const res = await fetch(`http://127.0.0.1:${port}/`, {
          headers,
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(await res.text(), 'ok');
        assert.equal(entries, 180, String(propagators));
        assert.equal(uberctx(received).length, 180, String(propagators));
        // The first 180 as they arrived, values intact.
        assert.equal(received['uberctx-k0'], 'v0');
        assert.equal(received['uberctx-k179'], 'v179');
        assert.equal(received['uberctx-k180'], undefined);
        if (propagators.length > 1) assert.equal(String(received.baggage).split(',').length, 180);
      } finally {
        await new Promise((r) => front.close(r));
        await new Promise((r) => downstream.close(r));
        await app.close();
      }
    }
  });

  it('a baggage key that cannot be a header name is not sent as uberctx-*: the call under the request still goes out', async () => {
    // Any client may send `baggage: a%20b=1`; the key `a b` made the Jaeger propagator write a
    // header `uberctx-a b`, and every tracedFetch under that request threw a raw TypeError
    // ('"uberctx-a b" is an invalid header name') before anything was sent.
    const app = createApp({
      tracer: createOtelTracer({ exporter: 'memory', propagators: ['tracecontext', 'baggage', 'jaeger'] }),
    });
    let received: IncomingHttpHeaders = {};
    const downstream = createServer((req, res) => {
      received = req.headers;
      res.end('ok');
    });
    const front = createServer(
      traceHandler(app.ctx, async (ctx, _req, res) => {
        const { port } = downstream.address() as AddressInfo;
        try {
          const r = await tracedFetch(ctx, `http://127.0.0.1:${port}/`);
          res.end(await r.text());
        } catch (err) {
          res.end(`fetch failed: ${String(err)}`);
        }
      }),
    );
    await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      const { port } = front.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { 'uber-trace-id': UBER, baggage: 'a%20b=1,%C3%BCn=2,k%0A=3,ok=4' },
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(await res.text(), 'ok');
      assert.deepEqual(uberctx(received), ['uberctx-ok']);
      assert.equal(received['uberctx-ok'], '4');
      // The `baggage` header beside it still carries every entry.
      assert.equal(String(received.baggage).split(',').length, 4);
    } finally {
      await new Promise((r) => front.close(r));
      await new Promise((r) => downstream.close(r));
      await app.close();
    }
    // Injected into a carrier of one's own: only header names that node:http would send.
    const tracer = createOtelTracer({ exporter: 'memory', propagators: ['jaeger'] });
    try {
      const out: Record<string, string> = {};
      tracer.inject(out, { baggage: { 'a b': '1', ün: '2', "x!#$%&'*+-.^_`|~9": '3', ok: '4' } });
      assert.deepEqual(uberctx(out), ["uberctx-x!#$%&'*+-.^_`|~9", 'uberctx-ok']);
    } finally {
      await tracer.close();
    }
  });

  it('the per-member and total limits, reading and writing', async () => {
    const tracer = createOtelTracer({ exporter: 'memory', propagators: ['jaeger'] });
    try {
      // A member over 4096 characters is dropped alone; the others are read.
      const long = tracer.extract({
        'uber-trace-id': UBER,
        'uberctx-big': 'x'.repeat(4096),
        'uberctx-a': '1',
      });
      assert.deepEqual(long.baggage, { a: '1' });
      // 8192 characters in all: 3 members of 3000 characters fit two.
      const many: Record<string, string> = { 'uber-trace-id': UBER };
      for (const k of ['a', 'b', 'c']) many[`uberctx-${k}`] = k.repeat(2998);
      assert.deepEqual(Object.keys(tracer.extract(many).baggage ?? {}), ['a', 'b']);
      // An entry upstream skips (a bad escape) does not take a place.
      const bad: Record<string, string> = { 'uber-trace-id': UBER, 'uberctx-bad': '%zz' };
      for (let i = 0; i < 180; i++) bad[`uberctx-k${i}`] = 'v';
      assert.equal(Object.keys(tracer.extract(bad).baggage ?? {}).length, 180);
      // With `[baggage, jaeger]`, the entries of both headers are 180 in all (Jaeger's were added
      // to the `baggage` header's: 360); a key the `baggage` header already had takes no new place.
      const both = createOtelTracer({ exporter: 'memory', propagators: ['baggage', 'jaeger'] });
      try {
        const mixed: Record<string, string> = {
          'uber-trace-id': UBER,
          baggage: Array.from({ length: 179 }, (_, i) => `w${i}=1`).join(','),
          'uberctx-w0': 'again',
          'uberctx-a': '1',
          'uberctx-b': '2',
        };
        const bag = both.extract(mixed).baggage ?? {};
        assert.equal(Object.keys(bag).length, 180);
        assert.equal(bag.w0, 'again');
        assert.equal(bag.a, '1');
        assert.equal(bag.b, undefined);
      } finally {
        await both.close();
      }
      // Written: at most 180 headers, none over 4096 characters, 8192 in all.
      const baggage: Record<string, string> = { big: 'y'.repeat(5000) };
      for (let i = 0; i < 500; i++) baggage[`b${i}`] = 'x';
      const out: Record<string, string> = {};
      tracer.inject(out, { baggage });
      assert.equal(uberctx(out).length, 180);
      assert.equal(out['uberctx-big'], undefined);
      const wide: Record<string, string> = {};
      tracer.inject(wide, { baggage: { a: 'a'.repeat(2998), b: 'b'.repeat(2998), c: 'c'.repeat(2998) } });
      assert.deepEqual(uberctx(wide), ['uberctx-a', 'uberctx-b']);
    } finally {
      await tracer.close();
    }
  });
});
