/**
 * W3C Trace Context conformance, written from the specification's rules (each case the
 * w3c/trace-context test suite checks has one here): a service built on `traceHandler` +
 * `tracedFetch` receives raw headers over real HTTP and calls back a local "harness" server; the
 * headers of that callback are checked. Run in every mode: sampled, unsampled, `exporter: 'none'`
 * (propagate-only), and with the core no-op tracer for the tracestate rules.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAppFromConfig } from '../../lib/config/index.js';
import { createApp } from '../../lib/core/app.js';
import { noopTracer } from '../../lib/core/noop.js';
import { normalizeTracestate, parseTracestate } from '../../lib/core/tracestate.js';
import { tracedFetch, traceHandler } from '../../lib/tracing/http.js';
import { createOtelTracer } from '../../lib/tracing/otel/index.js';
import { traceStateFrom, W3CTraceState } from '../../lib/tracing/otel/tracecontext.js';
import { createPropagateOnlyTracer } from '../../lib/tracing/propagate-only.js';

const TID = '12345678901234567890123456789012';
const PID = '1234567890123456';
const VALID = `00-${TID}-${PID}-01`;
const VALID_UNSAMPLED = `00-${TID}-${PID}-00`;
const TP = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

type Headers = readonly (readonly [string, string])[];
interface Out {
  traceId: string;
  parentId: string;
  flags: number;
  /** The callback's tracestate, parsed leniently like the suite does (`undefined` = none). */
  state: Map<string, string>;
  raw: IncomingHttpHeaders;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

function parseOut(h: IncomingHttpHeaders): Out {
  const tp = h.traceparent;
  assert.equal(typeof tp, 'string', 'expect exactly one traceparent on the callback');
  const m = TP.exec(tp as string);
  assert.ok(m, `callback traceparent is well-formed: ${tp}`);
  assert.notEqual(m[2], '0'.repeat(32));
  assert.notEqual(m[3], '0'.repeat(16));
  const state = new Map<string, string>();
  const ts = h.tracestate;
  if (typeof ts === 'string')
    for (const member of ts.split(/[ \t]*,[ \t]*/)) {
      if (!member) continue;
      const eq = member.indexOf('=');
      if (!state.has(member.slice(0, eq))) state.set(member.slice(0, eq), member.slice(eq + 1));
    }
  return { traceId: m[2]!, parentId: m[3]!, flags: Number.parseInt(m[4]!, 16), state, raw: h };
}

/** The modes of the suite run: the tracer each uses. */
const MODES = {
  sampled: () => createOtelTracer({ exporter: 'memory', sampleRate: 1 }),
  unsampled: () => createOtelTracer({ exporter: 'memory', sampleRate: 0 }),
  none: () => createOtelTracer({ exporter: 'none' }),
  'propagate-only without OpenTelemetry': () => createPropagateOnlyTracer(),
} as const;

