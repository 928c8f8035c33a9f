/**
 * Propagation and resource identity as a user meets them from outside (audit of issues 6 and 20):
 * a malformed header of one configured format never costs the request a valid parent carried by
 * another; a malformed B3 single header is ignored whole; the no-op tracer ignores carriers of the
 * wrong shape like the others; `attributes['service.name']` names the service (also in a real
 * Jaeger).
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../../lib/core/app.js';
import type { HeaderCarrier, Tracer } from '../../lib/core/contracts.js';
import { ConfigError } from '../../lib/core/errors.js';
import { noopTracer } from '../../lib/core/noop.js';
import { contextFromHeaders } from '../../lib/core/span.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/index.js';
import { createOtelTracer, type OtelTracer, type PropagatorName } from '../../lib/tracing/otel/index.js';
import { JAEGER_INSTALL_HINT, type Jaeger, startJaeger } from '../harness/jaeger.js';
import { describeWithServers, skipUnless, waitFor } from '../harness/process.js';
import { sdk } from './otel-line.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const TP = `00-${TRACE}-${SPAN}-01`;

const parentOf = (tracer: Tracer, carrier: unknown) =>
  tracer.extract(carrier as Readonly<HeaderCarrier>).parent?.spanContext();

const memoryTracer = (propagators: PropagatorName[]) => createOtelTracer({ exporter: 'memory', propagators });

/** Sends `headers` to a traceHandler of `tracer` over real HTTP; returns the server span's parent id. */
async function serverSpanParent(tracer: OtelTracer, headers: Record<string, string>) {
  const app = createApp({ tracer });
  const server: Server = createServer(traceHandler(app.ctx, (_ctx, _req, res) => res.end('ok')));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const [span] = tracer.finishedSpans();
    assert.ok(span, 'server span recorded');
    return { traceId: span.spanContext().traceId, parent: span.parentSpanContext?.spanId };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close();
  }
}

describe('a malformed header of one format leaves a valid parent of another in place', () => {
  const jaegerLine = sdk.line === 2; // the Jaeger propagator is 2.x-only upstream

  for (const uber of [
    'zz:yy:0:1',
    'not-hex-at-all:00f067aa0ba902b7:0:1',
    `${TRACE}:0:0:1`,
    `0:${SPAN}:0:1`,
  ]) {
    it(`traceparent + uber-trace-id ${JSON.stringify(uber)}: the traceparent's parent`, {
      skip: !jaegerLine && 'the jaeger propagator exists on the 2.x line only',
    }, () => {
      const tracer = memoryTracer(['tracecontext', 'jaeger']);
      const sc = parentOf(tracer, { traceparent: TP, 'uber-trace-id': uber });
      assert.equal(sc?.traceId, TRACE);
      assert.equal(sc?.spanId, SPAN);
      // Alone, the same header gives no parent (a new trace), as before.
      assert.equal(parentOf(tracer, { 'uber-trace-id': uber }), undefined);
    });
  }

  it('over real HTTP: the server span continues the traceparent despite a broken uber-trace-id', {
    skip: !jaegerLine && 'the jaeger propagator exists on the 2.x line only',
  }, async () => {
    const got = await serverSpanParent(memoryTracer(['tracecontext', 'baggage', 'jaeger']), {
      traceparent: TP,
      'uber-trace-id': 'zz:yy:0:1',
    });
    assert.deepEqual(got, { traceId: TRACE, parent: SPAN });
  });

  it('a valid uber-trace-id after a valid traceparent still wins (later formats win, as in OpenTelemetry)', {
    skip: !jaegerLine && 'the jaeger propagator exists on the 2.x line only',
  }, () => {
    const tracer = memoryTracer(['tracecontext', 'jaeger']);
    const sc = parentOf(tracer, { traceparent: TP, 'uber-trace-id': 'abc:def:0:1' });
    assert.equal(sc?.traceId, `${'0'.repeat(29)}abc`);
    assert.equal(sc?.spanId, `${'0'.repeat(13)}def`);
  });
});