for (const [mode, makeTracer] of Object.entries(MODES)) {
  describe(`W3C Trace Context through traceHandler + tracedFetch (${mode})`, () => {
    const app = createApp({ tracer: makeTracer() });
    const callbacks: IncomingHttpHeaders[] = [];
    const harness = createServer((req, res) => {
      callbacks.push(req.headers);
      req.resume();
      res.end();
    });
    const service = createServer(
      traceHandler(
        app.ctx,
        async (ctx, req, res) => {
          let body = '';
          for await (const chunk of req) body += chunk;
          for (const url of JSON.parse(body) as string[]) await (await tracedFetch(ctx, url)).text();
          res.end('ok');
        },
        { route: '/test' },
      ),
    );
    let harnessUrl = '';
    let serviceUrl = '';
    before(async () => {
      harnessUrl = await listen(harness);
      serviceUrl = await listen(service);
    });
    after(async () => {
      for (const s of [harness, service]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      await app.close();
    });

    /** Sends `headers` (repeats allowed, names as given) and returns the `count` callbacks. */
    const call = async (headers: Headers, count = 1): Promise<Out[]> => {
      callbacks.length = 0;
      const body = JSON.stringify(Array.from({ length: count }, (_, i) => `${harnessUrl}/${i}`));
      await new Promise<void>((resolve, reject) => {
        const req = request(`${serviceUrl}/test`, { method: 'POST' }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        // Repeated headers go out as separate lines (setHeader with an array), names as given.
        const grouped = new Map<string, string[]>();
        for (const [k, v] of headers) grouped.set(k, [...(grouped.get(k) ?? []), v]);
        for (const [k, vs] of grouped) req.setHeader(k, vs.length === 1 ? vs[0]! : vs);
        req.on('error', reject);
        req.end(body);
      });
      assert.equal(callbacks.length, count, 'the service called back');
      return callbacks.map(parseOut);
    };
    const one = async (headers: Headers) => (await call(headers))[0]!;
    const expectNewTrace = async (tp: string) => {
      const out = await one([['traceparent', tp]]);
      assert.notEqual(out.traceId, TID, `"${tp}" must be ignored`);
    };
    const expectContinued = async (tp: string) => {
      const out = await one([['traceparent', tp]]);
      assert.equal(out.traceId, TID, `"${tp}" must be continued`);
      assert.notEqual(out.parentId, PID, 'a new parent id');
    };
    const state = async (...values: string[]) =>
      (await one([['traceparent', VALID_UNSAMPLED], ...values.map((v) => ['tracestate', v] as const)])).state;

    it('no traceparent: a new trace is started and propagated', async () => {
      const out = await one([]);
      assert.notEqual(out.traceId, TID);
    });
    it('valid traceparent: same trace id, new parent id', () => expectContinued(VALID));
    it('two traceparent headers: neither is used', async () => {
      const out = await one([
        ['traceparent', `00-${TID.slice(0, 31)}1-${PID}-01`],
        ['traceparent', VALID],
      ]);
      assert.notEqual(out.traceId, TID);
      assert.notEqual(out.traceId, `${TID.slice(0, 31)}1`);
    });
    it('wrong header names are not traceparent', async () => {
      for (const name of ['trace-parent', 'trace.parent']) {
        const out = await one([[name, VALID]]);
        assert.notEqual(out.traceId, TID, name);
      }
    });
    it('header name casing does not matter', async () => {
      for (const name of ['TRACEPARENT', 'TrAcEpArEnT', 'TraceParent']) {
        const out = await one([[name, VALID]]);
        assert.equal(out.traceId, TID, name);
      }
    });
    it('version 00 with anything after the flags is invalid', async () => {
      await expectNewTrace(`${VALID}.`);
      await expectNewTrace(`${VALID}-what-the-future-will-be-like`);
    });
    it('a future version (cc) is parsed by its first four fields', async () => {
      await expectContinued(`cc-${TID}-${PID}-01`);
      await expectContinued(`cc-${TID}-${PID}-01-what-the-future-will-be-like`);
      await expectNewTrace(`cc-${TID}-${PID}-01.what-the-future-will-be-like`);
    });
    it('version ff, illegal or wrongly sized version is invalid', async () => {
      for (const v of ['ff', '.0', '0.', '000', '0000', '0']) await expectNewTrace(`${v}-${TID}-${PID}-01`);
    });
    it('invalid trace ids are rejected', async () => {
      for (const t of [
        '0'.repeat(32),
        `.${TID.slice(1)}`,
        `${TID.slice(0, 31)}.`,
        `${TID}3`,
        TID.slice(0, 31),
      ]) {
        const out = await one([['traceparent', `00-${t}-${PID}-01`]]);
        assert.notEqual(out.traceId, t);
        assert.notEqual(out.traceId, TID);
      }
    });
    it('invalid parent ids are rejected', async () => {
      for (const p of [
        '0'.repeat(16),
        `.${PID.slice(1)}`,
        `${PID.slice(0, 15)}.`,
        `${PID}7`,
        PID.slice(0, 15),
      ])
        await expectNewTrace(`00-${TID}-${p}-01`);
    });
    it('invalid flags are rejected', async () => {
      for (const f of ['.0', '0.', '001', '1']) await expectNewTrace(`00-${TID}-${PID}-${f}`);
    });
    it('optional whitespace around traceparent is accepted', async () => {
      for (const tp of [` ${VALID}`, `\t${VALID}`, `${VALID} `, `${VALID}\t`, `\t ${VALID} \t`])
        await expectContinued(tp);
    });
    it('tracestate without traceparent is not propagated', async () => {
      const a = await one([['tracestate', 'foo=1']]);
      const b = await one([['tracestate', 'foo=1,bar=2']]);
      assert.equal(a.state.size, 0);
      assert.equal(b.state.size, 0);
    });
    it('tracestate with traceparent is propagated', async () => {
      const out = await one([
        ['traceparent', VALID_UNSAMPLED],
        ['tracestate', 'foo=1,bar=2'],
      ]);
      assert.equal(out.traceId, TID);
      assert.deepEqual(
        [...out.state],
        [
          ['foo', '1'],
          ['bar', '2'],
        ],
      );
    });
    it('wrong tracestate header names are ignored; casing does not matter', async () => {
      for (const name of ['trace-state', 'trace.state']) {
        const out = await one([
          ['traceparent', VALID_UNSAMPLED],
          [name, 'foo=1'],
        ]);
        assert.equal(out.state.has('foo'), false, name);
      }
      for (const name of ['TRACESTATE', 'TrAcEsTaTe', 'TraceState']) {
        const out = await one([
          ['traceparent', VALID_UNSAMPLED],
          [name, 'foo=1'],
        ]);
        assert.equal(out.state.get('foo'), '1', name);
      }
    });
    it('empty tracestate headers', async () => {
      const out = await one([
        ['traceparent', VALID_UNSAMPLED],
        ['tracestate', ''],
      ]);
      assert.equal(out.traceId, TID);
      assert.ok(out.raw.tracestate === undefined || out.raw.tracestate !== '', 'no empty tracestate sent');
      assert.equal((await state('foo=1', '')).get('foo'), '1');
      assert.equal((await state('', 'foo=1')).get('foo'), '1');
    });
    it('several tracestate headers are one list, in order', async () => {
      const s = await state('foo=1,bar=2', 'rojo=1,congo=2', 'baz=3');
      assert.deepEqual([...s.keys()], ['foo', 'bar', 'rojo', 'congo', 'baz']);
    });
    it('duplicated keys: one of them is kept', async () => {
      assert.equal((await state('foo=1,foo=1')).get('foo'), '1');
      assert.ok(['1', '2'].includes((await state('foo=1,foo=2')).get('foo')!));
      assert.equal((await state('foo=1', 'foo=1')).get('foo'), '1');
      assert.ok(['1', '2'].includes((await state('foo=1', 'foo=2')).get('foo')!));
    });
    it('every allowed key and value character passes', async () => {
      const key = `${'abcdefghijklmnopqrstuvwxyz'}0123456789_-*/`;
      let value = '';
      for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
      assert.equal((await state(`${key}=${value}`)).get(key), value);
      assert.equal((await state(`${key}@a-z0-9_-*/=${value}`)).get(`${key}@a-z0-9_-*/`), value);
    });
    it('optional whitespace in tracestate', async () => {
      for (const h of ['foo=1 \t , \t bar=2, \t baz=3', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3']) {
        const s = await state(h);
        assert.deepEqual(
          [...s],
          [
            ['foo', '1'],
            ['bar', '2'],
            ['baz', '3'],
          ],
        );
      }
      for (const h of [' foo=1', '\tfoo=1', 'foo=1 ', 'foo=1\t', '\t foo=1 \t'])
        assert.equal((await state(h)).get('foo'), '1', JSON.stringify(h));
    });
    it('illegal key characters drop the header', async () => {
      for (const h of ['foo =1', 'FOO=1', 'foo.bar=1']) assert.equal((await state(h)).size, 0, h);
    });
    it('at signs: anywhere but first', async () => {
      assert.deepEqual(
        [...(await state('foo@=1,bar=2'))],
        [
          ['foo@', '1'],
          ['bar', '2'],
        ],
      );
      assert.equal((await state('@foo=1,bar=2')).size, 0);
      assert.equal((await state('foo@@bar=1,bar=2')).get('foo@@bar'), '1');
      assert.equal((await state('foo@bar@baz=1,bar=2')).get('foo@bar@baz'), '1');
    });
    it('32 members pass, 33 drop the header', async () => {
      const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i + 1}`);
      const s32 = await state(members.slice(0, 10).join(','), members.slice(10, 32).join(','));
      assert.equal(s32.size, 32);
      assert.equal((await state(members.slice(0, 10).join(','), members.slice(10).join(','))).size, 0);
    });
    it('keys up to 256 characters, with or without at signs', async () => {
      for (const key of [
        'z'.repeat(256),
        `${'t'.repeat(241)}@${'v'.repeat(14)}`,
        `${'t'.repeat(242)}@v`,
        `t@${'v'.repeat(15)}`,
      ]) {
        const s = await state('foo=1', `${key}=1`);
        assert.equal(s.get('foo'), '1');
        assert.equal(s.get(key), '1');
      }
      assert.equal((await state('foo=1', `${'z'.repeat(257)}=1`)).size, 0);
    });
    it('illegal values drop the header', async () => {
      assert.equal((await state('foo=bar=baz')).size, 0);
      assert.equal((await state('foo=,bar=3')).size, 0);
    });
    it('several calls: same trace id, a new parent id each', async () => {
      for (const headers of [
        [['traceparent', VALID]],
        [],
        [['traceparent', `00-${'0'.repeat(32)}-${PID}-01`]],
      ] as Headers[]) {
        const outs = await call(headers, 3);
        assert.equal(new Set(outs.map((o) => o.traceId)).size, 1);
        assert.equal(new Set(outs.map((o) => o.parentId)).size, 3);
        if (headers.length === 1 && headers[0]![1] === VALID) assert.equal(outs[0]!.traceId, TID);
      }
    });
    it('the sampled flag follows the parent; a new trace follows the sample rate', async () => {
      assert.equal((await one([['traceparent', VALID]])).flags & 1, 1);
      assert.equal((await one([['traceparent', VALID_UNSAMPLED]])).flags & 1, 0);
      assert.equal((await one([])).flags & 1, mode === 'unsampled' ? 0 : 1);
    });
    // Level 2 (the suite's TraceContext2Test): the random flag received goes on with the trace id.
    // The OpenTelemetry tracer lost it (the SDK sets a span's flags from its sampling decision alone).
    it('the Level 2 random flag of the parent goes on, with or without the sampled flag', async () => {
      for (const [flags, sampledOut] of [
        ['02', 0],
        ['03', 1],
      ] as const) {
        const out = await one([['traceparent', `00-${TID}-${PID}-${flags}`]]);
        assert.equal(out.traceId, TID);
        assert.notEqual(out.parentId, PID);
        assert.equal(out.flags, 2 | sampledOut, `-${flags} went out as -0${out.flags}`);
      }
      // Not set where the parent did not set it (this service did not draw that trace id).
      assert.equal((await one([['traceparent', VALID]])).flags, 1);
      assert.equal((await one([['traceparent', VALID_UNSAMPLED]])).flags, 0);
    });
  });
}

describe('exporter none from a config file', () => {
  it('is the propagate-only tracer, built without OpenTelemetry; OTEL_TRACES_EXPORTER=none too', async () => {
    for (const [tracing, env] of [
      [{ exporter: 'none' }, {}],
      [{}, { OTEL_TRACES_EXPORTER: 'none' }],
    ] as const) {
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const app = await createAppFromConfig({ tracing } as never);
        assert.equal('provider' in app.tracer, false, 'not an OtelTracer');
        const parent = app.tracer.extract({ traceparent: VALID, tracestate: 'a=1', baggage: 'k=v%20w' });
        const child = app.tracer.startSpan('x', { parent: parent.parent });
        assert.deepEqual(parent.baggage, { k: 'v w' });
        const out: Record<string, string> = {};
        app.tracer.inject(out, { span: child, baggage: parent.baggage });
        assert.match(out.traceparent!, new RegExp(`^00-${TID}-[0-9a-f]{16}-01$`));
        assert.notEqual(out.traceparent!.split('-')[2], PID);
        assert.equal(out.tracestate, 'a=1');
        assert.equal(out.baggage, 'k=v%20w');
        const root = app.tracer.startSpan('root');
        assert.equal(root.spanContext().traceFlags, 1);
        await app.close();
      } finally {
        process.env = saved;
      }
    }
  });
});

describe('OTEL_SDK_DISABLED that is not true or false, propagate-only tracer from a config file', () => {
  it("is read as false with one warning on the app's logger (it went unreported on this path)", async () => {
    const saved = { ...process.env };
    process.env.OTEL_SDK_DISABLED = '1';
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(msg: string) {
        warnings.push(msg);
      },
      error() {},
    };
    try {
      const app = await createAppFromConfig({ tracing: { exporter: 'none' } } as never, {
        logger: logger as never,
      });
      assert.equal('provider' in app.tracer, false, 'the propagate-only tracer');
      assert.equal(app.tracer.startSpan('root').spanContext().traceFlags, 1, 'tracing stays enabled');
      assert.equal(warnings.filter((w) => w.includes('OTEL_SDK_DISABLED')).length, 1, warnings.join('\n'));
      await app.close();
    } finally {
      process.env = saved;
    }
  });
});

describe('tracestate parsing (lib/core/tracestate.ts)', () => {
  it('returns the members, [] for absent or empty, undefined for invalid', () => {
    assert.deepEqual(parseTracestate('a=1, b=2'), [
      ['a', '1'],
      ['b', '2'],
    ]);
    assert.deepEqual(parseTracestate(undefined), []);
    assert.deepEqual(parseTracestate(' , '), []);
    assert.deepEqual(parseTracestate(['a=1', 'b=2']), [
      ['a', '1'],
      ['b', '2'],
    ]);
    assert.equal(parseTracestate('a'), undefined);
    assert.equal(parseTracestate('=1'), undefined);
    assert.equal(parseTracestate(`a=${'x'.repeat(257)}`), undefined);
    assert.deepEqual(parseTracestate(`a=${'x'.repeat(256)}`)?.[0]?.[1]?.length, 256);
    assert.deepEqual(parseTracestate('a= x'), [['a', ' x']], 'leading spaces belong to the value');
    assert.equal(parseTracestate('a=\u00e9'), undefined, 'non-ASCII');
  });
  it('normalizeTracestate: the header to pass on, or nothing', () => {
    assert.equal(normalizeTracestate('a=1 ,\tb=2'), 'a=1,b=2');
    assert.equal(normalizeTracestate('a=1,A=2'), undefined);
    assert.equal(normalizeTracestate(''), undefined);
  });
  it('the no-op tracer drops an invalid tracestate and keeps a valid one', () => {
    const tp = { traceparent: VALID };
    assert.equal(
      noopTracer.extract({ ...tp, tracestate: 'a=1,@b=2' }).parent?.spanContext().traceState,
      undefined,
    );
    assert.equal(
      noopTracer.extract({ ...tp, tracestate: 'a=1, b@=2' }).parent?.spanContext().traceState,
      'a=1,b@=2',
    );
  });
  it('W3CTraceState: set moves a key first, drops the right-most past 32, ignores invalid input', () => {
    const s = traceStateFrom('a=1,b=2')!;
    assert.equal(s.set('b', '3').serialize(), 'b=3,a=1');
    assert.equal(s.set('B', '3'), s);
    assert.equal(s.unset('a').serialize(), 'b=2');
    assert.equal(s.get('a'), '1');
    const full = new W3CTraceState(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'] as const));
    const next = full.set('new', 'v').serialize().split(',');
    assert.equal(next.length, 32);
    assert.equal(next[0], 'new=v');
    assert.ok(!next.includes('k31=v'));
    assert.equal(traceStateFrom('a=1,,@'), undefined);
  });
});