describe('B3 single header: only the B3 format is read', () => {
  const malformed = [
    `xx${TRACE}-${SPAN}-1zz`, // garbage around a valid-looking core
    `${'a'.repeat(48)}-${SPAN}-1`, // a 48-digit trace id (the upstream pattern took its last 32)
    `${TRACE}-${SPAN}-1-${SPAN}-extra`, // a fifth field
    `${TRACE}-${SPAN}-x`, // an unknown sampling state
    `${TRACE}-${SPAN}-1-${SPAN}0`, // a 17-digit parent id
    `${TRACE}x-${SPAN}-1`,
  ];
  for (const b3 of malformed)
    it(`b3: ${JSON.stringify(b3)} is ignored (no parent; a traceparent beside it is used)`, () => {
      const tracer = memoryTracer(['b3']);
      assert.equal(parentOf(tracer, { b3 }), undefined);
      const both = memoryTracer(['tracecontext', 'b3']);
      assert.equal(parentOf(both, { traceparent: TP, b3 })?.spanId, SPAN);
    });

  const valid: [string, string, number][] = [
    [`${TRACE}-${SPAN}`, TRACE, 0],
    [`${TRACE}-${SPAN}-1`, TRACE, 1],
    [`${TRACE}-${SPAN}-d`, TRACE, 1],
    [`${TRACE}-${SPAN}-0-${'1'.repeat(16)}`, TRACE, 0],
    [`a3ce929d0e0e4736-${SPAN}-1`, `${'0'.repeat(16)}a3ce929d0e0e4736`, 1],
    [` ${TRACE}-${SPAN}-1 `, TRACE, 1],
  ];
  for (const [b3, traceId, flags] of valid)
    it(`b3: ${JSON.stringify(b3)} is read`, () => {
      const sc = parentOf(memoryTracer(['b3']), { b3 });
      assert.equal(sc?.traceId, traceId);
      assert.equal(sc?.spanId, SPAN);
      assert.equal(sc?.traceFlags, flags);
    });

  it('over real HTTP: a server span under a garbage b3 header starts a new trace', async () => {
    const got = await serverSpanParent(memoryTracer(['b3']), { b3: `xx${TRACE}-${SPAN}-1zz` });
    assert.equal(got.parent, undefined);
    assert.notEqual(got.traceId, TRACE);
  });
});

describe('carriers of the wrong shape: ignored by every tracer, never thrown', () => {
  const tracers: [string, () => Tracer][] = [
    ['no-op', () => noopTracer],
    ['propagate-only', () => createPropagateOnlyTracer()],
    ['otel memory', () => memoryTracer(['tracecontext', 'baggage'])],
    ['otel none', () => createOtelTracer({ exporter: 'none' })],
  ];
  const carriers: [string, unknown][] = [
    ['null', null],
    ['undefined', undefined],
    ['a string', TP],
    ['a number traceparent', { traceparent: 5 }],
    ['an object traceparent', { traceparent: { toString: () => TP } }],
    ['an array holding a number', { traceparent: [TP, 5] }],
    ['a valid traceparent with a number tracestate', { traceparent: TP, tracestate: 7 }],
  ];
  for (const [name, make] of tracers)
    for (const [what, carrier] of carriers)
      it(`${name}: ${what}`, () => {
        const tracer = make();
        const out = tracer.extract(carrier as Readonly<HeaderCarrier>);
        if (what.startsWith('a valid traceparent')) {
          // The traceparent is read; the tracestate of the wrong type is dropped.
          assert.equal(out.parent?.spanContext().spanId, SPAN);
          assert.equal(out.parent?.spanContext().traceState, undefined);
        } else assert.equal(out.parent, undefined);
        // And through the core helper, as a handler would call it.
        const ctx = createApp({ tracer }).ctx;
        assert.doesNotThrow(() => contextFromHeaders(ctx, carrier as Readonly<HeaderCarrier>));
      });
});

describe('service.name given among the attributes', () => {
  const serviceNameOf = (options: Parameters<typeof createOtelTracer>[0]) => {
    const tracer = createOtelTracer({ exporter: 'memory', ...options });
    tracer.startSpan('x').end();
    return tracer.finishedSpans()[0]!.resource.attributes['service.name'];
  };
  const withEnv = <T>(env: Record<string, string>, fn: () => T): T => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return fn();
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  };

  it('names the service (it went out as unknown_service:node)', () => {
    assert.equal(serviceNameOf({ attributes: { 'service.name': 'checkout' } }), 'checkout');
  });

  it('an option in code: wins over OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', () => {
    withEnv({ OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-list' }, () => {
      assert.equal(serviceNameOf({ attributes: { 'service.name': 'checkout' } }), 'checkout');
      // Without it, the variables keep their documented order.
      assert.equal(serviceNameOf({}), 'from-env');
    });
  });

  it('serviceName wins over it; an empty one does not count', () => {
    assert.equal(
      serviceNameOf({ serviceName: 'explicit', attributes: { 'service.name': 'attr' } }),
      'explicit',
    );
    withEnv({ OTEL_SERVICE_NAME: 'from-env' }, () =>
      assert.equal(serviceNameOf({ attributes: { 'service.name': '' } }), 'from-env'),
    );
  });
});

const skip = skipUnless(['jaeger'], JAEGER_INSTALL_HINT);

describeWithServers('attributes service.name → real Jaeger', skip, () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.stop();
  });

  it('the trace is filed under the configured service, not unknown_service:node', async () => {
    const service = `attr-named-${process.pid}-${Date.now().toString(36)}`;
    const tracer = createOtelTracer({
      exporter: 'otlp',
      endpoint: jaeger.otlpEndpoint,
      attributes: { 'service.name': service },
    });
    const span = tracer.startSpan('work');
    const traceId = span.spanContext().traceId;
    span.end();
    await tracer.close();
    const trace = await waitFor(async () => jaeger.getTrace(traceId), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `trace ${traceId} in Jaeger`,
    });
    assert.deepEqual(
      Object.values(trace.processes).map((p) => p.serviceName),
      [service],
    );
  });
});

describe('span limit variables (OTEL_*_LIMIT): the same limits on both OpenTelemetry lines', () => {
  const limited = (env: Record<string, string>) => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const tracer = createOtelTracer({ exporter: 'memory' });
      const span = tracer.startSpan('x', { attributes: { a: 'abcdefgh', b: 1, c: 2, d: 3 } });
      span.setAttributes({ e: 'x' });
      for (let i = 0; i < 5; i++) span.addEvent(`e${i}`, { k1: 1, k2: 2, k3: 3 });
      span.end();
      return tracer.finishedSpans()[0]!;
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  };

  it(`line ${sdk.line}: attribute count and length, event count, attributes per event`, () => {
    const span = limited({
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '3',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '5',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '2',
      OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '1',
    });
    assert.deepEqual(span.attributes, { a: 'abcde', b: 1, c: 2 });
    assert.equal(span.droppedAttributesCount, 2);
    assert.equal(span.events.length, 2);
    assert.equal(span.droppedEventsCount, 3);
    assert.deepEqual(
      span.events.map((e) => Object.keys(e.attributes ?? {}).length),
      [1, 1],
    );
  });

  it('the general attribute limits apply when the span ones are unset; the span ones win', () => {
    const general = limited({ OTEL_ATTRIBUTE_COUNT_LIMIT: '2' });
    assert.equal(Object.keys(general.attributes).length, 2);
    const both = limited({ OTEL_ATTRIBUTE_COUNT_LIMIT: '2', OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '4' });
    assert.equal(Object.keys(both.attributes).length, 4);
  });

  it(`line ${sdk.line}: OTEL_ATTRIBUTE_COUNT_LIMIT also limits event and link attributes (the specific variables win)`, () => {
    /** Attribute counts kept on the span, on its events and on the links of a span of the same provider. */
    const counts = (env: Record<string, string>) => {
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      try {
        const tracer = createOtelTracer({ exporter: 'memory' });
        const five = { k1: 1, k2: 2, k3: 3, k4: 4, k5: 5 };
        const span = tracer.startSpan('x', { attributes: five });
        span.addEvent('ev', five);
        // Links: through the raw OpenTelemetry tracer on the same provider (the core contract has none).
        const linked = tracer.otelTracer!.startSpan('linked', {
          links: [
            {
              context: {
                traceId: span.spanContext().traceId,
                spanId: span.spanContext().spanId,
                traceFlags: span.spanContext().traceFlags,
              },
              attributes: five,
            },
          ],
        });
        linked.end();
        span.end();
        const [l, x] = [tracer.finishedSpans()[0]!, tracer.finishedSpans()[1]!];
        return {
          span: Object.keys(x.attributes).length,
          event: Object.keys(x.events[0]!.attributes ?? {}).length,
          link: Object.keys(l.links[0]!.attributes ?? {}).length,
        };
      } finally {
        for (const [k, v] of Object.entries(saved))
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
      }
    };
    assert.deepEqual(counts({ OTEL_ATTRIBUTE_COUNT_LIMIT: '2' }), { span: 2, event: 2, link: 2 });
    assert.deepEqual(
      counts({
        OTEL_ATTRIBUTE_COUNT_LIMIT: '2',
        OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '1',
        OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: '3',
      }),
      { span: 2, event: 1, link: 3 },
    );
    // The span's own limit is for the span's attributes only.
    assert.deepEqual(counts({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '2' }), { span: 2, event: 5, link: 5 });
    assert.deepEqual(counts({}), { span: 5, event: 5, link: 5 });
  });

  it('without them: the SDK defaults (128 attributes, no length limit)', () => {
    const span = limited({});
    assert.equal(span.attributes.a, 'abcdefgh');
    assert.equal(Object.keys(span.attributes).length, 5);
    assert.equal(span.events.length, 5);
  });

  it('a bad value is a ConfigError naming the variable', () => {
    for (const bad of ['-1', 'ten', '1.5'])
      assert.throws(
        () => limited({ OTEL_SPAN_EVENT_COUNT_LIMIT: bad }),
        (err: unknown) =>
          err instanceof ConfigError && err.issues.some((i) => i.path === 'OTEL_SPAN_EVENT_COUNT_LIMIT'),
      );
  });
});

describe('reserved trace-flags bits are never sent (W3C: vendors MUST set them to zero)', () => {
  const tracers: [string, () => Tracer, string][] = [
    ['no-op (pass-through)', () => noopTracer, '03'],
    ['otel enabled: false (pass-through)', () => createOtelTracer({ enabled: false }), '03'],
    ['propagate-only', () => createPropagateOnlyTracer(), '03'],
    ['otel none', () => createOtelTracer({ exporter: 'none' }), '03'],
    // -03: the random flag (02) is not reserved and goes on with the trace id (it was dropped: -01).
    ['otel memory', () => memoryTracer(['tracecontext']), '03'],
  ];
  for (const [name, make, flags] of tracers)
    it(`${name}: an incoming -ff goes out as -${flags}`, () => {
      const tracer = make();
      const parent = tracer.extract({ traceparent: `00-${TRACE}-${SPAN}-ff` }).parent;
      assert.ok(parent);
      const headers: Record<string, string> = {};
      tracer.inject(headers, { span: tracer.startSpan('hop', { parent }) });
      assert.match(headers.traceparent ?? '', new RegExp(`^00-${TRACE}-[0-9a-f]{16}-${flags}$`));
    });

  it('no-op tracer over real HTTP: traceHandler → tracedFetch forwards -03, not -ff', async () => {
    const { tracedFetch } = await import('../../lib/tracing/http.js');
    let seen: string | string[] | undefined;
    const downstream = createServer((req, res) => {
      seen = req.headers.traceparent;
      res.end();
    });
    await new Promise<void>((resolve) => downstream.listen(0, '127.0.0.1', resolve));
    const down = `http://127.0.0.1:${(downstream.address() as { port: number }).port}/`;
    const app = createApp({});
    const front = createServer(
      traceHandler(app.ctx, async (ctx, _req, res) => {
        await (await tracedFetch(ctx, down)).arrayBuffer();
        res.end();
      }),
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const port = (front.address() as { port: number }).port;
      await (
        await fetch(`http://127.0.0.1:${port}/`, { headers: { traceparent: `00-${TRACE}-${SPAN}-ff` } })
      ).arrayBuffer();
      assert.equal(seen, `00-${TRACE}-${SPAN}-03`);
    } finally {
      for (const s of [front, downstream]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await app.close();
    }
  });
});

describe('baggage entries with an empty key are not sent (W3C baggage: a key is a token, 1+ characters)', () => {
  // `=value` is a malformed list member: strict receivers (OpenTelemetry Go's baggage.Parse) then
  // drop the whole header, so one such entry lost every other baggage entry downstream.
  for (const [name, tracer] of [
    ['otel (memory)', createOtelTracer({ exporter: 'memory' })],
    ['otel (none)', createOtelTracer({ exporter: 'none' })],
    ['propagate-only', createPropagateOnlyTracer()],
  ] as const)
    it(`${name}: the header a real server receives has only valid members, the others kept`, async () => {
      const seen: (string | undefined)[] = [];
      const server = createServer((req, res) => {
        seen.push(String(req.headers.baggage ?? ''));
        res.end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const app = createApp({ tracer });
      const ctx = app.ctx.with({ baggage: { '': 'lost', tenant: 'acme', region: 'eu' } });
      const res = await tracedFetch(ctx, `http://127.0.0.1:${(server.address() as { port: number }).port}/`);
      await res.text();
      server.close();
      await app.close();
      const header = seen[0] ?? '';
      for (const member of header.split(','))
        assert.match(member.trim(), /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=/, `a token key in ${header}`);
      assert.deepEqual(header.split(',').sort(), ['region=eu', 'tenant=acme']);
    });
});
